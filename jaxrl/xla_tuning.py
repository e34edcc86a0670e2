"""XLA CPU settings that the `jaxrl` command line applies by default, on the CPUs where they were measured
to help. XLA reads `XLA_FLAGS` once, when JAX first starts a backend, so these are set before anything
imports jax, and a flag already in `XLA_FLAGS` is left as the user set it. `JAXRL_XLA_CPU_TUNING=0` turns
them off. From your own Python, export the flags yourself before importing jax.

`--xla_cpu_prefer_vector_width=512`: XLA's CPU code generator uses 256-bit vectors by default, even where
the CPU has AVX-512 (on older Intel cores, 512-bit instructions lower the clock). On AMD's Zen 5 cores
(family 26), whose AVX-512 units run 512 bits at full speed, the wider vectors made jaxrl's training loops
faster at the peer tables' settings: PPO CartPole 1.08-1.16x, PPO Pendulum 1.03-1.16x, A2C CartPole
0.98-1.12x, DQN CartPole 1.02-1.09x, SAC Pendulum 1.00-1.06x, by round over two runs (bench/xla_flags_ab.py,
bench/FINDINGS.md, 2026-11-28). It is applied only there. Results can differ
from the default in float rounding, as between two CPUs.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping

VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width=512"
OPT_OUT = "JAXRL_XLA_CPU_TUNING"


def cpu_fields(cpuinfo: str) -> dict:
    """The first CPU's fields in /proc/cpuinfo's text."""
    fields = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def wide_vectors_help(cpuinfo: str) -> bool:
    """Whether the CPU is one where 512-bit vectors were measured to help: AMD family 26 or later (Zen 5)
    with AVX-512."""
    fields = cpu_fields(cpuinfo)
    try:
        family = int(fields.get("cpu family", "0"))
    except ValueError:
        return False
    return (fields.get("vendor_id") == "AuthenticAMD" and family >= 26
            and "avx512f" in fields.get("flags", "").split())


def tuned_xla_flags(current: str, cpuinfo: str | None) -> str:
    """`current` XLA_FLAGS with the flags this CPU is measured to gain from added, unless already set."""
    if "xla_cpu_prefer_vector_width" in current or cpuinfo is None or not wide_vectors_help(cpuinfo):
        return current
    return f"{current} {VECTOR_WIDTH_FLAG}".strip()


def _jax_started() -> bool:
    """Whether this process's JAX already made its backends (and so read XLA_FLAGS): then a flag added now
    would change nothing but what the run records (e.g. the CLI called from a Python session that ran jax)."""
    import sys

    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def apply_cpu_tuning(environ: MutableMapping[str, str] = os.environ, cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """Add the measured XLA CPU flags to `environ["XLA_FLAGS"]` (see the module's docstring); returns what was
    added ("" if nothing)."""
    if environ.get(OPT_OUT, "1").strip().lower() in ("0", "false", "no", "off") or _jax_started():
        return ""
    try:
        with open(cpuinfo_path) as f:
            cpuinfo = f.read()
    except OSError:
        return ""
    current = environ.get("XLA_FLAGS", "")
    tuned = tuned_xla_flags(current, cpuinfo)
    if tuned == current:
        return ""
    environ["XLA_FLAGS"] = tuned
    return tuned[len(current):].strip()
