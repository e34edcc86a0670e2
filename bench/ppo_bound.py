"""How far the issue's "PPO >= 50x Stable-Baselines3" is: what any fp32 PPO trainer could reach at
ppo_peers.py's settings on this CPU, set beside SB3's and jaxrl's env steps/s measured in the same run.

    .venv/bin/python bench/ppo_bound.py [--cases "PPO CartPole-v1" ...] [--rounds 3] [--repeats 3] [--quick]

What any PPO trainer must do in a call of S env steps at a case's settings (N envs, T steps per rollout,
E epochs, M minibatches, separate (64, 64) actor and critic; `ppo_peers.CASES`, the peer table's settings),
one iteration after the other (on-policy: a rollout acts with the policy the previous update made, and an
update trains on its rollout):
  * step the N envs S/N times;
  * run the actor and the critic forward on each of the S observations (the actions, and the values GAE
    needs), and take E*M gradient steps on minibatches of N*T/M transitions per iteration. Their matmul
    FLOPs are counted from the layer shapes (`ppo_matmul_flops`): the forward pass, every layer's weight
    gradient and every layer's input gradient but the first's, less the forward pass of each iteration's
    first minibatch, which a trainer could keep from acting (same parameters, same observations).
    Activations, biases, the loss, GAE and Adam are left out, so the count is less than the work.
Three figures, in env steps/s, each S divided by a time, from the best of each measurement over the rounds
(the fastest env loop, the highest matmul rate, the fastest matmul programs), so that each is as high as
this run's measurements allow:
  * ceiling: S / (FLOPs / peak), with peak the best fp32 matmul rate measured on this machine (XLA's dot and
    numpy's BLAS on square matrices of 256 to 2048) and the env free. No fp32 trainer can pass it unless it
    runs these matmuls faster than the machine ran large square ones (the cores' theoretical rate is higher
    than any measured one, so this is a ceiling as far as the best measured rate is the machine's);
  * with_env_loop: S / (env loop seconds + FLOPs / peak), with the faster of two XLA env loops, each with a
    uniform random policy and no network: the bare gymnax loop and jaxrl's rollout kernel (throughput.py's
    pair). An estimate, not a bound: an env written otherwise (not an XLA loop over gymnax's step) could
    step faster, and a trainer could step some envs while it runs the network on others;
  * xla_at_these_shapes: S / (env loop seconds + the seconds of the same matmuls run by XLA at the
    networks' own shapes, one dot per layer, back to back in one program, `matmul_program`; the update's in
    the faster of two layouts of its transposes). What an XLA trainer with these networks as separate dots
    gets from its matmuls alone; a trainer that fused the actor's and critic's layers into wider matmuls,
    or another kernel library, could do better.
Each is set against SB3's steps/s (figure / SB3) and jaxrl's (jaxrl / figure). SB3's and jaxrl's steps/s
are medians over rounds; each round measures every quantity once, in turn, and its own figures are kept
in the result file. SB3 runs as in ppo_peers.py (its own venv, one torch thread, gymnasium envs in a
DummyVecEnv). CPU only: on a GPU, fp32 matmuls run in TF32 by default and a loop of matmuls measures
launches, so the figures would not mean the same.
Writes bench/results/ppo-bound-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (compile_timed, interleaved_medians, jaxrl_side, median_time, peer_side,  # noqa: E402
                    provenance, write_cases)
from ppo_peers import CASES as PEER_CASES, HIDDEN, algo_config, env_steps, ours, sb3_request  # noqa: E402
from throughput import bare_gymnax, kernel_random  # noqa: E402

CASES = [c for c in PEER_CASES if c.startswith("PPO ")]
TARGET = 50  # the issue's target: jaxrl >= 50x SB3's env steps/s
PEAK_SIZES = (256, 512, 1024, 2048)
PEAK_SECONDS = 0.2  # about this long per timed call of a square-matmul program


# ---- the work any PPO trainer does ---------------------------------------------------------------------

def mlp_layers(inputs: int, hidden, outputs: int) -> list[tuple[int, int]]:
    """(in, out) of each dense layer of an MLP."""
    dims = [inputs, *hidden, outputs]
    return list(zip(dims[:-1], dims[1:]))


def forward_flops(layers, rows: int) -> int:
    """Matmul FLOPs of one forward pass over `rows` inputs (a multiply and an add per weight and row)."""
    return 2 * rows * sum(i * o for i, o in layers)


def gradient_flops(layers, rows: int) -> int:
    """Matmul FLOPs of a forward and backward pass: the forward pass, each layer's weight gradient (as many
    again), and each layer's input gradient but the first's (the observations need none)."""
    return 2 * forward_flops(layers, rows) + 2 * rows * sum(i * o for i, o in layers[1:])


def ppo_matmul_flops(obs_dim: int, actor_outputs: int, hidden, s: dict, iterations: int) -> dict:
    """The matmul FLOPs of a PPO call at settings `s` (num_envs, rollout_length, num_epochs,
    num_minibatches) over `iterations` iterations, separate actor and critic MLPs of widths `hidden`."""
    actor, critic = mlp_layers(obs_dim, hidden, actor_outputs), mlp_layers(obs_dim, hidden, 1)
    n, t = s["num_envs"], s["rollout_length"]
    rows = n * t // s["num_minibatches"]
    steps = iterations * s["num_epochs"] * s["num_minibatches"]
    both = lambda count, r: count(actor, r) + count(critic, r)  # noqa: E731
    # acting: both networks on every observation, and the critic on each env's last one (the bootstrap)
    rollout = iterations * (both(forward_flops, n * t) + forward_flops(critic, n))
    # each iteration's first gradient step runs at the acting parameters on observations the rollout has
    # already run the networks on, so a trainer could keep that forward pass from acting
    update = steps * both(gradient_flops, rows) - iterations * both(forward_flops, rows)
    return {"rollout": rollout, "update": update, "total": rollout + update, "gradient_steps": steps,
            "minibatch_rows": rows, "actor_layers": actor, "critic_layers": critic,
            # what matmul_program's two programs run (every forward pass, no bootstrap)
            "programs": {"rollout": iterations * both(forward_flops, n * t),
                         "update": steps * both(gradient_flops, rows)}}


def _transposed(x, plain: bool):
    """x.T; with `plain`, materialised (an optimization barrier keeps XLA from folding it into the next dot),
    so that the dot that takes it is a plain [I, K] @ [K, J] matmul: XLA's CPU backend runs those on faster
    kernels than dots that contract a leading axis (`jaxrl.core.networks._cpu_weight_tangent`)."""
    return jax.lax.optimization_barrier(x.T) if plain else x.T


def matmul_pass(weights, x, gradient: bool, plain: bool = False):
    """The matmuls of one pass of each network over `x` (no activations), and new weights or inputs that
    depend on them, so that passes run back to back and none can be skipped: with `gradient`, the forward
    pass, the weight gradients and the input gradients (as `gradient_flops` counts them), their transposes
    materialised first with `plain`; without, the forward pass alone."""
    new_weights, out = [], []
    for net in weights:
        hs = [x]
        for w in net:
            hs.append(hs[-1] @ w)
        out.append(hs[-1])
        if not gradient:
            new_weights.append(net)
            continue
        g, grads = hs[-1], [None] * len(net)
        for layer in range(len(net) - 1, -1, -1):
            grads[layer] = _transposed(hs[layer], plain) @ g
            if layer:
                g = g @ _transposed(net[layer], plain)
        new_weights.append([w - 1e-9 * dw for w, dw in zip(net, grads)])
    if gradient:
        return new_weights, x
    return new_weights, x + 1e-9 * sum(o[:, :1] for o in out)  # the next step's observations follow the actions


def matmul_program(flops: dict, passes: int, rows: int, gradient: bool, plain: bool = False):
    """A program (fn of a key) that runs `passes` matmul passes (`matmul_pass`) of the actor and critic of
    `flops` (ppo_matmul_flops) over `rows` rows, one after the other, and returns a checksum."""
    def run(key):
        keys = jax.random.split(key, 8)
        weights = [[jax.random.normal(k, (i, o)) / math.sqrt(i) for k, (i, o) in zip(keys, layers)]
                   for layers in (flops["actor_layers"], flops["critic_layers"])]
        x = jax.random.normal(keys[-1], (rows, flops["actor_layers"][0][0]))
        weights, x = jax.lax.fori_loop(0, passes, lambda _, c: matmul_pass(*c, gradient, plain), (weights, x))
        return sum(w.sum() for net in weights for w in net) + x.sum()

    return run


# ---- the machine's best matmul rate -------------------------------------------------------------------

def xla_square_gflops(n: int, repeats: int, seconds: float = PEAK_SECONDS) -> float:
    """XLA's fp32 rate on n x n matmuls: a program of k back-to-back products (by an identity matrix passed
    in, so the values stay put and XLA cannot know it), median of `repeats` calls."""
    k = max(1, int(seconds * 4e11 / (2 * n ** 3)))

    def run(a, b):
        return jax.lax.fori_loop(0, k, lambda _, c: c @ b, a)

    call, _ = compile_timed(run, jnp.ones((n, n), jnp.float32), jnp.eye(n, dtype=jnp.float32))
    return 2 * n ** 3 * k / median_time(call, repeats)[0] / 1e9


def numpy_square_gflops(n: int, repeats: int, seconds: float = PEAK_SECONDS) -> float:
    """numpy's BLAS on n x n fp32 matmuls (its default threads), median of `repeats` timings of k products."""
    a, b = np.ones((n, n), np.float32), np.eye(n, dtype=np.float32)
    k = max(1, int(seconds * 2e11 / (2 * n ** 3)))
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(k):
            a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 * k / statistics.median(times) / 1e9


def peak_gflops(sizes, repeats: int) -> dict:
    rates = {f"xla {n}": xla_square_gflops(n, repeats) for n in sizes}
    rates.update({f"numpy {n}": numpy_square_gflops(n, repeats) for n in sizes})
    return rates


# ---- one case ------------------------------------------------------------------------------------------

def env_dims(env_id: str) -> tuple[int, int]:
    """(observation size, actor outputs: logits of a discrete action or the means of a continuous one)."""
    from jaxrl.envs import make

    env = make(f"gymnax/{env_id}")
    space = env.action_space
    return int(np.prod(env.observation_space.shape)), int(space.n if hasattr(space, "n") else np.prod(space.shape))


FIGURES = ("ceiling", "with_env_loop", "xla_at_these_shapes")


def figures(steps: int, flops: int, peak: float, env_seconds: float, shape_seconds: float) -> dict:
    """The docstring's three figures (env steps/s) for a call of `steps` env steps."""
    at_peak = flops / (peak * 1e9)
    return {"ceiling": steps / at_peak, "with_env_loop": steps / (env_seconds + at_peak),
            "xla_at_these_shapes": steps / (env_seconds + shape_seconds)}


def summarise(rounds: list, flops: dict, steps: int) -> dict:
    """Each figure from the best of each measurement over the rounds (the fastest env loop, the highest
    matmul rate, the fastest programs), so that the inputs printed beside it give it back; SB3's and
    jaxrl's steps/s as medians over rounds."""
    env = max(max(r["env_loop_steps_per_second"].values()) for r in rounds)
    peak = max(r["peak_gflops"] for r in rounds)
    shapes = (min(r["matmuls_at_shapes_seconds"]["rollout"] for r in rounds)
              + min(update_seconds(r["matmuls_at_shapes_seconds"]) for r in rounds))
    out = {"jaxrl_steps_per_second": statistics.median(r["jaxrl_steps_per_second"] for r in rounds),
           "env_loop_steps_per_second": env, "peak_gflops": peak,
           "matmuls_at_shapes_gflops": sum(flops["programs"].values()) / shapes / 1e9,
           "figures": figures(steps, flops["total"], peak, steps / env, shapes)}
    out["jaxrl_over_figure"] = {k: out["jaxrl_steps_per_second"] / v for k, v in out["figures"].items()}
    if "sb3_steps_per_second" in rounds[0]:
        sb3 = statistics.median(r["sb3_steps_per_second"] for r in rounds)
        out.update(sb3_steps_per_second=sb3, jaxrl_over_sb3=out["jaxrl_steps_per_second"] / sb3,
                   figure_over_sb3={k: v / sb3 for k, v in out["figures"].items()},
                   figure_over_sb3_by_round={k: [r["figures"][k] / r["sb3_steps_per_second"] for r in rounds]
                                             for k in FIGURES})
    return out


def update_seconds(times: dict) -> float:
    """The update's matmul program in the faster of its layouts (`matmuls_at_shapes_seconds` of a round)."""
    return min(v for k, v in times.items() if k.startswith("update"))


def shape_seconds(row: dict) -> float:
    """The call's matmuls at the networks' shapes: the rollout's, and the update's in the faster layout."""
    times = row["matmuls_at_shapes_seconds"]
    return times["rollout"] + update_seconds(times)


def run_case(case: str, args) -> dict:
    s = PEER_CASES[case]
    env_id = case.split()[1]
    steps = env_steps(case, args.quick)
    iterations = steps // (s["num_envs"] * s["rollout_length"])
    obs_dim, actor_outputs = env_dims(env_id)
    flops = ppo_matmul_flops(obs_dim, actor_outputs, HIDDEN, s, iterations)
    key = jax.random.PRNGKey(0)
    n, t = s["num_envs"], s["rollout_length"]

    jaxrl = jaxrl_side(ours("ppo", env_id, s), steps, 1, args.repeats)
    sb3 = (peer_side("sb3", "sb3_worker.py", sb3_request("sb3", "ppo", env_id, algo_config("ppo", env_id, s),
                                                          steps, args.repeats)) if "sb3" in args.peers else None)
    loops = {name: compile_timed(fn(n, steps // n, env_id=f"gymnax/{env_id}"), key)[0]
             for name, fn in (("bare_env_loop", bare_gymnax), ("jaxrl_kernel", kernel_random))}
    shapes = {"rollout": compile_timed(matmul_program(flops, iterations * t, n, False), key)[0]}
    for layout, plain in (("standard", False), ("plain", True)):
        shapes[f"update, {layout} layout"] = compile_timed(matmul_program(
            flops, flops["gradient_steps"], flops["minibatch_rows"], True, plain), key)[0]
    rounds = []
    for r in range(args.rounds):
        row = {"jaxrl_steps_per_second": steps / jaxrl()["seconds"]}
        if sb3 is not None:
            row["sb3_steps_per_second"] = steps / sb3()["seconds"]
        env = interleaved_medians(loops, args.repeats)
        row["env_loop_steps_per_second"] = {name: steps / sec for name, (sec, _) in env.items()}
        row["matmuls_at_shapes_seconds"] = {name: median_time(call, args.repeats)[0] for name, call in shapes.items()}
        row["peak_gflops_by_size"] = peak_gflops(args.peak_sizes, args.repeats)
        row["peak_gflops"] = max(row["peak_gflops_by_size"].values())
        env_seconds = steps / max(row["env_loop_steps_per_second"].values())
        row["figures"] = figures(steps, flops["total"], row["peak_gflops"], env_seconds, shape_seconds(row))
        rounds.append(row)
        print(f"{case} round {r + 1}: jaxrl {row['jaxrl_steps_per_second']:,.0f}"
              + (f", SB3 {row['sb3_steps_per_second']:,.0f}" if sb3 else "")
              + f", env loop {max(row['env_loop_steps_per_second'].values()):,.0f} env steps/s; peak "
              f"{row['peak_gflops']:.0f} GFLOP/s; " + ", ".join(f"{k} {v:,.0f}" for k, v in
                                                                row["figures"].items()), flush=True)
    summary = summarise(rounds, flops, steps)
    return {"settings": s, "env_steps": steps, "iterations": iterations, "obs_dim": obs_dim,
            "actor_outputs": actor_outputs, "matmul_flops": flops, "rounds": rounds, "summary": summary}


LABELS = {"ceiling": "ceiling: matmuls at peak, env free", "with_env_loop": "+ XLA's env loop",
          "xla_at_these_shapes": "+ XLA's rate at these shapes"}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(result["results"])
    fig, axes = plt.subplots(1, len(cases), figsize=(6.5 * len(cases), 3.2), squeeze=False)
    for ax, case in zip(axes[0], cases):
        sm = result["results"][case]["summary"]
        bars = {**({"SB3": sm["sb3_steps_per_second"]} if "sb3_steps_per_second" in sm else {}),
                "jaxrl": sm["jaxrl_steps_per_second"], **{LABELS[k]: v for k, v in sm["figures"].items()}}
        ax.barh(list(bars), list(bars.values()),
                color=["tab:blue" if k == "jaxrl" else "tab:gray" if k == "SB3" else "tab:orange" for k in bars])
        if "sb3_steps_per_second" in sm:
            ax.axvline(TARGET * sm["sb3_steps_per_second"], color="tab:red", ls="--", label=f"{TARGET}x SB3")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_xscale("log")
        ax.set_xlabel("env steps / s")
        ax.set_title(case)
        for y, v in enumerate(bars.values()):
            ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    fig.suptitle(f"PPO: what any fp32 trainer could reach at the peer settings, {result['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    p.add_argument("--peers", nargs="*", default=["sb3"], choices=["sb3"], help="--peers alone: no SB3")
    p.add_argument("--repeats", type=int, default=3, help="timed calls of each program per round (median)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true",
                   help="a quarter of the iterations, 1 round of 1 repeat, matrices of 256 and 512 (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if jax.default_backend() != "cpu":
        p.error(f"ppo_bound.py measures the CPU, and this process's JAX runs on {jax.default_backend()} (on a GPU, "
                f"fp32 matmuls run in TF32 by default): run it with JAX_PLATFORMS=cpu")
    if args.quick:
        args.repeats, args.rounds = 1, 1
    args.peak_sizes = PEAK_SIZES[:2] if args.quick else PEAK_SIZES
    results = {}
    for case in args.cases:
        results[case] = run_case(case, args)
        path, result = write_cases("ppo-bound", lambda: provenance(
            benchmark="ppo_bound", target_over_sb3=TARGET, hidden_sizes=HIDDEN, repeats=args.repeats,
            rounds=args.rounds, quick=args.quick, peers=args.peers, peak_sizes=list(args.peak_sizes),
            results=results), args.cases, results, args.out, args.quick)
    plot(result, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
