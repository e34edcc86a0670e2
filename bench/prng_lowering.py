"""What JAX's rolled threefry loops cost jaxrl's trainers on CPU (a diagnostic, not a peer comparison).

    .venv/bin/python bench/prng_lowering.py [--repeats 7] [--quick] [--out F]

On CPU, JAX lowers `threefry2x32` (behind every `jax.random` draw) as a 5-round `fori_loop`, to keep compile
times down; on GPU it unrolls the rounds. Inside a rollout each draw (the action sample, a split of per-env
keys, a reset draw) is then a small XLA while loop over tiny arrays. This script compiles each trainer twice
in one process, first with JAX's CPU lowering, then with the unrolled one registered for CPU (a private JAX
hook, for this measurement only), checks that both give bit-identical outputs, and times them interleaved.
The throughput settings are those of ppo_peers.py and offpolicy_peers.py (one seed). Writes
bench/results/prng-lowering-<platform>.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import offpolicy_peers  # noqa: E402
import ppo_peers  # noqa: E402
from common import (ab_diagnostic_args, compile_timed, interleaved_medians, provenance, speedup_plot,  # noqa: E402
                    write_result)

CASES = {"PPO CartPole-v1": None, "PPO Pendulum-v1": None, "A2C CartPole-v1": None,
         "DQN CartPole-v1": 20_000, "SAC Pendulum-v1": 3_000}  # env steps per call (on-policy: ppo_peers')


def overrides(case: str, quick: bool) -> tuple[list[str], int]:
    algo, env_id = case.split()
    if algo in ("PPO", "A2C"):
        return ppo_peers.ours(algo.lower(), env_id, ppo_peers.CASES[case]), ppo_peers.env_steps(case, quick)
    return offpolicy_peers.ours(case), (1_200 if quick else CASES[case])


def compiled(case: str, quick: bool):
    from jaxrl.config import load_config
    from jaxrl.core.train import make_train_many

    over, steps = overrides(case, quick)
    config = load_config([*over, f"total_env_steps={steps}", "num_seeds=1"])
    call, info = compile_timed(make_train_many(config), jax.random.split(jax.random.PRNGKey(0), 1))
    return call, info["compile_seconds"], steps


def unroll_threefry_on_cpu() -> None:
    """Register JAX's unrolled threefry lowering (its GPU default) for CPU, for programs lowered from now on."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as tf
        mlir.register_lowering(tf.threefry2x32_p, tf._threefry2x32_lowering_rule, platform="cpu")
    except (ImportError, AttributeError) as e:
        raise SystemExit(f"this jax ({jax.__version__}) keeps threefry's lowering elsewhere: {e}") from e


def main(argv=None) -> None:
    args = ab_diagnostic_args(__doc__, CASES, argv)
    repeats = args.repeats
    rolled = {case: compiled(case, args.quick) for case in args.cases}
    unroll_threefry_on_cpu()
    unrolled = {case: compiled(case, args.quick) for case in args.cases}
    rows = {}
    for case in args.cases:
        (a, a_compile, steps), (b, b_compile, _) = rolled[case], unrolled[case]
        same = all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a()), jax.tree.leaves(b())))
        times = interleaved_medians({"rolled": a, "unrolled": b}, repeats)
        rows[case] = {"env_steps": steps, "identical_outputs": same,
                      "rolled_seconds": times["rolled"][0], "unrolled_seconds": times["unrolled"][0],
                      "speedup": times["rolled"][0] / times["unrolled"][0],
                      "rolled_compile_seconds": a_compile, "unrolled_compile_seconds": b_compile}
        print(f"{case:16s} rolled {rows[case]['rolled_seconds']:.3f}s  unrolled {rows[case]['unrolled_seconds']:.3f}s"
              f"  speedup {rows[case]['speedup']:.2f}  compile {a_compile:.1f}s vs {b_compile:.1f}s"
              f"  identical outputs: {same}", flush=True)
    path = write_result("prng-lowering", provenance(benchmark="prng_lowering", repeats=repeats, quick=args.quick,
                                                    results=rows), args.out, quick=args.quick)
    speedup_plot(json.loads(path.read_text()), path.with_suffix(".png"),
                 "speed-up of the unrolled lowering over the rolled one", "threefry lowering")


if __name__ == "__main__":
    main()
