"""ES throughput on gymnax CartPole-v1 (MLP (32,), 500-step episodes, 1 episode per member):

1. jaxrl's seed-based OpenAI-ES (`make_train`, whole loop in one jit) vs population size;
2. the same with `make_sharded_train` on 1, 2 and 4 forced host devices (one subprocess per count,
   since XLA_FLAGS must be set before jax is imported);
3. evosax's Open_ES and CMA_ES through jaxrl vs the hand-written loop an evosax user writes (Python `for`
   over generations, jitted ask / vmapped gymnax rollout / tell), same device, same settings; the
   hand-written rollout is timed with one env key shared by the population (as evosax's GymnaxProblem)
   and with a key per member; the three sides run in interleaved rounds.

    .venv/bin/python bench/es.py [--quick]

Times exclude compilation. Parts 1-2: the median of `--repeats` timed batches, each repeating the
compiled call until it lasts >= `--min-seconds`. Part 3: the median of `--rounds` interleaved rounds.
Writes bench/results/es-<platform>.json and .png (with --quick: es-<platform>-quick.*).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# One OpenBLAS thread, as the `jaxrl` CLI sets it (jaxrl/cli.py), for every side of the comparison (they share
# this process); export OPENBLAS_NUM_THREADS to measure another setting. Set before scipy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(ROOT / "bench"))
from common import cpu_model, host_probe, versions  # noqa: E402  (standard library only: safe before scipy)

ENV = "gymnax/CartPole-v1"
HORIZON = 500  # steps per fitness episode
HIDDEN = 32
LR = 0.05  # Adam on the mean (OpenAI-ES, both sides)
SIGMA = 0.1  # perturbation std (OpenAI-ES) / initial std (CMA-ES)
SEED = 0
FINAL_EVAL_EPISODES = 16


def es_config(population: int, generations: int, strategy: str = "openai_es"):
    """A jaxrl ES config running `generations` generations of `population` members."""
    from jaxrl.config import load_config

    return load_config(["algo=es", f"env={ENV}", f"seed={SEED}", f"es.strategy={strategy}",
                        f"es.population_size={population}", "es.num_envs=1", f"es.episode_steps={HORIZON}",
                        f"es.hidden_sizes={HIDDEN}", f"es.lr={LR}", f"es.sigma_init={SIGMA}",
                        f"total_env_steps={generations * population * HORIZON}"])


def generations_for(population: int, target_steps: float) -> int:
    """Generations per compiled call: about `target_steps` env steps, at least 2."""
    return max(2, round(target_steps / (population * HORIZON)))


def median_batch_time(fn, min_seconds: float, repeats: int):
    """(median seconds per call of fn, calls per timed batch, last output) over `repeats` timed batches of
    back-to-back calls, each lasting >= min_seconds (a shorter batch resizes the next and is not kept).
    fn() must be compiled already; one untimed call warms it up."""
    import jax

    out = jax.block_until_ready(fn())
    calls, kept = 1, []
    while len(kept) < repeats:
        t0 = time.perf_counter()
        for _ in range(calls):
            out = fn()
        jax.block_until_ready(out)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            kept.append(elapsed / calls)
        else:
            calls = max(calls + 1, math.ceil(1.2 * calls * min_seconds / elapsed))
    return statistics.median(kept), calls, out


def compile_train(train, key):
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(train).lower(key).compile()
    return compiled, time.perf_counter() - t0


def throughput_row(population, generations, seconds, calls, compile_s, **extra) -> dict:
    return {"population": population, "generations_per_call": generations, "calls_per_timed_batch": calls,
            "seconds_per_call": seconds, "generations_per_second": generations / seconds,
            "env_steps_per_second": generations * population * HORIZON / seconds,
            "compile_seconds": compile_s, **extra}


# ---- 1. population scaling, one device ------------------------------------------------------------

def population_scaling(populations, target_steps, min_seconds, repeats) -> list[dict]:
    import jax

    from jaxrl.core.train import make_train

    rows = []
    for population in populations:
        generations = generations_for(population, target_steps)
        key = jax.random.PRNGKey(SEED)
        compiled, compile_s = compile_train(make_train(es_config(population, generations)), key)
        seconds, calls, out = median_batch_time(lambda: compiled(key), min_seconds, repeats)
        row = throughput_row(population, generations, seconds, calls, compile_s, devices=1, trainer="make_train",
                             final_mean_return=float(out.metrics["mean_return"][-1]))
        rows.append(row)
        print_throughput(row)
    return rows


# ---- 2. device scaling (runs in a subprocess per device count) ---------------------------------------

def sharded_child(args) -> None:
    """In a process started with N forced host devices: time make_sharded_train for each population."""
    import jax
    import numpy as np

    from jaxrl.es.distributed import global_key, make_sharded_train, population_mesh

    assert jax.device_count() == args.devices, (jax.devices(), os.environ.get("XLA_FLAGS"))
    rows = []
    for population in args.populations:
        generations = generations_for(population, args.target_steps)
        mesh = population_mesh()
        key = global_key(SEED, mesh)
        train = make_sharded_train(es_config(population, generations), mesh)
        t0 = time.perf_counter()
        compiled = train.lower(key).compile()
        compile_s = time.perf_counter() - t0
        seconds, calls, (state, metrics) = median_batch_time(lambda: compiled(key), args.min_seconds, args.repeats)
        rows.append(throughput_row(population, generations, seconds, calls, compile_s, devices=args.devices,
                                   trainer="make_sharded_train",
                                   final_mean_return=float(np.asarray(metrics["mean_return"])[-1]),
                                   final_mean=np.asarray(state.mean).tolist()))
    Path(args.json_out).write_text(json.dumps(rows))


def device_scaling(device_counts, populations, target_steps, min_seconds, repeats) -> list[dict]:
    """One subprocess of this script per device count; final means are compared with the 1-device run."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in device_counts:
            out = Path(tmp) / f"devices-{n}.json"
            env = dict(os.environ)
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}".strip()
            cmd = [sys.executable, __file__, "--devices", str(n), "--json-out", str(out),
                   "--populations", *map(str, populations), "--target-steps", str(target_steps),
                   "--min-seconds", str(min_seconds), "--repeats", str(repeats)]
            subprocess.run(cmd, env=env, check=True)
            rows += json.loads(out.read_text())
    reference = {r["population"]: r["final_mean"] for r in rows if r["devices"] == 1}
    for r in rows:
        mean = r.pop("final_mean")
        if r["population"] in reference:
            r["max_abs_diff_final_mean_vs_1_device"] = max(abs(a - b) for a, b in zip(mean, reference[r["population"]]))
        print_throughput(r)
    return rows


# ---- 3. evosax through jaxrl vs a hand-written evosax loop --------------------------------------------

def jaxrl_evosax(strategy, population, generations):
    """evosax's strategy through jaxrl: `make_train` runs every generation in one jit.
    Returns (a blocking call of `generations` generations, compile seconds, final mean-parameter return)."""
    import jax

    from jaxrl.core.train import make_evaluate, make_train
    from jaxrl.es.trainer import build

    config = es_config(population, generations, strategy)
    key = jax.random.PRNGKey(SEED)
    compiled, compile_s = compile_train(make_train(config), key)
    call = lambda: jax.block_until_ready(compiled(key))
    out = call()
    pieces = build(config.algo_config, config.env, config.env_kwargs, generations)
    evaluate = jax.jit(make_evaluate(config, FINAL_EVAL_EPISODES))
    returns = evaluate(jax.random.PRNGKey(SEED + 1), pieces.agent.params(out.agent_state))
    return call, compile_s, float(returns.mean())


def handwritten_evosax(strategy, population, generations, shared_key=True):
    """What an evosax user writes: a Python loop over generations calling jitted ask, a jitted vmapped
    gymnax rollout (lax.scan over env.step, rewards masked after the first done) and jitted tell.
    shared_key: every member meets the same env randomness (vmap in_axes=None on the key, as evosax's own
    GymnaxProblem does), so XLA draws the env's random numbers once per step, not once per member;
    False gives each member its own key, as jaxrl does with es.common_random_numbers=false.
    Returns (a blocking call of `generations` generations, compile seconds, final mean-parameter return)."""
    import evosax.algorithms
    import flax.linen as nn
    import gymnax
    import jax
    import jax.numpy as jnp
    import optax

    env, env_params = gymnax.make("CartPole-v1")

    class Policy(nn.Module):
        @nn.compact
        def __call__(self, obs):
            return nn.Dense(env.num_actions)(nn.tanh(nn.Dense(HIDDEN)(obs)))

    policy = Policy()
    solution = policy.init(jax.random.PRNGKey(SEED), jnp.zeros(env.observation_space(env_params).shape))
    if strategy == "Open_ES":
        algo = evosax.algorithms.Open_ES(population, solution, optimizer=optax.adam(LR),
                                         std_schedule=optax.constant_schedule(SIGMA))
        params = algo.default_params
    else:
        algo = getattr(evosax.algorithms, strategy)(population, solution)
        params = algo.default_params.replace(std_init=SIGMA)

    def episode_return(member, key):
        reset_key, step_key = jax.random.split(key)
        obs, state = env.reset(reset_key, env_params)

        def step(carry, k):
            obs, state, total, alive = carry
            action = jnp.argmax(policy.apply(member, obs))
            obs, state, reward, terminated, truncated, _ = env.step(k, state, action, env_params)
            done = jnp.logical_or(terminated, truncated)
            return (obs, state, total + alive * reward, alive * (1.0 - done)), None

        (_, _, total, _), _ = jax.lax.scan(step, (obs, state, 0.0, 1.0), jax.random.split(step_key, HORIZON))
        return total

    if shared_key:
        evaluate = jax.jit(jax.vmap(episode_return, in_axes=(0, None)))
    else:
        evaluate = jax.jit(lambda members, key: jax.vmap(episode_return)(members, jax.random.split(key, population)))
    ask, tell = jax.jit(algo.ask), jax.jit(algo.tell)

    def run(num_generations):
        key = jax.random.PRNGKey(SEED)
        state = algo.init(key, solution, params)
        for _ in range(num_generations):
            key, ask_key, eval_key, tell_key = jax.random.split(key, 4)
            members, state = ask(ask_key, state, params)
            fitness = evaluate(members, eval_key)
            state, _ = tell(tell_key, members, -fitness, state, params)  # evosax minimises
        return jax.block_until_ready(state)

    t0 = time.perf_counter()
    run(1)  # compiles ask, rollout and tell
    compile_s = time.perf_counter() - t0
    state = run(generations)
    keys = jax.random.split(jax.random.PRNGKey(SEED + 1), FINAL_EVAL_EPISODES)
    returns = jax.jit(jax.vmap(episode_return, in_axes=(None, 0)))(algo.get_mean(state), keys)
    return (lambda: run(generations)), compile_s, float(returns.mean())


COMPARISON_SIDES = ("jaxrl", "handwritten", "handwritten_per_member_keys")


def evosax_comparison(cases, generations, rounds) -> list[dict]:
    """Each case: the three sides compiled, then `rounds` rounds that run each side's `generations`
    generations once in turn (a slow spell of the shared machine falls on every side alike). A side's time
    is its median over the rounds; a ratio is the median of the rounds' ratios."""
    from common import interleaved_medians

    rows = []
    for strategy, population in cases:
        prepared = {"jaxrl": jaxrl_evosax(strategy, population, generations),
                    "handwritten": handwritten_evosax(strategy, population, generations),
                    "handwritten_per_member_keys": handwritten_evosax(strategy, population, generations,
                                                                      shared_key=False)}
        timed = interleaved_medians({name: call for name, (call, _, _) in prepared.items()}, rounds)
        row = {"strategy": strategy, "population": population, "generations": generations, "rounds": rounds}
        for name, (_, compile_s, final_return) in prepared.items():
            seconds, per_round = timed[name]
            row[name] = {"seconds_per_run": seconds, "generations_per_second": generations / seconds,
                         "round_seconds": per_round, "compile_seconds": compile_s,
                         "final_mean_return": final_return}
        ours = timed["jaxrl"][1]
        for name in COMPARISON_SIDES[1:]:  # gen/s ratio = their seconds / ours, round by round
            row["ratio_jaxrl_over_" + name] = statistics.median(t / o for t, o in zip(timed[name][1], ours))
        rows.append(row)
        print_comparison(row)
    return rows


# ---- output ---------------------------------------------------------------------------------------

def print_throughput(row: dict) -> None:
    print(f"{row['trainer']:18s} devices {row['devices']} P={row['population']:<5d} {row['generations_per_call']:4d} gens"
          f" | {row['generations_per_second']:8.2f} gen/s | {row['env_steps_per_second']:>12,.0f} env steps/s"
          f" | compile {row['compile_seconds']:.1f}s | final mean return {row['final_mean_return']:.0f}", flush=True)


def print_comparison(row: dict) -> None:
    name = f"{row['strategy']} P={row['population']}, {row['generations']} gens"
    for label, key in [("jaxrl (one jit)", "jaxrl"), ("hand-written, shared env key", "handwritten"),
                       ("hand-written, per-member keys", "handwritten_per_member_keys")]:
        r = row[key]
        ratio = "" if key == "jaxrl" else f"  jaxrl/this {row['ratio_jaxrl_over_' + key]:.2f}"
        print(f"{name:26s} {label:30s} {r['generations_per_second']:7.1f} gen/s | compile {r['compile_seconds']:4.1f}s"
              f" | final mean return {r['final_mean_return']:5.1f}{ratio}", flush=True)


def print_summary(result: dict) -> None:
    """The three tables again, side by side with their ratios."""
    print(f"\n== {result['env']}, {result['device']} ({result['cpu_count']} CPUs), jax {result['versions']['jax']}")
    print("OpenAI-ES (seed-based), make_train, 1 device\n     P  gens/call     gen/s   env steps/s")
    for r in result["population_scaling"]:
        print(f"{r['population']:6d} {r['generations_per_call']:10d} {r['generations_per_second']:9.2f} "
              f"{r['env_steps_per_second']:13,.0f}")
    print("OpenAI-ES, make_sharded_train on forced host devices (sharing the same cores)\n"
          "     P  devices     gen/s   env steps/s  vs 1 device  max|mean - 1-device mean|")
    base = {r["population"]: r["env_steps_per_second"] for r in result["device_scaling"] if r["devices"] == 1}
    for r in sorted(result["device_scaling"], key=lambda r: (r["population"], r["devices"])):
        print(f"{r['population']:6d} {r['devices']:8d} {r['generations_per_second']:9.2f} "
              f"{r['env_steps_per_second']:13,.0f} {r['env_steps_per_second'] / base[r['population']]:12.2f}"
              f"  {r['max_abs_diff_final_mean_vs_1_device']:.2g}")
    print("evosax strategies, generations/s (final mean-parameter return, max 500)\n"
          "strategy   P   jaxrl          hand, shared key   hand, per-member keys   jaxrl/hand  jaxrl/hand(per-member)")
    for r in result["evosax_comparison"]:
        cells = [f"{r[k]['generations_per_second']:6.1f} ({r[k]['final_mean_return']:3.0f})"
                 for k in ("jaxrl", "handwritten", "handwritten_per_member_keys")]
        print(f"{r['strategy']:8s} {r['population']:3d}   {cells[0]:14s} {cells[1]:18s} {cells[2]:23s} "
              f"{r['ratio_jaxrl_over_handwritten']:10.2f}  {r['ratio_jaxrl_over_handwritten_per_member_keys']:10.2f}")


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    rows = result["population_scaling"]
    left.plot([r["population"] for r in rows], [r["env_steps_per_second"] for r in rows], "o-",
              label="make_train (1 device)")
    for n in sorted({r["devices"] for r in result["device_scaling"]}):
        sub = [r for r in result["device_scaling"] if r["devices"] == n]
        left.plot([r["population"] for r in sub], [r["env_steps_per_second"] for r in sub], "s--",
                  label=f"make_sharded_train, {n} forced host device{'s' * (n > 1)}")
    left.set(xscale="log", xlabel="population size", ylabel="env steps / s",
             title=f"jaxrl OpenAI-ES, CartPole-v1, {HORIZON}-step episodes")
    left.set_xticks([r["population"] for r in rows], [str(r["population"]) for r in rows])
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)

    cmp = result["evosax_comparison"]
    width = 0.27
    sides = [("jaxrl", "jaxrl (one jit)"), ("handwritten", "hand-written evosax loop, shared env key"),
             ("handwritten_per_member_keys", "hand-written, per-member env keys")]
    for j, (key, label) in enumerate(sides):
        xs = [i + (j - 1) * width for i in range(len(cmp))]
        rates = [r[key]["generations_per_second"] for r in cmp]
        right.bar(xs, rates, width, label=label)
        for x, r, rate in zip(xs, cmp, rates):
            if key != "jaxrl":
                right.text(x, rate * 1.02, f"x{r['ratio_jaxrl_over_' + key]:.2f}", ha="center", fontsize=8)
    right.set_xticks(range(len(cmp)), [f"{r['strategy']}\nP={r['population']}" for r in cmp])
    right.set(ylabel="generations / s", title="evosax strategies: jaxrl vs hand-written (xN: jaxrl / bar)")
    right.legend(fontsize=8)
    fig.suptitle(f"{result['device']} ({result['cpu_count']} CPUs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _affinity() -> list[int] | None:
    """The CPUs this process may run on (e.g. after `taskset -c 0`), where the OS says."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def git_state() -> dict:
    """The commit measured and whether the library had uncommitted changes (other work in progress)."""
    def git(*cmd):
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "uncommitted_library_files": git("status", "--porcelain", "jaxrl").splitlines()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="P in {64, 256}, fewer generations (about a minute)")
    p.add_argument("--out", help="JSON path (the PNG goes beside it)")
    p.add_argument("--min-seconds", type=float, help="shortest timed batch (default 2, quick 0.5)")
    p.add_argument("--repeats", type=int, help="timed batches, median kept (default 3, quick 2)")
    p.add_argument("--rounds", type=int, help="interleaved rounds of the evosax comparison (default 9, quick 3)")
    # internal: the per-device-count subprocess
    p.add_argument("--devices", type=int, help=argparse.SUPPRESS)
    p.add_argument("--json-out", help=argparse.SUPPRESS)
    p.add_argument("--populations", type=int, nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--target-steps", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.devices:
        return sharded_child(args)

    import jax

    quick = args.quick
    settings = {
        "populations": [64, 256] if quick else [64, 256, 1024, 4096],
        # forced host devices are CPU devices: on a GPU machine they would measure its CPU, not the GPU
        "device_counts": [1, 2, 4] if jax.devices()[0].platform == "cpu" else [],
        "device_populations": [256] if quick else [256, 1024],
        "target_env_steps_per_call": 1e6 if quick else 4e6,
        "comparison_cases": [["Open_ES", 64], ["CMA_ES", 64]],
        "comparison_generations": 30 if quick else 100,
        "comparison_rounds": args.rounds or (3 if quick else 9),
        "min_seconds": args.min_seconds or (0.5 if quick else 2.0),
        "repeats": args.repeats or (2 if quick else 3),
    }
    s = settings
    print(f"device {jax.devices()[0]} ({jax.devices()[0].device_kind}), {os.cpu_count()} CPUs, "
          f"{'quick' if quick else 'full'} run", flush=True)
    print("-- 1. population size (openai_es, make_train, 1 device)", flush=True)
    pop_rows = population_scaling(s["populations"], s["target_env_steps_per_call"], s["min_seconds"], s["repeats"])
    print("-- 2. forced host devices (openai_es, make_sharded_train)"
          + ("" if s["device_counts"] else ": skipped, they are CPU devices and this run is not on the CPU"), flush=True)
    dev_rows = device_scaling(s["device_counts"], s["device_populations"], s["target_env_steps_per_call"],
                              s["min_seconds"], s["repeats"])
    print("-- 3. evosax strategies: jaxrl vs hand-written loop", flush=True)
    cmp_rows = evosax_comparison([tuple(c) for c in s["comparison_cases"]], s["comparison_generations"],
                                 s["comparison_rounds"])

    device = jax.devices()[0]
    result = {
        "benchmark": "es", "env": ENV, "command": shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "device": str(device), "device_kind": device.device_kind, "jax_platform": device.platform,
        "platform": platform.platform(), "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
        "versions": versions("jax", "jaxlib", "evosax", "gymnax", "flax", "optax"), "git": git_state(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "taskset": _affinity(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "host_probe_ms": host_probe(), "seed": SEED,
        "settings": settings,
        "config": {"policy": f"MLP ({HIDDEN},) tanh, argmax over CartPole's 2 actions", "episode_steps": HORIZON,
                   "episodes_per_member": 1, "openai_es": {"lr_adam": LR, "sigma": SIGMA, "antithetic": True},
                   "cma_es": {"std_init": SIGMA},
                   "jaxrl_es_config": dataclasses.asdict(es_config(64, 2).algo_config),
                   "jaxrl_es_config_note": "population_size and strategy vary per row"},
        "notes": [
            "env steps/s counts population * 500 steps per generation; jaxrl also scores the distribution's mean "
            "each generation (its logged return), which is not counted.",
            "Times exclude compilation (jax.jit(train).lower(key).compile()); population and device rows: "
            "median of `repeats` timed batches.",
            "Forced host devices (--xla_force_host_platform_device_count) share this machine's "
            f"{os.cpu_count()} cores: the device rows measure the overhead and correctness of sharding, not hardware "
            "scaling. Each forced CPU device runs its shard on its own thread, so more devices can occupy cores "
            "that a single CPU device's program leaves idle.",
            "max_abs_diff_final_mean_vs_1_device: the sharded run's final mean parameters against the "
            "1-device sharded run from the same key.",
            "Comparison: the same evosax strategy class and settings on both sides; jaxrl runs all generations "
            "in one jit, the hand-written loop dispatches jitted ask / rollout / tell from Python per generation. "
            "'handwritten' vmaps the rollout with one env key shared by all members (in_axes=None, as evosax's "
            "GymnaxProblem does), so XLA computes the env's PRNG work (key splits, reset draws) once per step for "
            "the whole population; 'handwritten_per_member_keys' gives each member its own key. jaxrl's kernel "
            "shares keys when es.common_random_numbers=true in the code measured (see `git`); before that change "
            "it drew per-member step keys. jaxrl's adapter calls evosax's ask once per generation and passes "
            "its population to tell. Timing: compile first, then `comparison_rounds` rounds that run the "
            "three sides once each in turn; a side's time is its median round, a ratio the median of the "
            "rounds' ratios. "
            "Initial means differ (jaxrl's orthogonal init vs flax's default); final_mean_return is the mean "
            f"over {FINAL_EVAL_EPISODES} episodes of the final mean parameters (500 is the maximum).",
            "The machine may have been shared with other CPU-heavy jobs: absolute numbers are noisy, "
            "the side-by-side ratios less so.",
        ],
        "population_scaling": pop_rows, "device_scaling": dev_rows, "evosax_comparison": cmp_rows,
    }
    print_summary(result)
    stem = f"es-{device.platform}{'-quick' if quick else ''}"
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"{stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
