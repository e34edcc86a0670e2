"""PPO's observation statistics changed at every env step (the default) vs once per rollout
(`algo.normalize_obs_update=rollout`): the final training return of 8 seeds, trained in one call, per env.

    .venv/bin/python bench/normalize_obs_update.py [--seeds 8] [--envs ...] [--override KEY=VALUE] [--out F]

A learning comparison, not a peer benchmark: it says whether the per-rollout statistics (closer to brax's
PPO normaliser; see bench/README.md on brax/inverted_pendulum) learn as well as the per-step ones. Each
env runs its preset where it has one (brax/inverted_pendulum, Pendulum-v1), else PPO's defaults with
normalisation on, for the budget below. Writes bench/results/normalize-obs-update-<platform>.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import provenance, write_result  # noqa: E402

from jaxrl.config import load_config  # noqa: E402
from jaxrl.core.train import final_returns, make_train_many, seed_keys  # noqa: E402

# env: overrides on top of its preset (the budget, and normalisation where the preset has none)
ENVS = {
    "brax/inverted_pendulum": [],  # preset: 300k env steps, normalisation on
    "gymnax/Pendulum-v1": [],  # preset: 500k env steps, normalisation on
    "gymnax/CartPole-v1": ["total_env_steps=500000", "algo.normalize_obs=true"],
    "gymnax/Acrobot-v1": ["total_env_steps=500000", "algo.normalize_obs=true"],
}
MODES = ("step", "rollout")


def run(env: str, mode: str, seeds: int, overrides=()) -> dict:
    config = load_config([f"env={env}", f"num_seeds={seeds}", *ENVS[env], *overrides,
                          f"algo.normalize_obs_update={mode}"])
    t0 = time.perf_counter()
    out = jax.block_until_ready(jax.jit(make_train_many(config))(seed_keys(config)))
    final = np.asarray(final_returns(out.metrics), float)
    return {"final_return_per_seed": final.tolist(), "mean": float(final.mean()),
            "interquartile_mean": float(np.sort(final)[seeds // 4: seeds - seeds // 4].mean()),
            "total_env_steps_per_seed": config.total_env_steps, "seconds_with_compile": time.perf_counter() - t0,
            "normalize_obs": config.algo_config.normalize_obs,
            "normalize_obs_update": config.algo_config.normalize_obs_update,
            "optimizer_eps": config.algo_config.optimizer_eps}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for every env and mode (e.g. algo.optimizer_eps=1e-8); recorded")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be >= 1")
    results = {}
    for env in args.envs:
        results[env] = {mode: run(env, mode, args.seeds, args.override) for mode in MODES}
        for mode, r in results[env].items():
            print(f"{env:24s} {mode:8s} mean {r['mean']:8.1f}  IQM {r['interquartile_mean']:8.1f}  per seed "
                  f"{np.round(r['final_return_per_seed'], 1).tolist()}", flush=True)
    write_result("normalize-obs-update", provenance(benchmark="normalize_obs_update", seeds=args.seeds,
                                                    overrides=args.override, results=results), args.out)


if __name__ == "__main__":
    main()
