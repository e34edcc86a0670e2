"""What jaxrl's Dense weight-gradient layout buys each trainer on CPU (a diagnostic, not a peer comparison).

    .venv/bin/python bench/weight_gradients.py [--cases ...] [--repeats 7] [--quick] [--out F]

Every Dense layer in jaxrl multiplies through `jaxrl.core.networks.dense_matmul`, whose derivative rule
lays the weight gradient x^T g out as a plain [I, B] @ [B, J] matmul on CPU (XLA's CPU backend leaves the
standard form, a dot that contracts both operands over the batch axis, to slower Eigen kernels). This
script compiles each trainer twice in one process: as users get it, and traced inside
`networks.standard_weight_gradients()`, which gives every layer the standard derivative (the program
flax's own Dense makes). It counts the dots left in the standard weight-gradient form in each compiled
program, then times the two interleaved. Outputs are not compared bit for bit: the two forms round
differently (the derivative rule's values are tested against a plain matmul in tests/test_networks.py).
The throughput cases use the settings of ppo_peers.py and offpolicy_peers.py (one seed); VPG, REINFORCE
and TRPO use their CartPole presets. Writes bench/results/weight-gradients-<platform>.json.
"""
from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import prng_lowering  # noqa: E402
from common import (ab_diagnostic_args, compile_timed, interleaved_medians, provenance, speedup_plot,  # noqa: E402
                    write_result)

PRESET_CASES = {"VPG CartPole-v1": 65_536, "REINFORCE CartPole-v1": 64_000, "TRPO CartPole-v1": 65_536}
CASES = [*prng_lowering.CASES, *PRESET_CASES]


def overrides(case: str, quick: bool) -> tuple[list[str], int]:
    if case not in PRESET_CASES:
        return prng_lowering.overrides(case, quick)
    algo, env_id = case.split()
    return [f"env=gymnax/{env_id}", f"algo={algo.lower()}"], PRESET_CASES[case] // (4 if quick else 1)


def leading_axis_dots(hlo: str) -> int:
    """Dots in a compiled program whose left operand contracts over its leading axis: the standard weight
    gradient x^T g with x stored batch-major, which XLA's CPU backend runs with Eigen (in the programs here
    its layout pass sometimes transposes the right operand; the left still contracts over its first axis).
    jaxrl's layout keeps this form for vector heads (J = 1), batches over 4,096 rows and TRPO's Fisher
    products."""
    return sum(1 for line in hlo.splitlines() if re.search(r"\bdot\(", line) and "lhs_contracting_dims={0}" in line)


def compiled(case: str, quick: bool, standard: bool):
    from jaxrl.config import load_config
    from jaxrl.core import networks
    from jaxrl.core.train import make_train_many

    over, steps = overrides(case, quick)
    config = load_config([*over, f"total_env_steps={steps}", "num_seeds=1"])
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    # a trace-time switch: it must hold while lowering
    with networks.standard_weight_gradients() if standard else contextlib.nullcontext():
        call, info = compile_timed(make_train_many(config), keys, hlo=True)
    return call, info, steps


def main(argv=None) -> None:
    args = ab_diagnostic_args(__doc__, CASES, argv)
    repeats = args.repeats
    rows = {}
    for case in args.cases:
        standard, s_info, steps = compiled(case, args.quick, standard=True)
        ours, o_info, _ = compiled(case, args.quick, standard=False)
        times = interleaved_medians({"standard": standard, "jaxrl": ours}, repeats)
        rows[case] = {"env_steps": steps,
                      "standard_seconds": times["standard"][0], "jaxrl_seconds": times["jaxrl"][0],
                      "speedup": times["standard"][0] / times["jaxrl"][0],
                      "standard_seconds_per_round": times["standard"][1],
                      "jaxrl_seconds_per_round": times["jaxrl"][1],
                      "standard_leading_axis_dots": leading_axis_dots(s_info["hlo"]),
                      "jaxrl_leading_axis_dots": leading_axis_dots(o_info["hlo"]),
                      "standard_compile_seconds": s_info["compile_seconds"],
                      "jaxrl_compile_seconds": o_info["compile_seconds"]}
        r = rows[case]
        print(f"{case:22s} standard {r['standard_seconds']:.3f}s  jaxrl {r['jaxrl_seconds']:.3f}s  "
              f"speed-up {r['speedup']:.2f}  leading-axis dots {r['standard_leading_axis_dots']} -> "
              f"{r['jaxrl_leading_axis_dots']}  compile {r['standard_compile_seconds']:.1f}s vs "
              f"{r['jaxrl_compile_seconds']:.1f}s", flush=True)
    path = write_result("weight-gradients", provenance(benchmark="weight_gradients", repeats=repeats,
                                                       quick=args.quick, results=rows), args.out, quick=args.quick)
    speedup_plot(json.loads(path.read_text()), path.with_suffix(".png"),
                 "speed-up of jaxrl's layout over the standard form", "Dense weight gradients on CPU")


if __name__ == "__main__":
    main()
