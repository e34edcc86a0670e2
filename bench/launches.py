"""How many device kernels and while-loop iterations one `train` call runs: jaxrl vs rejax (a diagnostic).

    .venv/bin/python bench/launches.py [--cases "PPO CartPole-v1" ...] [--repeats 5] [--quick] [--out F]
                                       [--dump-hlo DIR]

On a GPU, small-batch RL training (16 CartPole envs) is bound by launches, not arithmetic: every kernel
costs a few microseconds of launch and scheduling. This script compiles each side's training program at the settings
of ppo_peers.py (one seed), reads XLA's optimized program (`compiled.as_text()`), and counts per call:

- kernels: the instructions of the program's non-fusion computations that run as kernels (fusions, custom
  calls such as cuBLAS or threefry, copies, sorts, ...; an asynchronous fusion counts its start and its
  done), each multiplied by the trip counts of the loops
  around it (XLA records `known_trip_count` on the loops it can count; a loop without one counts once and
  is listed, so the total is then a lower bound);
- loop iterations: the same sum over while loops (on a GPU, an iteration of a loop whose trip count XLA
  knows runs its body's launches and nothing else; a loop without one copies its predicate to the host
  and waits for the device at every iteration);
- conditionals run: each one, on a GPU, copies its branch index to the host and waits for the device to
  finish everything launched before it (XLA's `ConditionalThunk`), so the device then idles while the host
  launches the branch;
- the loops themselves, by nesting, with their trip counts and kernels per iteration, from the JAX op that
  made each (XLA's metadata), and the kernels directly in each loop's body by the JAX op that made them,
  so that the counts can be traced to code, and by kind (elementwise, reduction, matmul, ...), for
  comparing two programs whose counts match but whose times do not.

It also times each program (median of --repeats calls after compilation) so that seconds per kernel can be
compared. The counts are of the program for this process's default device; on CPU they describe the same
JAX program but XLA's CPU fusion decisions. Writes bench/results/launches-<platform>.json.
"""
from __future__ import annotations

import argparse
import gzip
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import jaxrl_side, provenance, run_peer, write_result  # noqa: E402

CASES = ("PPO CartPole-v1", "PPO Pendulum-v1")
# instructions that are no kernel of their own (bookkeeping, or control flow counted through its callees)
NOT_KERNELS = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "while", "conditional", "call",
               "after-all", "add-dependency", "opt-barrier", "partition-id", "replica-id", "iota", "async-done",
               "async-update", "copy-done"}
_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_ASSIGN = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*)$")


def _opcode_and_rest(rhs: str) -> tuple[str, str]:
    """The opcode of an instruction's right-hand side (`type opcode(operands), attrs`) and what follows it."""
    i = 0
    if rhs.startswith("("):  # a tuple type: skip its balanced parentheses
        depth = 0
        for i, ch in enumerate(rhs):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                break
        i += 1
    else:
        i = rhs.find(" ")
    m = re.match(r"\s*([\w\-]+)\((.*)$", rhs[i:])
    return (m.group(1), m.group(2)) if m else ("", rhs)


def parse_hlo(text: str) -> tuple[dict, str]:
    """{computation: [(opcode, attributes text)]} of an HLO module's text, and the entry computation's name."""
    comps, entry, current = {}, None, None
    for line in text.splitlines():
        if current is None:
            m = _HEADER.match(line)
            if m and not line.startswith("HloModule"):
                current = m.group(2)
                comps[current] = []
                if m.group(1):
                    entry = current
            continue
        if line.strip() == "}":
            current = None
            continue
        m = _ASSIGN.match(line)
        if m:
            comps[current].append(_opcode_and_rest(m.group(1)))
    if entry is None:
        raise ValueError("no ENTRY computation in the HLO text")
    return comps, entry


def _attr(rest: str, name: str) -> str | None:
    m = re.search(rf"\b{name}=%?([\w.\-]+)", rest)
    return m.group(1) if m else None


def _trip_count(rest: str) -> int | None:
    m = re.search(r'"known_trip_count":\{"n":"(\d+)"', rest)
    return int(m.group(1)) if m else None


def _op_name(rest: str) -> str:
    m = re.search(r'op_name="([^"]*)"', rest)
    return m.group(1) if m else ""


def _tally_kernels(instrs, label) -> dict:
    """{label(opcode, attributes): count} of the kernels directly in a computation, most frequent first."""
    out = {}
    for opcode, rest in instrs:
        if opcode not in NOT_KERNELS and opcode not in ("while", "call", "conditional"):
            key = label(opcode, rest)
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _made_by(opcode: str, rest: str) -> str:
    """The JAX op that made a kernel (the end of XLA's op_name), or its opcode."""
    return "/".join(_op_name(rest).split("/")[-2:]) or opcode


def _kernel_kind(opcode: str, rest: str) -> str:
    """What sort of kernel an instruction is, from XLA's fusion kind: `elementwise` (a loop fusion),
    `reduction` (an input fusion: a reduce, e.g. a bias gradient or a loss mean), `gemm` (a matmul: a
    Triton GEMM fusion or a cuBLAS call), `triton` (another Triton fusion, e.g. a softmax or a small
    reduction), or the opcode (copy, sort, a custom call, an asynchronous fusion's start or done, ...)."""
    if opcode == "fusion":
        triton = re.search(r'"kind":"(__triton\w*)"', rest)
        if triton:
            return "gemm" if "gemm" in triton.group(1) else "triton"
        kind = re.search(r"kind=k(\w+)", rest)
        return {"Loop": "elementwise", "Input": "reduction", "Output": "output-fusion"}.get(
            kind.group(1), kind.group(1).lower()) if kind else "fusion"
    if opcode == "custom-call" and re.search(r'custom_call_target="[^"]*(cublas|gemm|matmul)', rest, re.I):
        return "gemm"
    return opcode


def count(text: str) -> dict:
    """Kernels and while-loop iterations per run of an HLO module (see the module's docstring), with its loops."""
    comps, entry = parse_hlo(text)
    loops = []

    graph = [0]  # kernels inside XLA's command buffers (CUDA graphs on a GPU: one launch for the lot)

    visited = set()

    def walk(name: str, depth: int, in_graph: bool = False) -> tuple[int, int, int]:
        visited.add(name)
        kernels = iterations = conditionals = 0
        for opcode, rest in comps.get(name, []):
            if opcode == "while":
                body, cond, trips = _attr(rest, "body"), _attr(rest, "condition"), _trip_count(rest)
                row = {"depth": depth, "trip_count": trips, "op": _op_name(rest)[-160:]}
                loops.append(row)
                row["kernels_in_body"] = _tally_kernels(comps.get(body, []), _made_by)
                row["kernel_kinds_in_body"] = _tally_kernels(comps.get(body, []), _kernel_kind)
                bk, bi, bc = walk(body, depth + 1, in_graph)
                ck, ci, cc = walk(cond, depth + 1, in_graph)
                n = trips if trips is not None else 1
                row.update(kernels_per_iteration=bk + ck, loop_iterations_per_iteration=bi + ci,
                           conditionals_per_iteration=bc + cc)
                kernels += n * (bk + ck) + ck
                iterations += n * (1 + bi + ci)
                conditionals += n * (bc + cc) + cc
            elif opcode == "conditional":
                branches = re.findall(r"%?([\w.\-]+)", (re.search(r"branch_computations=\{([^}]*)\}", rest) or
                                                         re.search(r"(true_computation=\S+)", rest)).group(1))
                for attr in ("true_computation", "false_computation"):
                    if _attr(rest, attr):
                        branches.append(_attr(rest, attr))
                costs = [walk(b, depth, in_graph) for b in branches if b in comps]
                kernels += 1 + max((k for k, _, _ in costs), default=0)  # the branch index goes to the host
                iterations += max((i for _, i, _ in costs), default=0)
                conditionals += 1 + max((c for _, _, c in costs), default=0)
            elif opcode == "call":
                callee = _attr(rest, "to_apply")
                k, i, c = walk(callee, depth, in_graph or "command_buffer" in callee)
                kernels += k
                iterations += i
                conditionals += c
            elif opcode not in NOT_KERNELS:
                kernels += 1
                graph[0] += in_graph
        return kernels, iterations, conditionals

    kernels, iterations, conditionals = walk(entry, 0)
    opcodes = {}
    for name in visited:  # the computations that run as a sequence of kernels, not fusions or reducers
        for opcode, _ in comps.get(name, []):
            if opcode not in NOT_KERNELS:
                opcodes[opcode] = opcodes.get(opcode, 0) + 1
    return {"kernels_per_call": kernels, "loop_iterations_per_call": iterations,
            "conditionals_per_call": conditionals, "command_buffer_kernels_static": graph[0],
            "loops_without_trip_count": sum(r["trip_count"] is None for r in loops),
            "kernel_instructions": dict(sorted(opcodes.items(), key=lambda kv: -kv[1])), "loops": loops}


def ours(case: str, steps: int, repeats: int, mode: str = "hlo", host_tracer_level: int = 0) -> dict:
    """jaxrl's row at ppo_peers.py's settings, one seed, with its compiled program (`mode` "hlo") or one more
    call under the profiler ("profile", for kernel_profile.py, at `host_tracer_level`)."""
    import ppo_peers

    algo, env_id = case.split()
    return jaxrl_side(ppo_peers.ours(algo.lower(), env_id, ppo_peers.CASES[case]), steps, 1, repeats,
                      hlo=mode == "hlo", profile=mode == "profile", host_tracer_level=host_tracer_level)()


def rejax(case: str, steps: int, repeats: int, mode: str = "hlo", host_tracer_level: int = 0) -> dict:
    """rejax's row at the same settings, from its worker in `mode` ("hlo" or "profile")."""
    import ppo_peers

    algo, env_id = case.split()
    a = ppo_peers.algo_config(algo.lower(), env_id, ppo_peers.CASES[case])
    request = dict(ppo_peers.rejax_request(a, steps, env_id, repeats), mode=mode,
                   host_tracer_level=host_tracer_level)
    return run_peer("rejax", "rejax_worker.py", request)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="a quarter of the env steps, 2 repeats")
    p.add_argument("--out", default=None)
    p.add_argument("--dump-hlo", default=None, metavar="DIR",
                   help="also write each side's optimized program to DIR/<case>-<side>.hlo.txt.gz")
    args = p.parse_args(argv)
    import ppo_peers

    repeats = 2 if args.quick else args.repeats
    results = {}
    for case in args.cases:
        steps = ppo_peers.env_steps(case, args.quick)
        results[case] = {}
        for side, fn in (("jaxrl", ours), ("rejax", rejax)):
            run = fn(case, steps, repeats)
            text = run.pop("hlo")
            if args.dump_hlo:
                Path(args.dump_hlo).mkdir(parents=True, exist_ok=True)
                name = f"{case.replace(' ', '-')}-{side}.hlo.txt.gz"
                with gzip.open(Path(args.dump_hlo) / name, "wt") as f:
                    f.write(text)
            row = dict(count(text), **run)
            row["env_steps"] = steps
            row["microseconds_per_kernel"] = 1e6 * row["seconds"] / max(row["kernels_per_call"], 1)
            results[case][side] = row
            print(f"{case:16s} {side:6s} {row['kernels_per_call']:>9,} kernels/call "
                  f"({row['kernels_per_call'] / steps:6.3f} per env step) | "
                  f"{row['loop_iterations_per_call']:>7,} loop iterations | "
                  f"{row['loops_without_trip_count']} loops of unknown trip count | "
                  f"{row['conditionals_per_call']:,} conditionals run | "
                  f"{row['command_buffer_kernels_static']} kernel instructions in command buffers | {row['seconds']:.3f} s/call "
                  f"({row['microseconds_per_kernel']:.2f} us/kernel)", flush=True)
            for loop in row["loops"]:
                if loop["trip_count"] is None or loop["trip_count"] > 1:
                    print(f"    {'  ' * loop['depth']}x{loop['trip_count']}: {loop['kernels_per_iteration']} "
                          f"kernels/iteration  {loop['op'][-90:]}", flush=True)
        ours_row, peer = results[case]["jaxrl"], results[case]["rejax"]
        print(f"{case}: kernels jaxrl/rejax {ours_row['kernels_per_call'] / peer['kernels_per_call']:.2f}, "
              f"loop iterations {ours_row['loop_iterations_per_call'] / max(peer['loop_iterations_per_call'], 1):.2f}, "
              f"seconds {ours_row['seconds'] / peer['seconds']:.2f}", flush=True)
    result = provenance(benchmark="launches", cases=args.cases, repeats=repeats, quick=args.quick,
                        results=results)
    write_result("launches", result, args.out, args.quick)


if __name__ == "__main__":
    main()
