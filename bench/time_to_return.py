"""Wall time to reach a return threshold: jaxrl with 8 seeds trained in one compiled call vs 8 sequential runs
of the peer (rejax; Stable-Baselines3, with sb3-contrib's TRPO; sbx), for PPO, TRPO, DQN and SAC, with jaxrl's
presets on every side.

    .venv/bin/python bench/time_to_return.py [--cases "DQN CartPole-v1" ...] [--peers rejax sb3 sbx] [--quick]
    .venv/bin/python bench/time_to_return.py --cases "DQN CartPole-v1" --set algo.hidden_sizes=[64,64] --out F
    .venv/bin/python bench/time_to_return.py --cases "DQN CartPole-v1" --out F \
        --merge-into bench/results/time-to-return-cpu.json --reason "the preset changed"   # re-run one case

The rule is the same on every side: every `log_steps` env steps of a seed (one rollout for PPO and TRPO), the mean
return of the training episodes that ended in the trailing `window_steps` env steps; a seed has reached the
threshold (CartPole-v1 475, Pendulum-v1 -250) at the first such point where that mean is >= threshold. The
time is the host clock there (a host callback on the JAX sides, an SB3 callback for SB3/sbx) minus the start
of the run, compilation excluded:
  jaxrl: one call trains all 8 seeds; time = when the last seed reaches the threshold.
  peer:  8 runs one after another; time = sum over seeds of each run's time to its threshold (as if
         each run were stopped right there: SB3 is, rejax runs its budget inside one jit and is read).
A seed that never reaches the threshold within the budget (the preset's total_env_steps) counts its whole
run, and the tables say how many seeds reached it.
jaxrl's checks follow its logger (log_every = K iterations): after iterations 1, K+1, 2K+1, ..., so with K > 1
each comes one iteration after a peer's (10 env steps of a seed for DQN, 1 for SAC); PPO's K is 1, and its
checks fall after every rollout on every side.
Per case (CASES): the window is 20,480 env steps (DQN, checked every 1,000 steps: the latest 21 checks, about 42
episodes of 500 steps at the threshold), except for
SAC, whose whole Pendulum run is 20,000 steps of one env: 2,000 there (10 episodes). Where a peer cannot
match a setting of the preset, the result file lists how it differs (offpolicy_peers.peer_differences for
DQN and SAC, ppo_peers.onpolicy_differences for PPO and TRPO).
Median of --repeats; writes bench/results/time-to-return-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (TORCH_THREADS, add_merge_args, bar_plots, check_merge_args, merge_run, provenance,  # noqa: E402
                    run_peer, steps_to_threshold, write_cases)
from offpolicy_peers import peer_differences, rejax_kwargs, sb3_kwargs  # noqa: E402
from ppo_peers import onpolicy_differences, rejax_ppo_kwargs, sb3_onpolicy_kwargs  # noqa: E402

# log_steps: env steps per seed between the points where the rule is checked (None: every iteration).
# SB3 trains PPO on Pendulum at ~10 epochs x 32 minibatches per 4096 steps on the CPU: 8 sequential runs x 3
# repeats would take the better part of an hour, so it is opt-in there (--peers rejax sb3).
CASES = {
    "PPO CartPole-v1": {"threshold": 475.0, "window_steps": 20_480, "log_steps": None, "peers": ["rejax", "sb3"]},
    "PPO Pendulum-v1": {"threshold": -250.0, "window_steps": 20_480, "log_steps": None, "peers": ["rejax"]},
    "DQN CartPole-v1": {"threshold": 475.0, "window_steps": 20_480, "log_steps": 1_000, "peers": ["rejax", "sb3"]},
    "SAC Pendulum-v1": {"threshold": -250.0, "window_steps": 2_000, "log_steps": 100,
                        "peers": ["rejax", "sb3", "sbx"]},
    # SB3's TRPO is sb3-contrib's; rejax and sbx have none
    "TRPO CartPole-v1": {"threshold": 475.0, "window_steps": 20_480, "log_steps": None, "peers": ["sb3"]},
}


def load(case: str, num_seeds: int, overrides=()):
    """jaxrl's preset for a case (then `overrides`, key=value), logging (one host callback) every log_steps
    env steps of a seed."""
    from jaxrl.config import load_config

    algo, env_id = case.split()
    config = load_config([f"algo={algo.lower()}", f"env=gymnax/{env_id}", f"num_seeds={num_seeds}", *overrides])
    per_step = config.algo_config.steps_per_iteration()
    log_steps = CASES[case]["log_steps"] or per_step
    assert log_steps % per_step == 0, (case, log_steps, per_step)
    return dataclasses.replace(config, log_every=log_steps // per_step), log_steps


def judge(runs: list[dict], threshold: float, window: int) -> dict:
    """Per run (one seed): time and steps to threshold, or its whole run when never reached."""
    seeds = []
    for run in runs:
        steps, i = steps_to_threshold(run["steps"], run["episode_return_sums"], run["episode_counts"],
                                      threshold, window)
        seeds.append({"seed": run["seed"], "reached": i is not None, "steps": steps,
                      "seconds": run["times"][i] if i is not None else run["wall_seconds"]})
    return {"seeds": seeds, "reached": sum(s["reached"] for s in seeds)}


def ours(case: str, config, repeats: int) -> dict:
    import jax

    from jaxrl.core.train import make_train_many

    c = CASES[case]
    seeds = config.num_seeds
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
        # per-iteration episode tallies, summed over the iterations up to each logged one
        logged = sorted(stamps)
        at_log = [np.diff(np.cumsum(np.asarray(out.metrics[k]), axis=1)[:, logged], axis=1, prepend=0.0)
                  for k in ("episode_return_sum", "episode_count")]
        times = [stamps[i] - start for i in logged]
        steps = [(i + 1) * per_step for i in logged]
        runs = [{"seed": s, "steps": steps, "times": times, "wall_seconds": wall, "episode_return_sums": at_log[0][s],
                 "episode_counts": at_log[1][s]} for s in range(seeds)]
        j = judge(runs, c["threshold"], c["window_steps"])
        j["seconds"] = max(s["seconds"] for s in j["seeds"])
        j["wall_seconds"] = wall
        j["checks"] = len(logged)
        passes.append(j)
        print(f"  jaxrl pass {r}: {j['seconds']:.1f}s to threshold ({j['reached']}/{seeds} seeds), wall {wall:.1f}s",
              flush=True)
    return {"passes": passes, "seconds": statistics.median(p["seconds"] for p in passes),
            "compile_seconds": compile_s, "budget_env_steps_per_seed": config.total_env_steps,
            "config": dict(vars(config.algo_config))}


def peer_request(peer: str, case: str, config, log_steps: int, seeds: list[int]) -> dict:
    c, a = CASES[case], config.algo_config
    algo, env_id = case.split()[0].lower(), case.split()[1]
    budget = config.total_env_steps

    def sb3_request(kwargs: dict, warmup: int, **extra) -> dict:
        return {"mode": "time_to_return", "lib": peer, "algo": algo, "env": env_id, "n_envs": a.num_envs,
                "seeds": seeds, "threshold": c["threshold"], "window_steps": c["window_steps"],
                "log_steps": log_steps, "kwargs": kwargs, "total_timesteps": budget, "warmup_timesteps": warmup,
                "torch_threads": TORCH_THREADS, **extra}

    if algo not in ("ppo", "trpo"):
        s = dict(vars(a))
        if peer == "rejax":
            kwargs = rejax_kwargs(algo, s, budget, a.hidden_sizes, a.activation, eval_freq=log_steps)
            return {"mode": "time_to_return", "algo": algo, "env": env_id, "seeds": seeds, "kwargs": kwargs}
        return sb3_request(*sb3_kwargs(peer, algo, s, a.hidden_sizes, a.activation))
    if algo == "trpo" and peer != "sb3":
        raise ValueError(f"{peer} has no TRPO; sb3 (sb3-contrib's) does")
    if peer == "rejax":
        kwargs = dict(rejax_ppo_kwargs(a), total_timesteps=budget, eval_freq=log_steps)
        return {"mode": "time_to_return", "algo": "ppo", "env": env_id, "seeds": seeds, "kwargs": kwargs}
    return sb3_request(sb3_onpolicy_kwargs(algo, a), 2 * a.num_envs * a.rollout_length,
                       anneal_lr=getattr(a, "anneal_lr", False), normalize_obs=a.normalize_obs,
                       reward_scale=a.reward_scale)


def peer(name: str, case: str, config, log_steps: int, repeats: int) -> dict:
    c, seeds = CASES[case], config.num_seeds
    venv, worker = ("rejax", "rejax_worker.py") if name == "rejax" else ("sb3", "sb3_worker.py")
    passes = []
    for r in range(repeats):
        request = peer_request(name, case, config, log_steps, [r * 100 + s for s in range(seeds)])
        out = run_peer(venv, worker, request)
        j = judge(out["runs"], c["threshold"], c["window_steps"])
        j["seconds"] = sum(s["seconds"] for s in j["seeds"])
        j["wall_seconds"] = sum(run["wall_seconds"] for run in out["runs"])
        j["versions"] = out.get("versions")
        passes.append(j)
        print(f"  {name} pass {r}: {j['seconds']:.1f}s to threshold ({j['reached']}/{seeds} seeds), "
              f"wall {j['wall_seconds']:.1f}s", flush=True)
    algo = case.split()[0].lower()
    differences = (onpolicy_differences(algo, name, config.algo_config) if algo in ("ppo", "trpo") else
                   peer_differences(algo, dict(vars(config.algo_config)), name, config.algo_config.hidden_sizes))
    return {"passes": passes, "seconds": statistics.median(p["seconds"] for p in passes), "request": request,
            "differences": differences}


def plot(result: dict, path: Path) -> None:
    bar_plots(result, path, "seconds", f"seconds until all {result['num_seeds']} seeds reach the threshold",
              lambda case: f"{case} to {result['cases'][case]['threshold']:g}", lambda v: f"{v:.1f}s",
              "Time to return")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--peers", nargs="*", default=None, choices=["rejax", "sb3", "sbx"],
                   help="default: each case's peers in CASES (SB3 is opt-in for PPO on Pendulum-v1)")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="2 seeds, 1 repeat")
    p.add_argument("--budget", type=int, default=None,
                   help="env steps per seed on every side, in place of the presets' (for smoke runs)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides on every case's preset, e.g. algo.hidden_sizes=[64,64]. The peers get "
                        "the fields that their mapping covers (peer_request, offpolicy_peers.rejax_kwargs and "
                        "sb3_kwargs); others change jaxrl alone. Results go to a file of their own (--out)")
    p.add_argument("--out", default=None)
    add_merge_args(p)
    args = p.parse_args()
    overrides = ([f"total_env_steps={args.budget}"] if args.budget else []) + args.set
    if args.set and not args.out:
        p.error("--set changes the presets: name a result file with --out, so the README's table stays the presets'")
    check_merge_args(p, args, "set", "budget")
    seeds, repeats = (2, 1) if args.quick else (args.seeds, args.repeats)

    results, cases = {}, {}
    for case in args.cases:
        c = CASES[case]
        config, log_steps = load(case, seeds, overrides)
        print(f"{case}: threshold {c['threshold']}, budget {config.total_env_steps} env steps per seed, "
              f"checked every {log_steps} env steps over the trailing {c['window_steps']}", flush=True)
        rows = {f"jaxrl ({seeds} seeds, one call)": ours(case, config, repeats)}
        for name in (c["peers"] if args.peers is None else args.peers):
            rows[f"{name} ({seeds} sequential runs)"] = peer(name, case, config, log_steps, repeats)
        ours_s = next(iter(rows.values()))["seconds"]
        for name, row in rows.items():
            row["this_over_jaxrl"] = row["seconds"] / ours_s
            print(f"{case:16s} {name:32s} {row['seconds']:8.1f}s  ({row['this_over_jaxrl']:.2f}x jaxrl's time)",
                  flush=True)
        results[case] = rows
        cases[case] = dict(CASES[case], budget_env_steps_per_seed=config.total_env_steps)
        path, result = write_cases("time-to-return", lambda: provenance(
            benchmark="time_to_return", cases=cases, num_seeds=seeds, repeats=repeats,
            quick=args.quick or bool(args.budget), budget=args.budget, overrides=args.set, results=results),
            args.cases, results, args.out, args.quick or bool(args.budget))
    plot(result, path.with_suffix(".png"))
    merge_run(args, result, plot)


if __name__ == "__main__":
    main()
