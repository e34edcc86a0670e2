"""Rollout-kernel overhead and scaling on gymnax CartPole-v1, one process, one device.

    .venv/bin/python bench/throughput.py [--quick]

1. Overhead: jaxrl's rollout kernel (auto-reset, episode statistics, truncation bookkeeping) with a
   uniform random policy vs the bare env loop every trainer would write: gymnax's own auto-resetting
   step, vmapped over envs and scanned by hand. Both return the summed reward, so XLA keeps the same
   work on both sides. Ratio kernel/bare per num_envs (target >= 0.95).
   The same on a brax env (--brax-env, default brax/inverted_pendulum on MJX): the kernel vs brax's own
   training wrappers (`brax.envs.training.wrap`: vmap, episode limit, auto-reset to the first state)
   stepped by hand. Both sum the observations, so the physics cannot be optimised away.
2. Scaling of PPO training steps/s with num_envs (1 -> 4096, one seed) and with seeds vmapped in one
   call (1 -> 64, 16 envs each), with XLA's memory estimate of each compiled program (arguments, outputs,
   temporaries: `compiled.memory_analysis()`) and, on a GPU, the device's peak bytes in use.

Each point: median of --repeats calls after compilation (compile time apart); every call runs at least
--min-steps env steps so that small configurations are not timed on microseconds. The two sides of an
overhead ratio are timed in interleaved rounds (each program once per round, each round starting one place
later), so that slow spells of a shared machine fall on both alike. Each row also times the bare loop again,
as a third program in the same rounds (an A/A control): its ratio to the bare loop is the noise floor of that
row's kernel / bare ratio.
Writes bench/results/throughput-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import compile_timed, interleaved_medians, median_time, provenance, write_result  # noqa: E402
from jaxrl.config import load_config  # noqa: E402
from jaxrl.core import rollout as kernel  # noqa: E402
from jaxrl.core.train import make_train_many  # noqa: E402
from jaxrl.envs import make  # noqa: E402

ENV = "gymnax/CartPole-v1"


def random_actions(key, num_envs: int, n: int, how: str = "bits"):
    """The random policy of both sides of the gymnax overhead pair: uniform actions in 0..n-1.

    "bits" draws one 32-bit word per env and takes it modulo n (exact for a power of 2, such as CartPole's 2).
    "randint" is `jax.random.randint`, which draws two words per value. For a range of 2 the first word is
    multiplied by 0, so the draw is dead work, and whether XLA removes it depends on its pass order: it did in
    the bare loop but not in the kernel's program, which carried the constant range through the scan as a
    loop value. With one env that draw was 11-27% of a step, nothing to do with the kernel's own work.
    """
    if how == "randint":
        return jax.random.randint(key, (num_envs,), 0, n)
    return (jax.random.bits(key, (num_envs,)) % n).astype(jax.numpy.int32)


def measure(fn, *args, repeats: int) -> dict:
    """One program: median of `repeats` calls after compilation, with the device's peak memory if known."""
    peak = lambda: (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
    before = peak()  # the process's peak so far: it never falls, so a row only shows its own if it raised it
    call, out = compile_timed(fn, *args)
    out["seconds"], out["times"] = median_time(call, repeats)
    if before is not None:
        out["device_peak_bytes_before"], out["device_peak_bytes_in_use"] = int(before), int(peak())
    return out


def measure_pair(programs: dict, env_steps: int, repeats: int) -> dict:
    """Programs compared with each other ({name: (fn, args)}), each compiled apart, then timed in
    interleaved rounds (common.interleaved_medians); adds steps_per_second for `env_steps` per call."""
    compiled = {name: compile_timed(fn, *args) for name, (fn, args) in programs.items()}
    timed = interleaved_medians({name: call for name, (call, _) in compiled.items()}, repeats)
    return {name: dict(compiled[name][1], seconds=timed[name][0], times=timed[name][1],
                       steps_per_second=env_steps / timed[name][0]) for name in programs}


# The A/A control of every overhead row: the bare loop again, timed as a third program in the same rounds.
# Its ratio to the bare loop shows how far two copies of one program stray on this machine, so a kernel / bare
# ratio within that spread is not a measured difference.
CONTROL = "bare_env_loop_again"


def overhead_ratios(rows: dict) -> dict:
    sps = lambda name: rows[name]["steps_per_second"]
    return {"kernel_over_bare": sps("kernel_random_policy") / sps("bare_env_loop"),
            "control_over_bare": sps(CONTROL) / sps("bare_env_loop")}


def uniform_actions(key, num_envs: int, low, high, shape):
    """A continuous env's random policy: uniform actions in [low, high] (for ppo_bound.py's Pendulum)."""
    def bound(x):  # a scalar, or one value per action entry (jaxrl's Box keeps them flat)
        x = jax.numpy.asarray(x, jax.numpy.float32)
        return jax.numpy.broadcast_to(x, shape) if x.ndim == 0 else x.reshape(shape)

    return jax.random.uniform(key, (num_envs, *shape), minval=bound(low), maxval=bound(high))


def random_policy(space, num_envs: int, how: str = "bits"):
    """Uniform random actions for `num_envs` envs of an action space (jaxrl's or gymnax's): a fn of a key."""
    if hasattr(space, "n"):
        return lambda key: random_actions(key, num_envs, space.n, how)
    return lambda key: uniform_actions(key, num_envs, space.low, space.high, space.shape)


def kernel_random(num_envs: int, steps: int, how: str = "bits", env_id: str = ENV):
    """jaxrl's kernel with a uniform random policy: the program (fn of a key) to time."""
    env = make(env_id, num_envs=num_envs)
    actions = random_policy(env.action_space, num_envs, how)

    def policy(params, obs, key):
        return actions(key), {}

    def run(key):
        state = kernel.reset(env, key)
        _, tr = kernel.rollout(env, policy, None, state, key, steps)
        return tr.reward.sum()

    return run


def bare_gymnax(num_envs: int, steps: int, how: str = "bits", env_id: str = ENV):
    """The bound: gymnax's own auto-resetting step, vmapped and scanned by hand, random actions."""
    import gymnax

    genv, params = gymnax.make(env_id.split("/")[1])
    actions = random_policy(genv.action_space(params), num_envs, how)

    def run(key):
        obs, state = jax.vmap(genv.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def step(carry, k):
            state, total = carry
            ka, ks = jax.random.split(k)
            action = actions(ka)
            _, state, reward, _, _, _ = jax.vmap(genv.step, in_axes=(0, 0, 0, None))(
                jax.random.split(ks, num_envs), state, action, params)
            return (state, total + reward.sum()), None

        (_, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
        return total

    return run


def brax_pair(env_id: str, num_envs: int, steps: int, repeats: int) -> dict:
    """Kernel (random policy) vs brax's wrapped env stepped by hand, on one brax env."""
    from jaxrl.envs import make_base

    env = make(env_id, num_envs=num_envs)  # imports brax through jaxrl's adapter (which quiets mujoco)
    from brax.envs.wrappers.training import wrap

    dim = env.action_space.shape

    def policy(params, obs, key):
        return jax.random.uniform(key, (obs.shape[0],) + dim, minval=-1.0, maxval=1.0), {}

    def ours(key):
        state = kernel.reset(env, key)
        _, tr = kernel.rollout(env, policy, None, state, key, steps)
        return tr.obs.sum()

    base = make_base(env_id)
    bare_env = wrap(base.env, episode_length=base.max_episode_steps)

    def bare(key):
        state = bare_env.reset(jax.random.split(key, num_envs))

        def step(carry, k):
            state, total = carry
            action = jax.random.uniform(k, (num_envs,) + dim, minval=-1.0, maxval=1.0)
            state = bare_env.step(state, action)
            return (state, total + state.obs.sum()), None

        (_, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
        return total

    key = jax.random.PRNGKey(0)
    rows = measure_pair({"kernel_random_policy": (ours, (key,)), "bare_env_loop": (bare, (key,)),
                         CONTROL: (bare, (key,))}, num_envs * steps, repeats)
    return {"env": env_id, "backend": base.backend, "num_envs": num_envs, "steps": steps, **rows,
            **overhead_ratios(rows)}


def ppo(num_envs: int, num_seeds: int, rollout_length: int, min_steps: int, repeats: int) -> dict:
    iterations = max(2, -(-min_steps // (num_envs * rollout_length * num_seeds)))
    steps = num_envs * rollout_length * iterations
    config = load_config([f"env={ENV}", f"algo.num_envs={num_envs}", f"algo.rollout_length={rollout_length}",
                          f"num_seeds={num_seeds}", f"total_env_steps={steps}"])
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    r = measure(make_train_many(config), keys, repeats=repeats)
    return dict(r, num_envs=num_envs, num_seeds=num_seeds, iterations=iterations, rollout_length=rollout_length,
                steps_per_second=steps * num_seeds / r["seconds"])


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    over = result["overhead"]
    x = [r["num_envs"] for r in over]
    a.plot(x, [r["bare_env_loop"]["steps_per_second"] for r in over], "k--o", label="bare gymnax loop (random)")
    a.plot(x, [r["kernel_random_policy"]["steps_per_second"] for r in over], "-o", label="jaxrl kernel (random)")
    env_rows = result["scaling_num_envs"]
    a.plot([r["num_envs"] for r in env_rows], [r["steps_per_second"] for r in env_rows], "-s",
           label="jaxrl PPO training")
    a.set(xscale="log", yscale="log", xlabel="num_envs", ylabel="env steps / s", title="vs num_envs (1 seed)")
    a.legend(fontsize=8)
    seed_rows = result["scaling_num_seeds"]
    b.plot([r["num_seeds"] for r in seed_rows], [r["steps_per_second"] for r in seed_rows], "-s")
    b.set(xscale="log", yscale="log", xlabel="seeds vmapped in one call (16 envs each)",
          ylabel="env steps / s (all seeds)", title="PPO vs seeds")
    fig.suptitle(f"CartPole-v1 throughput, {result['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 4, 16, 64, 256, 1024, 4096])
    p.add_argument("--num-seeds", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--policy", choices=["bits", "randint"], default="bits",
                   help="how both sides of the gymnax overhead pair draw random actions (see random_actions)")
    p.add_argument("--rollout-length", type=int, default=128)
    p.add_argument("--min-steps", type=int, default=1 << 18, help="env steps per timed call, at least")
    p.add_argument("--brax-env", default="brax/inverted_pendulum", help="'' skips the brax overhead rows")
    p.add_argument("--brax-num-envs", type=int, nargs="+", default=[32], help="on a GPU: e.g. 32 2048")
    p.add_argument("--brax-steps", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--brax-only", action="store_true",
                   help="only the brax overhead rows, written as brax-overhead-<platform>.json")
    p.add_argument("--quick", action="store_true", help="few sizes, small calls, 1 repeat (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.num_envs, args.num_seeds, args.min_steps, args.repeats = [1, 64], [1, 4], 1 << 14, 1
        args.brax_env = ""
    if args.brax_only:
        if not args.brax_env:
            p.error("--brax-only needs --brax-env")
        args.num_envs, args.num_seeds = [], []

    overhead = []
    for num_envs in args.num_envs:
        steps = max(64, args.min_steps // num_envs)
        key = jax.random.PRNGKey(0)
        rows = measure_pair({"kernel_random_policy": (kernel_random(num_envs, steps, args.policy), (key,)),
                             "bare_env_loop": (bare_gymnax(num_envs, steps, args.policy), (key,)),
                             CONTROL: (bare_gymnax(num_envs, steps, args.policy), (key,))},
                            num_envs * steps, args.repeats)
        row = {"num_envs": num_envs, "steps": steps, **rows, **overhead_ratios(rows)}
        overhead.append(row)
        print(f"kernel  envs {num_envs:5d} | kernel {row['kernel_random_policy']['steps_per_second']:>13,.0f} "
              f"steps/s | bare {row['bare_env_loop']['steps_per_second']:>13,.0f} | ratio "
              f"{row['kernel_over_bare']:.3f} | control (bare / bare) {row['control_over_bare']:.3f}", flush=True)
    brax_rows = []
    for num_envs in (args.brax_num_envs if args.brax_env else []):
        row = brax_pair(args.brax_env, num_envs, args.brax_steps, args.repeats)
        brax_rows.append(row)
        print(f"kernel  {args.brax_env} envs {num_envs:5d} | kernel {row['kernel_random_policy']['steps_per_second']:>11,.0f}"
              f" steps/s | brax wrapped loop {row['bare_env_loop']['steps_per_second']:>11,.0f} | ratio "
              f"{row['kernel_over_bare']:.3f}", flush=True)
    by_envs, by_seeds = [], []
    for num_envs, num_seeds, rows in ([(e, 1, by_envs) for e in args.num_envs]
                                      + [(16, s, by_seeds) for s in args.num_seeds]):
        row = ppo(num_envs, num_seeds, args.rollout_length, args.min_steps, args.repeats)
        rows.append(row)
        temp = row.get("xla_memory_bytes", {}).get("temp_size_in_bytes", 0) / 2**20
        print(f"ppo     envs {num_envs:5d} seeds {num_seeds:2d} | {row['steps_per_second']:>11,.0f} steps/s | "
              f"compile {row['compile_seconds']:.1f}s | xla temp {temp:.1f} MiB", flush=True)
    name = "brax-overhead" if args.brax_only else "throughput"
    result = provenance(benchmark=name, env=args.brax_env if args.brax_only else ENV, settings=vars(args), seeds=[0],
                        interleaved_pairs=True, overhead=overhead, brax_overhead=brax_rows,
                        scaling_num_envs=by_envs, scaling_num_seeds=by_seeds)
    path = write_result(name, result, args.out, quick=args.quick)
    if not args.brax_only:
        plot(result, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
