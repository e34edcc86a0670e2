"""What jaxrl's Dense weight-gradient layout buys each trainer on CPU (a diagnostic, not a peer comparison).

    .venv/bin/python bench/weight_gradients.py [--cases ...] [--repeats 7] [--quick] [--out F]

Every Dense layer in jaxrl multiplies through `jaxrl.core.networks.dense_matmul`, whose derivative rule
lays the weight gradient x^T g out as a plain [I, B] @ [B, J] matmul on CPU (XLA's CPU backend leaves the
standard form, a dot that contracts both operands over the batch axis, to slower Eigen kernels). This
script compiles each trainer twice in one process: as users get it, and traced inside
`networks.standard_weight_gradients()`, which gives every layer the standard derivative (the program
flax's own Dense makes). It counts the batch-contracting dots left in each compiled program, then times
the two interleaved. Outputs are not compared bit for bit: the two forms round differently (the derivative
rule's values are tested against a plain matmul in tests/test_networks.py). The throughput cases use the
settings of ppo_peers.py and offpolicy_peers.py (one seed); VPG, REINFORCE and TRPO use their CartPole
presets. Writes bench/results/weight-gradients-<platform>.json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import prng_lowering  # noqa: E402
from common import compile_timed, interleaved_medians, provenance, speedup_plot, write_result  # noqa: E402

PRESET_CASES = {"VPG CartPole-v1": 65_536, "REINFORCE CartPole-v1": 64_000, "TRPO CartPole-v1": 65_536}
CASES = [*prng_lowering.CASES, *PRESET_CASES]


def overrides(case: str, quick: bool) -> tuple[list[str], int]:
    if case not in PRESET_CASES:
        return prng_lowering.overrides(case, quick)
    algo, env_id = case.split()
    return [f"env=gymnax/{env_id}", f"algo={algo.lower()}"], PRESET_CASES[case] // (4 if quick else 1)


def batch_contracting_dots(hlo: str) -> int:
    """Dots in a compiled program that contract both operands over their leading axis: the standard
    weight-gradient form, which XLA's CPU backend runs with Eigen."""
    return sum(1 for line in hlo.splitlines() if re.search(r"\bdot\(", line)
               and "lhs_contracting_dims={0}" in line and "rhs_contracting_dims={0}" in line)


def compiled(case: str, quick: bool, standard: bool):
    from jaxrl.config import load_config
    from jaxrl.core import networks
    from jaxrl.core.train import make_train_many

    over, steps = overrides(case, quick)
    config = load_config([*over, f"total_env_steps={steps}", "num_seeds=1"])
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    if standard:
        with networks.standard_weight_gradients():  # a trace-time switch: it must hold while lowering
            call, info = compile_timed(make_train_many(config), keys, hlo=True)
    else:
        call, info = compile_timed(make_train_many(config), keys, hlo=True)
    return call, info, steps


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    p.add_argument("--repeats", type=int, default=7, help="interleaved timed calls per side (median)")
    p.add_argument("--quick", action="store_true", help="short calls, 1 repeat (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    jax.block_until_ready(jax.jit(lambda x: x + 1)(1.0))  # the process's first compile is slower: not a case's
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
                      "standard_batch_contracting_dots": batch_contracting_dots(s_info["hlo"]),
                      "jaxrl_batch_contracting_dots": batch_contracting_dots(o_info["hlo"]),
                      "standard_compile_seconds": s_info["compile_seconds"],
                      "jaxrl_compile_seconds": o_info["compile_seconds"]}
        r = rows[case]
        print(f"{case:22s} standard {r['standard_seconds']:.3f}s  jaxrl {r['jaxrl_seconds']:.3f}s  "
              f"speed-up {r['speedup']:.2f}  batch-contracting dots {r['standard_batch_contracting_dots']} -> "
              f"{r['jaxrl_batch_contracting_dots']}  compile {r['standard_compile_seconds']:.1f}s vs "
              f"{r['jaxrl_compile_seconds']:.1f}s", flush=True)
    path = write_result("weight-gradients", provenance(benchmark="weight_gradients", repeats=repeats,
                                                       quick=args.quick, results=rows), args.out, quick=args.quick)
    speedup_plot(json.loads(path.read_text()), path.with_suffix(".png"),
                 "speed-up of jaxrl's layout over the standard form", "Dense weight gradients on CPU")


if __name__ == "__main__":
    main()
