"""Compile time of `train` for every algorithm that has landed, with its CartPole-v1 / Pendulum-v1 preset.

    .venv/bin/python bench/compile_time.py [--algos ppo a2c ...] [--envs CartPole-v1 Pendulum-v1] [--merge]

Per algorithm and env: seconds to trace and lower `make_train_many(config)` (Python + JAX tracing) and
seconds for XLA to compile it (1 seed; --seeds 1 8 adds 8 seeds vmapped), JAX's persistent compilation cache
switched off (users feel the cold number on a first run; later runs with `.cache/jax` reuse it).
Median of --repeats fresh builds (each builds a new config and function, so nothing is reused).
Pairs an algorithm cannot run (DQN on Pendulum, SAC on CartPole) are skipped. `--merge` re-measures only
--algos and keeps the other rows of the existing file (each row records its date).
Writes bench/results/compile-time-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import RESULTS, platform_tag, provenance, write_result  # noqa: E402

ALGOS = ["ppo", "ppo_penalty", "a2c", "a3c", "vpg", "reinforce", "trpo", "es", "dqn", "sac"]
ENVS = ["CartPole-v1", "Pendulum-v1"]


def build(algo: str, env_id: str, num_seeds: int) -> tuple[float, float]:
    from jaxrl.config import load_config
    from jaxrl.core.train import make_train_many

    t0 = time.perf_counter()
    config = load_config([f"algo={algo}", f"env=gymnax/{env_id}", f"num_seeds={num_seeds}"])
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    lowered = jax.jit(make_train_many(config)).lower(keys)
    t1 = time.perf_counter()
    lowered.compile()
    return t1 - t0, time.perf_counter() - t1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", nargs="+", default=ALGOS)
    p.add_argument("--envs", nargs="+", default=ENVS)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="ppo and es on CartPole-v1, 1 seed, 1 repeat")
    p.add_argument("--merge", action="store_true",
                   help="keep the existing result file's rows of the algorithms not measured now")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.algos, args.envs, args.seeds, args.repeats = ["ppo", "es"], ["CartPole-v1"], [1], 1
    jax.config.update("jax_enable_compilation_cache", False)

    from jaxrl.config import ConfigError, load_config

    rows = []
    for algo in args.algos:
        for env_id in args.envs:
            try:  # DQN acts only in discrete spaces, SAC only in continuous ones
                load_config([f"algo={algo}", f"env=gymnax/{env_id}"])
            except ConfigError as e:
                print(f"{algo:12s} {env_id:12s} skipped: {e}", flush=True)
                continue
            for num_seeds in args.seeds:
                runs = [build(algo, env_id, num_seeds) for _ in range(args.repeats)]
                row = {"algo": algo, "env": env_id, "num_seeds": num_seeds,
                       "trace_lower_seconds": statistics.median(r[0] for r in runs),
                       "xla_compile_seconds": statistics.median(r[1] for r in runs), "runs": runs,
                       "date": time.strftime("%Y-%m-%d %H:%M:%S")}
                row["total_seconds"] = row["trace_lower_seconds"] + row["xla_compile_seconds"]
                rows.append(row)
                print(f"{algo:12s} {env_id:12s} seeds {num_seeds:2d} | trace+lower {row['trace_lower_seconds']:5.1f}s"
                      f" | XLA compile {row['xla_compile_seconds']:5.1f}s | total {row['total_seconds']:5.1f}s",
                      flush=True)
    if args.merge:
        old_path = Path(args.out) if args.out else RESULTS / f"compile-time-{platform_tag()}.json"
        old = json.loads(old_path.read_text())["results"]
        rows = [r for r in old if r["algo"] not in args.algos] + rows
        order = {algo: i for i, algo in enumerate(ALGOS)}
        rows.sort(key=lambda r: (order.get(r["algo"], len(order)), r["env"], r["num_seeds"]))
    result = provenance(benchmark="compile_time", settings=vars(args), results=rows,
                        note="presets from configs/presets/<algo>/gymnax-<env>.yaml; persistent cache off")
    path = write_result("compile-time", result, args.out, quick=args.quick)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one = [r for r in rows if r["num_seeds"] == min(args.seeds)]
    labels = [f"{r['algo']} {r['env'].split('-')[0]}" for r in one]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(one) + 1.5))
    ax.barh(labels, [r["trace_lower_seconds"] for r in one], label="trace + lower")
    ax.barh(labels, [r["xla_compile_seconds"] for r in one], left=[r["trace_lower_seconds"] for r in one],
            label="XLA compile")
    ax.set_xlabel(f"seconds (cold cache, {min(args.seeds)} seed)")
    ax.legend()
    ax.set_title(f"Compile time of train, {result['device']}")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=110)
    print(f"wrote {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
