"""Throughput of the rollout kernel (random policy) against a bare gymnax loop, and of PPO training,
on CartPole-v1 for num_envs x num_seeds. Median of repeats after compilation; compile time apart.

    .venv/bin/python bench/throughput.py [--num-envs 1 16 256 2048] [--num-seeds 1 8] [--repeats 3]

Writes bench/results/throughput-<platform>.json with the device, versions and settings.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jaxrl.config import load_config  # noqa: E402
from jaxrl.core import rollout as kernel  # noqa: E402
from jaxrl.core.train import make_train_many  # noqa: E402
from jaxrl.envs import make  # noqa: E402
from jaxrl.experiment import device_name  # noqa: E402

ENV = "gymnax/CartPole-v1"


def timed(fn, *args, repeats: int):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), compile_s


def kernel_random(num_envs: int, num_seeds: int, steps: int, repeats: int) -> dict:
    env = make(ENV, num_envs=num_envs)
    n = env.action_space.n

    def policy(params, obs, key):
        return jax.random.randint(key, (obs.shape[0],), 0, n), {}

    def run(keys):
        def one(key):
            state = kernel.reset(env, key)
            _, tr = kernel.rollout(env, policy, None, state, key, steps)
            return tr.reward.sum()
        return jax.vmap(one)(keys)

    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t, c = timed(run, keys, repeats=repeats)
    return {"steps_per_second": num_envs * num_seeds * steps / t, "seconds": t, "compile_seconds": c}


def bare_gymnax(num_envs: int, num_seeds: int, steps: int, repeats: int) -> dict:
    """The bound: gymnax's own auto-resetting step, vmapped and scanned by hand, random actions."""
    import gymnax

    genv, params = gymnax.make(ENV.split("/")[1])
    n = genv.action_space(params).n

    def run(keys):
        def one(key):
            obs, state = jax.vmap(genv.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

            def step(carry, k):
                state, total = carry
                ka, ks = jax.random.split(k)
                action = jax.random.randint(ka, (num_envs,), 0, n)
                _, state, reward, _, _, _ = jax.vmap(genv.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(ks, num_envs), state, action, params)
                return (state, total + reward.sum()), None

            (_, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
            return total
        return jax.vmap(one)(keys)

    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t, c = timed(run, keys, repeats=repeats)
    return {"steps_per_second": num_envs * num_seeds * steps / t, "seconds": t, "compile_seconds": c}


def ppo_training(num_envs: int, num_seeds: int, iterations: int, rollout_length: int, repeats: int) -> dict:
    config = load_config([f"env={ENV}", f"algo.num_envs={num_envs}", f"algo.rollout_length={rollout_length}",
                          f"num_seeds={num_seeds}", f"total_env_steps={num_envs * rollout_length * iterations}"])
    train_many = make_train_many(config)  # no logger: pure throughput
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t, c = timed(train_many, keys, repeats=repeats)
    steps = num_envs * rollout_length * iterations * num_seeds
    return {"steps_per_second": steps / t, "seconds": t, "compile_seconds": c, "iterations": iterations,
            "rollout_length": rollout_length}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 16, 256, 2048])
    p.add_argument("--num-seeds", type=int, nargs="+", default=[1, 8])
    p.add_argument("--kernel-steps", type=int, default=512)
    p.add_argument("--ppo-iterations", type=int, default=4)
    p.add_argument("--rollout-length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    rows = []
    for num_seeds in args.num_seeds:
        for num_envs in args.num_envs:
            ours = kernel_random(num_envs, num_seeds, args.kernel_steps, args.repeats)
            bare = bare_gymnax(num_envs, num_seeds, args.kernel_steps, args.repeats)
            ppo = ppo_training(num_envs, num_seeds, args.ppo_iterations, args.rollout_length, args.repeats)
            row = {"num_envs": num_envs, "num_seeds": num_seeds, "kernel_random_policy": ours,
                   "bare_gymnax_loop": bare,
                   "kernel_over_bare_ratio": ours["steps_per_second"] / bare["steps_per_second"],
                   "ppo_training": ppo}
            rows.append(row)
            print(f"envs {num_envs:5d} seeds {num_seeds:2d} | kernel {ours['steps_per_second']:>13,.0f} steps/s"
                  f" | bare {bare['steps_per_second']:>13,.0f} (ratio {row['kernel_over_bare_ratio']:.2f})"
                  f" | ppo {ppo['steps_per_second']:>11,.0f} steps/s (compile {ppo['compile_seconds']:.1f}s)",
                  flush=True)
    result = {"benchmark": "throughput", "env": ENV, "device": device_name(), "platform": platform.platform(),
              "jax_version": jax.__version__, "cpu_count": __import__("os").cpu_count(),
              "settings": vars(args), "results": rows, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    out = Path(args.out or Path(__file__).parent / "results" / f"throughput-{jax.devices()[0].platform}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
