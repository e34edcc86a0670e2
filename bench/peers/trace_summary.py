"""Summarise a `jax.profiler.trace` folder: what the device spent its time on (standard library only, so
that the peers' workers can import it from their own environments).

The profiler writes `plugins/profile/<run>/<host>.trace.json.gz`: Chrome trace events, one complete event
("ph": "X", with "ts" and "dur" in microseconds) per host activity and, on a GPU (through CUPTI), per kernel
and memory copy, under a process named "/device:GPU:<n>..." with one thread per stream. `summarize` adds
up the device's events: how many, their total duration, the time the device was busy (the union of their
intervals), the span from the first to the last, and the events with the largest total time by name.
`gaps` accounts for the rest of the span, the time the device sat idle: how the idle intervals fall by
length, and which events come right after (and right before) the most idle time. An event that follows
idle time again and again marks the launch the device waited for: after a host round trip (a
conditional's branch index, a loop predicate), or where the host fell behind. `host` lists the events of
the other processes (the host's threads: with the device-only options, what the device tracer records
there, such as the CUDA API calls, if any) by count.
"""
from __future__ import annotations

import gzip
import inspect
import json
import tempfile
import time
from pathlib import Path


def device_only_options(jax, host_tracer_level: int = 0):
    """Profiler options that leave out Python tracing and, at `host_tracer_level` 0, the host's own
    activity (which slowed a PPO call on the CPU from 0.16 s to 10 s): the device's events are what
    `summarize` mostly reads. Level 1 adds the host's runtime events (on the CPU, one per XLA thunk). None
    where jax has no such options."""
    options_type = getattr(jax.profiler, "ProfileOptions", None)
    if options_type is None:
        return None
    options = options_type()
    options.host_tracer_level = host_tracer_level
    options.python_tracer_level = 0
    return options


def _trace_file(log_dir: str) -> Path:
    files = sorted(Path(log_dir).glob("plugins/profile/*/*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no *.trace.json.gz under {log_dir}/plugins/profile: did the trace run?")
    return files[-1]


def _busy(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) intervals."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e > end:
            total += e - max(s, end)
            end = e
    return total


GAP_BINS_US = (2.0, 10.0, 50.0, 500.0)  # idle intervals by length: < 2 us, 2-10, 10-50, 50-500, >= 500


def _ranked(by_name: dict, top: int, by_count: bool = False) -> list[dict]:
    """{name, count, total_us, mean_us} of the `top` names by total duration (or by count, then total)."""
    order = (lambda kv: (-len(kv[1]), -sum(kv[1]))) if by_count else (lambda kv: -sum(kv[1]))
    ranked = sorted(by_name.items(), key=order)[:top]
    return [{"name": n[:160], "count": len(d), "total_us": sum(d), "mean_us": sum(d) / len(d)} for n, d in ranked]


def idle_gaps(spans: list[dict], top: int = 10) -> dict:
    """The idle intervals between a device's events (all its streams merged): their count and total, by
    length (`GAP_BINS_US`), and the events that start right after the most idle time (`next_events`) and
    that end right before it (`previous_events`), each {name, count, total_us, mean_us} of the gaps."""
    ordered = sorted(spans, key=lambda e: (e["ts"], e["ts"] + e["dur"]))
    edges = (0.0, *GAP_BINS_US, float("inf"))
    bins = [[0, 0.0] for _ in range(len(edges) - 1)]
    after: dict[str, list[float]] = {}
    before: dict[str, list[float]] = {}
    end, last = None, None
    for e in ordered:
        if end is not None and e["ts"] > end:
            gap = e["ts"] - end
            b = next(i for i in range(len(bins)) if gap < edges[i + 1])
            bins[b][0] += 1
            bins[b][1] += gap
            after.setdefault(e["name"], []).append(gap)
            before.setdefault(last["name"], []).append(gap)
        if end is None or e["ts"] + e["dur"] >= end:
            end, last = e["ts"] + e["dur"], e
    labels = [f"< {edges[1]:g} us", *(f"{a:g}-{b:g} us" for a, b in zip(edges[1:-2], edges[2:-1])),
              f">= {edges[-2]:g} us"]
    return {"count": sum(n for n, _ in bins), "total_us": sum(t for _, t in bins),
            "by_length": [{"gap": lab, "count": n, "total_us": t} for lab, (n, t) in zip(labels, bins)],
            "next_events": _ranked(after, top), "previous_events": _ranked(before, top)}


def _host_events(events: list[dict], names: dict, device_pids: set, top: int) -> dict:
    """The events of the non-device processes, most frequent first (each name with its process)."""
    by_name: dict[str, list[float]] = {}
    for e in events:
        if e.get("ph") == "X" and e.get("pid") not in device_pids and "dur" in e:
            by_name.setdefault(f"{names.get(e['pid'], e['pid'])}: {e['name']}", []).append(e["dur"])
    return {"events": sum(len(d) for d in by_name.values()), "top_by_count": _ranked(by_name, top, by_count=True)}


def summarize(log_dir: str, top: int = 15) -> dict:
    events = json.load(gzip.open(_trace_file(log_dir)))["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    device_pids = {pid for pid, name in names.items() if "/device:" in name and "CPU" not in name.upper()}
    spans = [e for e in events if e.get("ph") == "X" and e.get("pid") in device_pids and "dur" in e]
    host = _host_events(events, names, device_pids, top)
    if not spans:
        return {"device_events": 0, "processes": sorted(names.values()), "host": host,
                "note": "no device events in the trace (a CPU run, or the profiler could not trace the device)"}
    intervals = [(e["ts"], e["ts"] + e["dur"]) for e in spans]
    by_name: dict[str, list[float]] = {}
    for e in spans:
        by_name.setdefault(e["name"], []).append(e["dur"])
    durations = sorted(e["dur"] for e in spans)
    return {
        "device_events": len(spans),
        "device_processes": sorted(names[p] for p in device_pids),
        "total_event_us": sum(durations),
        "busy_us": _busy(intervals),
        "span_us": max(e for _, e in intervals) - min(s for s, _ in intervals),
        "median_event_us": durations[len(durations) // 2],
        "top_events": _ranked(by_name, top),
        "gaps": idle_gaps(spans),
        "host": host,
    }


def profile_call(jax, call, host_tracer_level: int = 0) -> dict:
    """One call of `call` (blocking) under `jax.profiler.trace`: its seconds and `summarize`'s account. Traced
    with `device_only_options` first (at `host_tracer_level`); off the CPU, a trace without device events is
    retried with the profiler's defaults (in case this jax's device tracer needs them)."""
    first = "device only" if not host_tracer_level else f"host tracer level {host_tracer_level}, no Python"
    attempts = [(first, device_only_options(jax, host_tracer_level))]
    if jax.default_backend() != "cpu":
        attempts.append(("default", None))
    takes_options = "profiler_options" in inspect.signature(jax.profiler.trace).parameters
    for name, options in attempts:
        with tempfile.TemporaryDirectory() as log_dir:
            t0 = time.perf_counter()
            with jax.profiler.trace(log_dir, **({"profiler_options": options} if takes_options else {})):
                call()
            row = {"profiled_seconds": time.perf_counter() - t0,
                   "profiler_options": name if takes_options else "default (this jax takes no options)",
                   "profile": summarize(log_dir)}
        if row["profile"].get("device_events"):
            break
    return row
