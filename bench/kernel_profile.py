"""Where a training call's time goes on the device: PPO, jaxrl vs rejax, and ES, jaxrl vs a hand-written
evosax loop, under `jax.profiler` (a diagnostic).

    .venv/bin/python bench/kernel_profile.py [--cases "PPO CartPole-v1" ...] [--repeats 3] [--quick] [--out F]
                                             [--host-tracer-level 0|1|2]

launches.py counts the kernels each side's program runs; on a GPU at 16 envs jaxrl's PPO runs fewer
kernels than rejax's yet takes longer. This script times each side at the
settings of ppo_peers.py (one seed, median of --repeats calls after compilation), then runs one more call
under `jax.profiler.trace` and sums the device's events (bench/peers/trace_summary.py): how many, their
total duration, the time the device was busy (the union of the events' intervals), and the events with
the largest total time. Busy time well below the call's wall time means the device waits on launches and
host round trips; busy time near it means the kernels themselves are slow, and the top events say which.
Where the device waits, `gaps` says how: the idle intervals by length, and the kernels that start after
the most idle time (the launches it waited for; one after every long gap points at a host round trip
before it, many short gaps at a host that cannot keep up). `--host-tracer-level 1` also records the host's
runtime events (slower, and they stretch the gaps further), listed by count under `host`.
The profiled call itself runs slower than an untraced one, and its seconds include collecting the trace:
compare its busy time with its span (first device event to last).
The ES cases (es.py's comparison: CartPole, population 64, 100 generations) profile jaxrl's one-jit `train`
against evosax driven by a Python loop of jitted ask / rollout / tell, with one env key per generation
shared by the members (es.py's leanest loop); on a GPU jaxrl was 0.93-0.96x that loop.
Found with it on an H200 (2026-11-28, bench/FINDINGS.md): the two PPO programs' kernels add up to the same
device time, so jaxrl's extra time is the device waiting between kernels; jaxrl's ES ran one kernel per env
step more than the hand loop (VecEnv's key split for a single env, since removed).
On a CPU the trace has no device events: the rows then hold the timings only.
Writes bench/results/kernel-profile-<platform>.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import launches  # noqa: E402
from common import median_time, profiled, provenance, write_result  # noqa: E402

ES_CASES = {"ES Open_ES 64": ("Open_ES", 64), "ES CMA_ES 64": ("CMA_ES", 64)}
CASES = (*launches.CASES, *ES_CASES)


def es_sides(case: str, quick: bool, repeats: int, host_tracer_level: int = 0) -> dict:
    """{side: row} of an ES case: each side's call timed (median of `repeats`), then one call profiled."""
    import es

    strategy, population = ES_CASES[case]
    generations = 30 if quick else 100
    rows = {}
    for side, make in (("jaxrl", es.jaxrl_evosax), ("evosax loop", es.handwritten_evosax)):
        call, compile_s, _ = make(strategy, population, generations)
        seconds, times = median_time(call, repeats)
        rows[side] = dict(seconds=seconds, times=times, compile_seconds=compile_s, generations=generations,
                          **profiled(call, host_tracer_level))
    return rows


def line(case: str, side: str, row: dict) -> str:
    p = row["profile"]
    text = f"{case:16s} {side:11s} {row['seconds']:.3f} s/call | profiled call {row['profiled_seconds']:.3f} s"
    if not p.get("device_events"):
        return text + f" | {p.get('note', 'no device events')}"
    return (text + f" | {p['device_events']:,} device events, busy {p['busy_us'] / 1e6:.3f} s "
            f"({p['busy_us'] / 1e6 / row['profiled_seconds']:.0%} of the profiled call), span "
            f"{p['span_us'] / 1e6:.3f} s, median event {p['median_event_us']:.2f} us, mean "
            f"{p['total_event_us'] / p['device_events']:.2f} us")


def gap_lines(profile: dict, top: int = 4) -> list[str]:
    """Printed account of a profile's idle gaps (trace_summary.idle_gaps) and its most frequent host events."""
    out = []
    g = profile.get("gaps")
    if g and g["count"]:
        bins = ", ".join(f"{b['gap']}: {b['count']:,} ({b['total_us'] / 1e3:.1f} ms)" for b in g["by_length"] if b["count"])
        out.append(f"      idle {g['total_us'] / 1e3:.1f} ms in {g['count']:,} gaps | {bins}")
        for e in g["next_events"][:top]:
            out.append(f"      {e['total_us'] / 1e3:8.1f} ms idle before {e['count']:>7,} x {e['name'][:80]} "
                       f"(mean gap {e['mean_us']:.2f} us)")
    for e in profile.get("host", {}).get("top_by_count", [])[:top]:
        out.append(f"      host {e['count']:>8,} x {e['mean_us']:7.2f} us  {e['name'][:90]}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="a quarter of PPO's env steps, 30 ES generations, 1 repeat")
    p.add_argument("--out", default=None)
    p.add_argument("--host-tracer-level", type=int, default=0, choices=(0, 1, 2),
                   help="also trace the host's runtime events (0: device events only)")
    args = p.parse_args(argv)
    import ppo_peers

    repeats = 1 if args.quick else args.repeats
    results = {}
    for case in args.cases:
        if case in ES_CASES:
            results[case] = es_sides(case, args.quick, repeats, args.host_tracer_level)
        else:
            steps = ppo_peers.env_steps(case, args.quick)
            results[case] = {side: run(case, steps, repeats, mode="profile", host_tracer_level=args.host_tracer_level)
                             for side, run in (("jaxrl", launches.ours), ("rejax", launches.rejax))}
        for side, row in results[case].items():
            print(line(case, side, row), flush=True)
            for e in row["profile"].get("top_events", [])[:6]:
                print(f"      {e['total_us'] / 1e3:8.1f} ms  {e['count']:>7,} x {e['mean_us']:6.2f} us  {e['name'][:90]}",
                      flush=True)
            for text in gap_lines(row["profile"]):
                print(text, flush=True)
    write_result("kernel-profile", provenance(benchmark="kernel_profile", cases=args.cases, repeats=repeats,
                                              quick=args.quick, host_tracer_level=args.host_tracer_level,
                                              results=results), args.out, args.quick)


if __name__ == "__main__":
    main()
