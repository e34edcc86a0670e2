"""CEM-MPC (jaxrl.es.planner) against random shooting and a random policy, on gymnax Pendulum-v1 and
one brax env, side by side in one run. Settings come from configs/planner/<env>.yaml.

    .venv/bin/python bench/planner.py [--num-envs 8] [--seeds 0 1] [--brax-env brax/inverted_pendulum]
                                      [--brax-episode-length 1000] [--brax-num-envs 4] [--quick] [--out F]

Prints mean episode returns and wall times (compile apart); writes bench/results/planner-<platform>.json
(with the device, host, versions and settings) and a bar plot of the mean returns next to it. `--quick`
(1 seed, 2 episodes per env, 100-step brax episodes) writes planner-<platform>-quick.json instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jaxrl.core import rollout as kernel  # noqa: E402
from jaxrl.envs import make  # noqa: E402
from jaxrl.es.planner import load_planner_config, make_mpc  # noqa: E402
from common import bar_plots, provenance, write_result  # noqa: E402


NOTES = {
    "brax/inverted_pendulum": "reward is +1 per step alive, so all plans that survive the horizon tie; "
                              "episodes that end early end with the cart at the end of its rail (|x| = 1), "
                              "a drift the 30-step horizon does not see. action_cost 0.01 only breaks ties.",
}


def timed(fn, keys) -> tuple[jax.Array, float, float]:
    """(output, compile seconds, run seconds) of jit(fn)(keys)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    return out, compile_s, time.perf_counter() - t0


def random_policy_returns(env_id: str, num_envs: int, steps: int, env_kwargs: dict, keys) -> jax.Array:
    env = make(env_id, num_envs=num_envs, **env_kwargs)

    def run(key):
        _, (returns, _) = kernel.rollout(env, kernel.random_policy(env.action_space), None, kernel.reset(env, key),
                                         key, steps, fold=kernel.FIRST_EPISODE)
        return returns

    return jax.jit(jax.vmap(run))(keys)


def bench_env(env_id: str, num_envs: int, seeds: list[int], episode_steps: int | None,
              extra_env_kwargs: dict) -> dict:
    config, env_kwargs = load_planner_config(env_id)
    env_kwargs.update(extra_env_kwargs)
    steps = episode_steps or make(env_id, **env_kwargs).max_episode_steps
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    out = {"env": env_id, "env_kwargs": env_kwargs, "num_envs": num_envs, "seeds": seeds, "episode_steps": steps}
    for name, cfg in (("cem", config), ("random_shooting", dataclasses.replace(config, method="random"))):
        run = make_mpc(env_id, cfg, num_envs=num_envs, episode_steps=steps, **env_kwargs)
        returns, compile_s, run_s = timed(jax.vmap(run), keys)
        iterations = cfg.num_iterations if cfg.method == "cem" else 1
        out[name] = {
            "config": cfg.to_dict(),
            "returns": returns.tolist(),  # [seeds, envs]
            "mean_return_per_seed": returns.mean(axis=1).tolist(),
            "mean_return": float(returns.mean()),
            "compile_seconds": round(compile_s, 2),
            "run_seconds": round(run_s, 2),
            # env steps simulated by the planner (+1 scoring of the final CEM mean per call)
            "model_steps": len(seeds) * num_envs * steps * cfg.horizon
                           * (iterations * cfg.num_candidates + (cfg.method == "cem")),
        }
        print(f"{env_id:26s} {name:16s} mean return {float(returns.mean()):9.1f}  per seed "
              f"{[round(x, 1) for x in returns.mean(axis=1).tolist()]}  run {run_s:6.1f}s  compile {compile_s:5.1f}s",
              flush=True)
    rand = random_policy_returns(env_id, 64, steps, env_kwargs, keys)
    out["random_policy"] = {"num_envs": 64, "mean_return": float(rand.mean())}
    if env_id in NOTES:
        out["note"] = NOTES[env_id]
    print(f"{env_id:26s} {'random policy':16s} mean return {float(rand.mean()):9.1f}  (64 envs per seed)", flush=True)
    return out


def plot(results: dict, path: Path) -> None:
    """One panel per env: mean episode return of each method."""
    panels = {"device": results["device"], "results": {
        e["env"]: {"jaxrl CEM-MPC": {"mean_return": e["cem"]["mean_return"]},
                   "jaxrl random shooting": {"mean_return": e["random_shooting"]["mean_return"]},
                   "random policy": {"mean_return": e["random_policy"]["mean_return"]}}
        for e in results["envs"]}}
    bar_plots(panels, path, "mean_return", "mean episode return",
              title=lambda env_id: env_id, label=lambda v: f"{v:,.0f}", suptitle="Planner returns")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=8, help="Pendulum-v1 episodes per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--brax-env", default="brax/inverted_pendulum")
    parser.add_argument("--brax-episode-length", type=int, default=1000)
    parser.add_argument("--brax-num-envs", type=int, default=4)
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, 2 episodes per env, 100-step brax episodes (smoke run)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.num_envs, args.brax_num_envs, args.brax_episode_length = [0], 2, 2, 100

    results = provenance(
        benchmark="planner", quick=args.quick, seeds=args.seeds, settings=vars(args),
        load_average_at_start=[round(x, 2) for x in os.getloadavg()],  # other processes share the CPU
        envs=[
            bench_env("gymnax/Pendulum-v1", args.num_envs, args.seeds, None, {}),
            bench_env(args.brax_env, args.brax_num_envs, args.seeds, args.brax_episode_length,
                      {"episode_length": args.brax_episode_length}),
        ])
    out = write_result("planner", results, args.out, quick=args.quick)
    plot(results, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
