"""Wall time to reach a return threshold: jaxrl's PPO with 8 seeds trained in one compiled call vs 8
sequential runs of the peer (rejax; Stable-Baselines3), same hyperparameters (jaxrl's presets).

    .venv/bin/python bench/time_to_return.py [--envs CartPole-v1 Pendulum-v1] [--peers rejax sb3] [--quick]

The rule is the same on every side: after every rollout, the mean return of the training episodes that
ended in the trailing --window-steps env steps; a seed has reached the threshold (CartPole-v1 475,
Pendulum-v1 -250) at the first rollout where that mean is >= threshold. The time is the host clock at
that rollout (a host callback on the JAX sides, an SB3 callback for SB3) minus the start of the run,
compilation excluded:
  jaxrl: one call trains all 8 seeds; time = when the last seed reaches the threshold.
  peer:  8 runs one after another; time = sum over seeds of each run's time to its threshold (as if
         each run were stopped right there: SB3 is, rejax runs its budget inside one jit and is read).
A seed that never reaches the threshold within the budget counts its whole run and is reported.
Median of --repeats; writes bench/results/time-to-return-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import TORCH_THREADS, bar_plots, provenance, run_peer, steps_to_threshold, write_result  # noqa: E402

THRESHOLD = {"CartPole-v1": 475.0, "Pendulum-v1": -250.0}
# SB3 trains PPO on Pendulum at ~10 epochs x 32 minibatches per 4096 steps on the CPU: 8 sequential runs x 3
# repeats would take the better part of an hour, so it is opt-in there (--peers rejax sb3).
DEFAULT_PEERS = {"CartPole-v1": ["rejax", "sb3"], "Pendulum-v1": ["rejax"]}
HIDDEN = [64, 64]


def load(env_id: str, budget: int | None, num_seeds: int):
    from jaxrl.config import load_config

    over = ["algo=ppo", f"env=gymnax/{env_id}", f"num_seeds={num_seeds}", "log_every=1"]
    return load_config(over + ([f"total_env_steps={budget}"] if budget else []))


def judge(runs: list[dict], threshold: float, window: int) -> dict:
    """Per run (one seed): time and steps to threshold, or its whole run when never reached."""
    seeds = []
    for run in runs:
        steps, i = steps_to_threshold(run["steps"], run["episode_return_sums"], run["episode_counts"],
                                      threshold, window)
        seeds.append({"seed": run["seed"], "reached": i is not None, "steps": steps,
                      "seconds": run["times"][i] if i is not None else run["wall_seconds"]})
    return {"seeds": seeds, "reached": sum(s["reached"] for s in seeds)}


def ours(env_id: str, budget, seeds: int, threshold: float, window: int, repeats: int) -> dict:
    import jax

    from jaxrl.core.train import make_train_many

    config = load(env_id, budget, seeds)
    stamps = {}

    class Clock:
        def log(self, it, host):
            stamps[int(it)] = time.perf_counter()

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    t0 = time.perf_counter()
    compiled = jax.jit(make_train_many(config, logger=Clock())).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    per_step = config.algo_config.steps_per_iteration()
    passes = []
    for r in range(repeats):
        keys = jax.random.split(jax.random.PRNGKey(r), seeds)
        stamps.clear()
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(keys))
        wall = time.perf_counter() - start
        sums, counts = np.asarray(out.metrics["episode_return_sum"]), np.asarray(out.metrics["episode_count"])
        times = [stamps[i] - start for i in range(sums.shape[1])]
        steps = [(i + 1) * per_step for i in range(sums.shape[1])]
        runs = [{"seed": s, "steps": steps, "times": times, "wall_seconds": wall, "episode_return_sums": sums[s],
                 "episode_counts": counts[s]} for s in range(seeds)]
        j = judge(runs, threshold, window)
        j["seconds"] = max(s["seconds"] for s in j["seeds"])
        j["wall_seconds"] = wall
        passes.append(j)
        print(f"  jaxrl pass {r}: {j['seconds']:.1f}s to threshold ({j['reached']}/{seeds} seeds), wall {wall:.1f}s",
              flush=True)
    return {"passes": passes, "seconds": statistics.median(p["seconds"] for p in passes),
            "compile_seconds": compile_s, "budget_env_steps_per_seed": config.total_env_steps,
            "config": {k: v for k, v in vars(config.algo_config).items()}}


def peer_request(peer: str, env_id: str, config, seeds: list[int], threshold: float, window: int) -> dict:
    a = config.algo_config
    batch = a.num_envs * a.rollout_length
    if peer == "rejax":
        kwargs = {"num_envs": a.num_envs, "num_steps": a.rollout_length, "num_epochs": a.num_epochs,
                  "num_minibatches": a.num_minibatches, "total_timesteps": config.total_env_steps,
                  "learning_rate": a.lr, "gamma": a.gamma, "gae_lambda": a.gae_lambda, "clip_eps": a.clip_eps,
                  "vf_coef": a.vf_coef, "ent_coef": a.ent_coef, "max_grad_norm": a.max_grad_norm,
                  "eval_freq": batch, "normalize_observations": a.normalize_obs,
                  # rejax has no reward scale; its reward normalisation is the nearest option
                  "normalize_rewards": a.reward_scale != 1.0,
                  "agent_kwargs": {"activation": a.activation, "hidden_layer_sizes": list(a.hidden_sizes)}}
        return {"mode": "time_to_return", "algo": "ppo", "env": env_id, "seeds": seeds, "kwargs": kwargs}
    kwargs = {"n_steps": a.rollout_length, "batch_size": batch // a.num_minibatches, "n_epochs": a.num_epochs,
              "learning_rate": a.lr, "gamma": a.gamma, "gae_lambda": a.gae_lambda, "clip_range": a.clip_eps,
              "vf_coef": a.vf_coef, "ent_coef": a.ent_coef, "max_grad_norm": a.max_grad_norm,
              "activation": a.activation, "policy_kwargs": {"net_arch": {"pi": list(a.hidden_sizes),
                                                                          "vf": list(a.hidden_sizes)}}}
    return {"mode": "time_to_return", "lib": peer, "algo": "ppo", "env": env_id, "n_envs": a.num_envs,
            "seeds": seeds, "threshold": threshold, "window_steps": window, "kwargs": kwargs,
            "total_timesteps": config.total_env_steps, "warmup_timesteps": 2 * batch, "torch_threads": TORCH_THREADS,
            "anneal_lr": a.anneal_lr, "normalize_obs": a.normalize_obs, "reward_scale": a.reward_scale}


def peer(name: str, env_id: str, config, seeds: int, threshold: float, window: int, repeats: int) -> dict:
    venv, worker = ("rejax", "rejax_worker.py") if name == "rejax" else ("sb3", "sb3_worker.py")
    passes = []
    for r in range(repeats):
        seed_list = [r * 100 + s for s in range(seeds)]
        out = run_peer(venv, worker, peer_request(name, env_id, config, seed_list, threshold, window))
        j = judge(out["runs"], threshold, window)
        j["seconds"] = sum(s["seconds"] for s in j["seeds"])
        j["wall_seconds"] = sum(run["wall_seconds"] for run in out["runs"])
        j["versions"] = out.get("versions")
        passes.append(j)
        print(f"  {name} pass {r}: {j['seconds']:.1f}s to threshold ({j['reached']}/{seeds} seeds), "
              f"wall {j['wall_seconds']:.1f}s", flush=True)
    return {"passes": passes, "seconds": statistics.median(p["seconds"] for p in passes)}


def plot(result: dict, path: Path) -> None:
    bar_plots(result, path, "seconds", f"seconds until all {result['num_seeds']} seeds reach the threshold",
              lambda env_id: f"PPO {env_id} to {THRESHOLD[env_id]:g}", lambda v: f"{v:.1f}s", "Time to return")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=list(THRESHOLD), choices=list(THRESHOLD))
    p.add_argument("--peers", nargs="*", default=None, choices=["rejax", "sb3", "sbx"],
                   help="default: rejax and sb3 on CartPole-v1, rejax on Pendulum-v1 (see DEFAULT_PEERS)")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--window-steps", type=int, default=20480)
    p.add_argument("--quick", action="store_true", help="2 seeds, 1 repeat")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    seeds, repeats = (2, 1) if args.quick else (args.seeds, args.repeats)

    results = {}
    for env_id in args.envs:
        threshold = THRESHOLD[env_id]
        config = load(env_id, None, seeds)
        print(f"{env_id}: threshold {threshold}, budget {config.total_env_steps} env steps per seed", flush=True)
        rows = {f"jaxrl ({seeds} seeds, one call)": ours(env_id, None, seeds, threshold, args.window_steps,
                                                           repeats)}
        for name in (DEFAULT_PEERS[env_id] if args.peers is None else args.peers):
            rows[f"{name} ({seeds} sequential runs)"] = peer(name, env_id, config, seeds, threshold,
                                                              args.window_steps, repeats)
        ours_s = next(iter(rows.values()))["seconds"]
        for name, row in rows.items():
            row["this_over_jaxrl"] = row["seconds"] / ours_s
            print(f"{env_id:12s} {name:32s} {row['seconds']:8.1f}s  ({row['this_over_jaxrl']:.2f}x jaxrl's time)",
                  flush=True)
        results[env_id] = rows
    result = provenance(benchmark="time_to_return", thresholds=THRESHOLD, window_steps=args.window_steps,
                        num_seeds=seeds, repeats=repeats, quick=args.quick, results=results)
    path = write_result("time-to-return", result, args.out, quick=args.quick)
    plot(result, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
