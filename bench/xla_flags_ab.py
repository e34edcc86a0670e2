"""jaxrl's trainers under XLA's default CPU code generation vs with other XLA_FLAGS (a diagnostic, not a peer
comparison): where the `jaxrl` CLI's `--xla_cpu_prefer_vector_width=512` on Zen 5 CPUs comes from
(jaxrl/xla_tuning.py).

    .venv/bin/python bench/xla_flags_ab.py [--cases ...] [--with=--xla_cpu_prefer_vector_width=512 ...]
                                           [--rounds 3] [--repeats 5] [--quick] [--out F]

Each `--with=FLAGS` (write it with "=": its value starts with "--") is one XLA_FLAGS setting to set against
XLA's defaults; without any, the one the CLI applies on Zen 5.

XLA reads XLA_FLAGS once, when a process's JAX starts, so each (case, flags) pair runs in a fresh worker
process of this script with XLA_FLAGS set to the flags (and nothing else set, whatever this process has),
which compiles the case's `make_train_many` program for one seed at the peer tables' settings
(`idle_resets_ab.config_of`) and times --repeats calls (median). A round runs every pair once, the flag
settings in a rotating order; `speedup_per_round` is the first setting's seconds (XLA's defaults, "") over
each other's in the same round, and `speedup` their median. The first compile of every process is slower
and lands in `compile_seconds` alike on every side. Writes bench/results/xla-flags-ab-<platform>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import provenance, speedup_plot, write_result  # noqa: E402

CASES = ["PPO CartPole-v1", "PPO Pendulum-v1", "A2C CartPole-v1", "DQN CartPole-v1", "SAC Pendulum-v1"]
DEFAULT_WITH = ["--xla_cpu_prefer_vector_width=512"]


def worker(case: str, repeats: int, quick: bool) -> dict:
    """In this process (XLA_FLAGS already set by the parent): the case's program compiled and timed."""
    import jax

    from common import compile_timed, median_time
    from idle_resets_ab import config_of
    from jaxrl.core.train import make_train_many

    config, steps = config_of(case, quick)
    call, info = compile_timed(make_train_many(config), jax.random.split(jax.random.PRNGKey(0), 1))
    seconds, times = median_time(call, repeats)
    return {"seconds": seconds, "times": times, "compile_seconds": info["compile_seconds"], "env_steps": steps,
            "xla_flags_seen": os.environ.get("XLA_FLAGS", "")}


def run_worker(case: str, flags: str, repeats: int, quick: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(PYTHONUNBUFFERED="1", JAX_ENABLE_COMPILATION_CACHE="false", **({"XLA_FLAGS": flags} if flags else {}))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, "--repeats", str(repeats)]
    proc = subprocess.run(cmd + (["--quick"] if quick else []), env=env, text=True, stdout=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} with XLA_FLAGS={flags!r}: the worker exited {proc.returncode} (its stderr is "
                           f"above; an unknown flag stops XLA with 'Unknown flag in XLA_FLAGS')")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(rows_by_flags: dict) -> dict:
    """{flags: [row per round]} -> each setting's median seconds, and the speed-ups over the first setting."""
    base, *_ = rows_by_flags
    out = {"env_steps": rows_by_flags[base][0]["env_steps"], "settings": {}}
    for flags, rows in rows_by_flags.items():
        per_round = [b["seconds"] / r["seconds"] for b, r in zip(rows_by_flags[base], rows)]
        out["settings"][flags] = {"seconds": statistics.median(r["seconds"] for r in rows),
                                  "seconds_per_round": [r["seconds"] for r in rows],
                                  "compile_seconds": statistics.median(r["compile_seconds"] for r in rows),
                                  "speedup": statistics.median(per_round), "speedup_per_round": per_round}
    other = [f for f in rows_by_flags if f != base]
    if other:  # the plot's bar: the first setting other than the defaults
        out["speedup"] = out["settings"][other[0]]["speedup"]
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    p.add_argument("--with", dest="settings", action="append", default=None, metavar="=FLAGS",
                   help="an XLA_FLAGS setting to time against XLA's defaults (repeatable; write --with=FLAGS)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per worker (median)")
    p.add_argument("--quick", action="store_true", help="short calls, 1 round of 1 repeat (smoke run)")
    p.add_argument("--out", default=None)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.quick)))
        return
    args.flags = ["", *(args.settings or DEFAULT_WITH)]
    if len(set(args.flags)) != len(args.flags) or not all(f.strip() for f in args.flags[1:]):
        p.error(f"--with: each setting once, none empty (XLA's defaults are always the first): {args.flags[1:]}")
    if args.quick:
        args.rounds, args.repeats = 1, 1
    runs = {case: {flags: [] for flags in args.flags} for case in args.cases}
    for r in range(args.rounds):
        for case in args.cases:
            order = args.flags[r % len(args.flags):] + args.flags[:r % len(args.flags)]
            for flags in order:
                row = run_worker(case, flags, args.repeats, args.quick)
                runs[case][flags].append(row)
                print(f"round {r + 1} {case:16s} {flags or '(XLA defaults)':40s} {row['seconds']:.4f} s", flush=True)
    results = {case: summarise(rows) for case, rows in runs.items()}
    for case, x in results.items():
        print(f"{case:16s} " + "  ".join(f"{f or 'defaults'}: {s['speedup']:.3f}x" for f, s in x["settings"].items()))
    result = provenance(benchmark="xla_flags_ab", flags=args.flags, rounds=args.rounds, repeats=args.repeats,
                        quick=args.quick, seeds=[0], results=results, raw=runs)
    path = write_result("xla-flags-ab", result, args.out, quick=args.quick)
    if len(args.flags) > 1:
        speedup_plot(result, path.with_suffix(".png"), f"speed-up with {args.flags[1] or 'defaults'} over "
                     f"{args.flags[0] or 'XLA defaults'}", "XLA CPU flags")


if __name__ == "__main__":
    main()
