"""Learning benchmark of the on-policy family on CartPole-v1: every algorithm with its preset
(configs/presets/<algo>/gymnax-CartPole-v1.yaml), N seeds in one compiled call each, side by side.

    .venv/bin/python bench/onpolicy_learning.py [--seeds 8] [--algos ppo a2c ...] [--threshold 475] [--quick]

Per algorithm: final return (mean training episode return over the last 5% of iterations, per seed),
env steps to reach the threshold (first iteration at which the mean return of the episodes that ended in
the trailing `--window-steps` env steps is >= threshold, per seed; null if never), wall and compile time.
The window is in env steps, not iterations, so algorithms with small and large batches are judged alike.
Writes bench/results/onpolicy-learning-<platform>.json (with the device, host, versions and settings) and a
comparison plot next to it. `--quick` (2 seeds, PPO and A2C, 20,000 env steps) writes
onpolicy-learning-<platform>-quick.json instead.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jaxrl.config import load_config  # noqa: E402
from jaxrl.core.train import final_returns, make_train_many, seed_keys  # noqa: E402
from common import provenance, write_result  # noqa: E402

ENV = "gymnax/CartPole-v1"
ALGOS = ["ppo", "ppo_penalty", "trpo", "a2c", "a3c", "vpg", "reinforce"]


def steps_to_threshold(metrics, steps_per_iteration: int, threshold: float, window: int) -> list:
    """Per seed: env steps at the first iteration whose trailing-window episode mean reaches `threshold`."""
    sums = np.asarray(metrics["episode_return_sum"])  # [S, I]
    counts = np.asarray(metrics["episode_count"])
    kernel = np.ones(window)
    out = []
    for s, c in zip(sums, counts):
        s_w, c_w = np.convolve(s, kernel)[: len(s)], np.convolve(c, kernel)[: len(c)]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(c_w > 0, s_w / np.maximum(c_w, 1), -np.inf)
        hit = np.nonzero(mean >= threshold)[0]
        out.append(int((hit[0] + 1) * steps_per_iteration) if hit.size else None)
    return out


def curve(metrics, window: int) -> np.ndarray:
    """[S, I] trailing-window mean episode return."""
    kernel = np.ones(window)
    sums = np.asarray(metrics["episode_return_sum"])
    counts = np.asarray(metrics["episode_count"])
    s = np.stack([np.convolve(x, kernel)[: x.size] for x in sums])
    c = np.stack([np.convolve(x, kernel)[: x.size] for x in counts])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def run(algo: str, seeds: int, threshold: float, window_steps: int,
        overrides: tuple[str, ...] = ()) -> tuple[dict, np.ndarray, np.ndarray]:
    config = load_config([f"algo={algo}", f"env={ENV}", f"num_seeds={seeds}", *overrides])
    steps = config.algo_config.steps_per_iteration()
    window = max(1, round(window_steps / steps))
    keys = seed_keys(config)
    hp = config.algo_config.hparams()
    t0 = time.perf_counter()
    compiled = jax.jit(make_train_many(config)).lower(keys, hp).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, hp))
    wall = time.perf_counter() - t0
    final = np.asarray(final_returns(out.metrics))
    reach = steps_to_threshold(out.metrics, steps, threshold, window)
    reached = [r for r in reach if r is not None]
    iterations = np.asarray(out.metrics["episode_count"]).shape[1]
    result = {
        "algo": algo,
        "total_env_steps_per_seed": iterations * steps,
        "final_return_mean": float(final.mean()),
        "final_return_per_seed": final.tolist(),
        "steps_to_threshold_per_seed": reach,
        "steps_to_threshold_median": float(np.median(reached)) if len(reached) == len(reach) else None,
        "seeds_reaching_threshold": len(reached),
        "window_iterations": window,
        "wall_seconds": wall,
        "compile_seconds": compile_s,
        "steps_per_second": iterations * steps * seeds / wall,
        "config": {k: v for k, v in config.to_dict()["algo_config"].items()},
    }
    x = (np.arange(iterations) + 1) * steps
    return result, x, curve(out.metrics, window)


def plot(path: Path, curves: dict, threshold: float, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for algo, (x, c) in curves.items():
        with warnings.catch_warnings():  # iterations before any episode ended are all-NaN columns
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(c, axis=0), np.nanmin(c, axis=0), np.nanmax(c, axis=0)
        line, = ax.plot(x, mean, label=algo)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.12)
    ax.axhline(threshold, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("env steps (per seed)")
    ax.set_ylabel("episode return")
    ax.set_title(f"On-policy family on {ENV}: mean and min-max over {seeds} seeds")
    ax.legend(loc="lower right", ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--algos", nargs="+", default=ALGOS)
    p.add_argument("--threshold", type=float, default=475.0)
    p.add_argument("--window-steps", type=int, default=10_000, help="env steps in the trailing mean")
    p.add_argument("--quick", action="store_true", help="2 seeds, PPO and A2C, 20,000 env steps (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    overrides: tuple[str, ...] = ()
    if args.quick:
        args.seeds, args.algos, overrides = 2, ["ppo", "a2c"], ("total_env_steps=20000",)
    results, curves = [], {}
    for algo in args.algos:
        res, x, c = run(algo, args.seeds, args.threshold, args.window_steps, overrides)
        results.append(res)
        curves[algo] = (x, c)
        med = res["steps_to_threshold_median"]
        print(f"{algo:12s} final {res['final_return_mean']:7.1f}  reach {args.threshold:g}: "
              f"{res['seeds_reaching_threshold']}/{args.seeds} seeds, median "
              f"{'-' if med is None else f'{med:,.0f}'} steps  wall {res['wall_seconds']:6.1f}s  "
              f"compile {res['compile_seconds']:5.1f}s", flush=True)
    out = write_result("onpolicy-learning", provenance(
        benchmark="onpolicy_learning", env=ENV, quick=args.quick, seeds=args.seeds, threshold=args.threshold,
        window_steps=args.window_steps, overrides=list(overrides), results=results), args.out, quick=args.quick)
    plot(out.with_suffix(".png"), curves, args.threshold, args.seeds)
    print(f"wrote {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
