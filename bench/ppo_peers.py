"""On-policy training throughput side by side, same device, same run: PPO vs rejax, Stable-Baselines3 and
sbx; A2C vs Stable-Baselines3 (the peers that have it).

    .venv/bin/python bench/ppo_peers.py [--cases "PPO CartPole-v1" ...] [--peers rejax sb3 sbx] [--quick]

Equal settings on every side (table CASES): num_envs, rollout length, epochs, minibatch size (PPO;
A2C: one RMSProp step per rollout on n-step returns, as SB3's A2C), (64, 64) tanh actor and critic, no
observation or reward normalisation, the same number of env steps. jaxrl and
rejax run gymnax's envs (same jax/XLA version); SB3 and sbx run gymnasium's, in a DummyVecEnv. Each side:
median of --repeats timed calls after compilation (sbx: after a warm-up `learn`), compile time apart, in
each of --rounds rounds. A round runs every side in turn (jaxrl's program is compiled once; each peer
runs in a fresh worker process), so slow spells of a shared machine fall on all sides; a row reports the
median over rounds, and its ratio is the median of the per-round ratios.
jaxrl is also timed with 8 seeds vmapped in one call (steps/s counts every seed's steps).
Peers run in their own venvs under .venv-peers/ (made on first use, see bench/common.py).
Writes bench/results/ppo-peers-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import bar_plots, compile_timed, median_time, provenance, run_peer, write_result  # noqa: E402

CASES = {
    "PPO CartPole-v1": {"num_envs": 16, "rollout_length": 128, "num_epochs": 4, "num_minibatches": 4,
                        "iterations": 32, "peers": ["rejax", "sb3", "sbx"]},
    "PPO Pendulum-v1": {"num_envs": 16, "rollout_length": 256, "num_epochs": 10, "num_minibatches": 32,
                        "iterations": 16, "peers": ["rejax", "sb3", "sbx"]},
    # rejax and sbx have no A2C
    "A2C CartPole-v1": {"num_envs": 16, "rollout_length": 5, "iterations": 800, "peers": ["sb3"]},
}
HIDDEN = [64, 64]


def ours(algo: str, env_id: str, s: dict, steps: int, num_seeds: int, repeats: int):
    """jaxrl's training program, compiled once; returns a function that times `repeats` calls of it."""
    import jax

    from jaxrl.config import load_config
    from jaxrl.core.train import make_train_many

    over = [f"env=gymnax/{env_id}", f"algo={algo}", f"algo.num_envs={s['num_envs']}",
            f"algo.rollout_length={s['rollout_length']}", "algo.normalize_obs=false",
            f"total_env_steps={steps}", f"num_seeds={num_seeds}"]
    if algo == "ppo":
        over += [f"algo.num_epochs={s['num_epochs']}", f"algo.num_minibatches={s['num_minibatches']}"]
    else:  # a2c: n-step returns over the whole rollout, RMSProp, as SB3's A2C
        over += [f"algo.n_steps={s['rollout_length']}", "algo.optimizer=rmsprop"]
    config = load_config(over)
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    call, info = compile_timed(make_train_many(config), keys)

    def timed() -> dict:
        seconds, times = median_time(call, repeats)
        return dict(info, seconds=seconds, times=times, env_steps=steps * num_seeds)

    return timed


def rejax_request(env_id: str, s: dict, steps: int, repeats: int) -> dict:
    return {"mode": "throughput", "algo": "ppo", "env": env_id, "repeats": repeats, "seed": 0,
            "kwargs": {"num_envs": s["num_envs"], "num_steps": s["rollout_length"], "num_epochs": s["num_epochs"],
                       "num_minibatches": s["num_minibatches"], "total_timesteps": steps,
                       "agent_kwargs": {"activation": "tanh", "hidden_layer_sizes": HIDDEN}}}


def sb3_request(lib: str, algo: str, env_id: str, s: dict, steps: int, repeats: int) -> dict:
    batch = s["num_envs"] * s["rollout_length"]
    kwargs = {"n_steps": s["rollout_length"], "activation": "tanh",
              "policy_kwargs": {"net_arch": {"pi": HIDDEN, "vf": HIDDEN}}}
    if algo == "ppo":
        kwargs.update(batch_size=batch // s["num_minibatches"], n_epochs=s["num_epochs"])
    return {"mode": "throughput", "lib": lib, "algo": algo, "env": env_id, "n_envs": s["num_envs"],
            "repeats": repeats, "total_timesteps": steps, "warmup_timesteps": max(2 * batch, 1024),
            "kwargs": kwargs}


def plot(result: dict, path: Path) -> None:
    bar_plots(result, path, "steps_per_second", "env steps / s", lambda case: case,
              lambda v: f"{v:,.0f}", "On-policy training throughput")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--peers", nargs="*", default=["rejax", "sb3", "sbx"], choices=["rejax", "sb3", "sbx"],
                   help="peers to run, where a case has them")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per side per round (median)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; each runs every side in turn (peers in a fresh worker process)")
    p.add_argument("--seeds-in-one-call", type=int, default=8)
    p.add_argument("--quick", action="store_true", help="a quarter of the iterations, 1 repeat (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    repeats = 1 if args.quick else args.repeats
    rounds = 1 if args.quick else args.rounds

    results = {}
    for case in args.cases:
        s = CASES[case]
        algo, env_id = case.split()[0].lower(), case.split()[1]
        iterations = max(2, s["iterations"] // 4) if args.quick else s["iterations"]
        steps = s["num_envs"] * s["rollout_length"] * iterations
        sides = {"jaxrl": ours(algo, env_id, s, steps, 1, repeats)}
        if args.seeds_in_one_call > 1:
            sides[f"jaxrl x{args.seeds_in_one_call} seeds"] = ours(algo, env_id, s, steps, args.seeds_in_one_call,
                                                                   repeats)
        for peer in [p for p in args.peers if p in s["peers"]]:
            if peer == "rejax":
                venv, worker, request = "rejax", "rejax_worker.py", rejax_request(env_id, s, steps, repeats)
            else:
                venv, worker, request = "sb3", "sb3_worker.py", sb3_request(peer, algo, env_id, s, steps, repeats)
            sides[peer] = functools.partial(run_peer, venv, worker, request)  # a fresh worker per round
        # Rounds: every side once per round, in turn, so that a slow spell of the machine falls on all sides.
        by_round = {name: [] for name in sides}
        for _ in range(rounds):
            for name, side in sides.items():
                row = side()
                row["steps_per_second"] = row["env_steps"] / row["seconds"]
                by_round[name].append(row)
        rows = {}
        for name, runs in by_round.items():
            ratios = [j["steps_per_second"] / r["steps_per_second"] for j, r in zip(by_round["jaxrl"], runs)]
            seconds = statistics.median(r["seconds"] for r in runs)
            rows[name] = dict(runs[0], seconds=seconds, steps_per_second=runs[0]["env_steps"] / seconds,
                              times=[t for r in runs for t in r["times"]],
                              round_steps_per_second=[r["steps_per_second"] for r in runs],
                              jaxrl_over_this=statistics.median(ratios), round_jaxrl_over_this=ratios)
            row = rows[name]
            print(f"{case:16s} {name:18s} {row['steps_per_second']:>11,.0f} steps/s  "
                  f"jaxrl/this {row['jaxrl_over_this']:6.2f} (rounds: {' '.join(f'{x:.2f}' for x in ratios)})  "
                  f"compile {row.get('compile_seconds', row.get('warmup_seconds', 0)):.1f}s", flush=True)
        results[case] = rows
    result = provenance(benchmark="ppo_peers", settings={c: CASES[c] for c in args.cases}, hidden_sizes=HIDDEN,
                        activation="tanh", repeats=repeats, rounds=rounds, quick=args.quick, seeds=[0], results=results,
                        note="steps_per_second: from the median over rounds of each round's median seconds; jaxrl_over_this: "
                             "median over rounds of jaxrl (1 seed) steps/s / this row's steps/s in the same round")
    path = write_result("ppo-peers", result, args.out, quick=args.quick)
    plot(result, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
