"""Shared pieces of the benchmarks: timing, result files with their provenance, and the peer venvs.

Peers (rejax, Stable-Baselines3, sbx) are benchmark-only: each gets its own virtual environment under
`.venv-peers/<name>` (git-ignored), made on first use from the pinned list in PEERS, and is driven by a
worker script in bench/peers/ that prints one JSON object. Their code is called, never copied.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PEER_ROOT = ROOT / ".venv-peers"
PEER_WORKERS = ROOT / "bench" / "peers"

# jax/flax/optax are pinned to the versions jaxrl uses, so JAX peers run on the same XLA.
_JAX = ["jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "optax==0.2.8", "chex==0.1.92", "numpy==2.4.6"]
PEERS = {
    # rejax 0.1.3 unpacks gymnax's pre-1.0 step (5 values), so it needs gymnax 0.0.9.
    "rejax": _JAX + ["distrax==0.1.9", "gymnax==0.0.9", "rejax==0.1.3"],
    # torch 2.13.0 is the CPU wheel this machine keeps on disk; sbx is SB3's JAX port.
    "sb3": _JAX + ["torch==2.13.0", "stable-baselines3==2.9.2", "sbx-rl==0.28.0", "gymnasium==1.4.0"],
}


def versions(*packages: str) -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(**extra) -> dict:
    """Device, host and versions: recorded in every result file."""
    import jax

    from jaxrl.experiment import device_name

    command = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return {"command": command, "device": device_name(), "device_count": jax.device_count(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "versions": versions("jaxrl", "jax", "jaxlib", "flax", "optax", "gymnax", "brax", "mujoco",
                                 "evosax"), **extra}


def platform_tag() -> str:
    import jax

    return jax.devices()[0].platform


def write_result(name: str, result: dict, out: str | None = None, quick: bool = False) -> Path:
    """bench/results/<name>-<platform>.json, or <name>-<platform>-quick.json for a smoke run (which
    bench/report.py leaves out of the README), or `out`."""
    path = Path(out) if out else RESULTS / f"{name}-{platform_tag()}{'-quick' if quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return path


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    """Median wall seconds of `repeats` calls of fn() (which blocks until its result is ready)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def interleaved_medians(fns: dict, repeats: int) -> dict:
    """Time several blocking calls side by side: `repeats` rounds, each calling every fn once in turn
    (A B A B ...), so that a slow spell of a shared machine falls on every side alike. Returns
    {name: (median seconds, [seconds per round])}."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(t), t) for name, t in times.items()}


def compile_timed(fn, *args):
    """Compile jax.jit(fn) for args (timed) and run it once; returns (a blocking call of the compiled
    program, {"compile_seconds", and XLA's memory estimate "xla_memory_bytes" where the backend has one})."""
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    info = {"compile_seconds": time.perf_counter() - t0}
    jax.block_until_ready(compiled(*args))
    mem = compiled.memory_analysis()
    if mem is not None:
        info["xla_memory_bytes"] = {k: int(getattr(mem, k)) for k in
                                    ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes",
                                     "generated_code_size_in_bytes") if hasattr(mem, k)}
    return (lambda: jax.block_until_ready(compiled(*args))), info


def bar_plots(result: dict, path: Path, key: str, xlabel: str, title, label, suptitle: str) -> None:
    """One horizontal bar chart per env of result['results'][env][trainer][key]; jaxrl's bars in blue.
    `title(env_id)` titles a panel, `label(value)` prints a value at its bar's end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(result["results"])
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.4), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        rows = result["results"][env_id]
        names = list(rows)
        values = [rows[n][key] for n in names]
        ax.barh(names, values, color=["tab:blue" if n.startswith("jaxrl") else "tab:gray" for n in names])
        ax.set_xlabel(xlabel)
        ax.set_title(title(env_id))
        for y, v in enumerate(values):
            ax.text(v, y, " " + label(v), va="center", fontsize=8)
    fig.suptitle(f"{suptitle}, {result['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


# ---- peers -----------------------------------------------------------------------------------------------

def peer_python(name: str) -> Path:
    """The python of peer `name`'s venv, made (or remade, when its pinned list changed) on first use."""
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {sorted(PEERS)}")
    spec = PEERS[name]
    venv = PEER_ROOT / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    digest = hashlib.sha256("\n".join(spec).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"[peers] making {venv} with {' '.join(spec)} (once; a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *spec], check=True)
    stamp.write_text(digest)
    return python


def run_peer(name: str, worker: str, request: dict, timeout: float | None = None) -> dict:
    """Run bench/peers/<worker> in peer `name`'s venv with `request` (JSON on stdin); its last stdout line
    is a JSON object. Progress lines on stderr pass through."""
    python = peer_python(name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(python), str(PEER_WORKERS / worker)], input=json.dumps(request), text=True,
                          stdout=subprocess.PIPE, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"peer worker {worker} ({name}) exited {proc.returncode}; its stderr is above")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"peer worker {worker} ({name}) printed no result")
    return json.loads(lines[-1])


def steps_to_threshold(steps, sums, counts, threshold: float, window_steps: int):
    """First env-step count at which the mean return of the episodes that ended in the trailing
    `window_steps` env steps reaches `threshold`, and its index; (None, None) if never.
    `steps[i]` is the env-step count after logged rollout i; `sums`/`counts` are the returns and number of
    the episodes that ended during rollout i."""
    import numpy as np

    steps, sums, counts = (np.asarray(a, dtype=np.float64) for a in (steps, sums, counts))
    for i in range(len(steps)):
        inside = steps > steps[i] - window_steps
        inside[i + 1:] = False
        c = counts[inside].sum()
        if c > 0 and sums[inside].sum() / c >= threshold:
            return int(steps[i]), i
    return None, None
