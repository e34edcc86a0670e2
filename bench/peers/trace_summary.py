"""Summarise a `jax.profiler.trace` folder: what the device spent its time on (standard library only, so
that the peers' workers can import it from their own environments).

The profiler writes `plugins/profile/<run>/<host>.trace.json.gz`: Chrome trace events, one complete event
("ph": "X", with "ts" and "dur" in microseconds) per host activity and, on a GPU (through CUPTI), per kernel
and memory copy, under a process named "/device:GPU:<n>..." with one thread per stream. `summarize` adds
up the device's events: how many, their total duration, the time the device was busy (the union of their
intervals), the span from the first to the last, and the events with the largest total time by name.
"""
from __future__ import annotations

import gzip
import inspect
import json
import tempfile
import time
from pathlib import Path


def device_only_options(jax):
    """Profiler options that leave out host and Python tracing (which slowed a PPO call on the CPU from
    0.16 s to 10 s): the device's events are all `summarize` reads. None where jax has no such options."""
    options_type = getattr(jax.profiler, "ProfileOptions", None)
    if options_type is None:
        return None
    options = options_type()
    options.host_tracer_level = 0
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


def summarize(log_dir: str, top: int = 15) -> dict:
    events = json.load(gzip.open(_trace_file(log_dir)))["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    device_pids = {pid for pid, name in names.items() if "/device:" in name and "CPU" not in name.upper()}
    spans = [e for e in events if e.get("ph") == "X" and e.get("pid") in device_pids and "dur" in e]
    if not spans:
        return {"device_events": 0, "processes": sorted(names.values()),
                "note": "no device events in the trace (a CPU run, or the profiler could not trace the device)"}
    intervals = [(e["ts"], e["ts"] + e["dur"]) for e in spans]
    by_name: dict[str, list[float]] = {}
    for e in spans:
        by_name.setdefault(e["name"], []).append(e["dur"])
    ranked = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:top]
    durations = sorted(e["dur"] for e in spans)
    return {
        "device_events": len(spans),
        "device_processes": sorted(names[p] for p in device_pids),
        "total_event_us": sum(durations),
        "busy_us": _busy(intervals),
        "span_us": max(e for _, e in intervals) - min(s for s, _ in intervals),
        "median_event_us": durations[len(durations) // 2],
        "top_events": [{"name": n[:160], "count": len(d), "total_us": sum(d), "mean_us": sum(d) / len(d)}
                       for n, d in ranked],
    }


def profile_call(jax, call) -> dict:
    """One call of `call` (blocking) under `jax.profiler.trace`: its seconds and `summarize`'s account. Traced
    with `device_only_options` first; off the CPU, a trace without device events is retried with the
    profiler's defaults (in case this jax's device tracer needs them)."""
    attempts = [("device only", device_only_options(jax))]
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
