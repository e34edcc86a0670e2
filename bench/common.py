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
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# SB3 (and sbx's replay buffer) run torch on one thread: its ops on these small batches gain nothing from a
# second thread, and when another job holds a core of this shared 2-core CPU they wait on it (SB3's DQN ran
# 65x slower with 2 threads than with 1 in one test). Passed to bench/peers/sb3_worker.py in every request.
TORCH_THREADS = 1
PEER_ROOT = ROOT / ".venv-peers"
PEER_WORKERS = ROOT / "bench" / "peers"

# jax/flax/optax are pinned to the versions jaxrl uses, so JAX peers run on the same XLA.
_JAX = ["jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "optax==0.2.8", "chex==0.1.92", "numpy==2.4.6"]
PEERS = {
    # rejax 0.1.3 unpacks gymnax's pre-1.0 step (5 values), so it needs gymnax 0.0.9.
    "rejax": _JAX + ["distrax==0.1.9", "gymnax==0.0.9", "rejax==0.1.3"],
    # torch 2.13.0 is the CPU wheel this machine keeps on disk; sbx is SB3's JAX port.
    # sb3-contrib holds SB3's TRPO.
    "sb3": _JAX + ["torch==2.13.0", "stable-baselines3==2.9.2", "sb3-contrib==2.9.0", "sbx-rl==0.28.0",
                   "gymnasium==1.4.0"],
}


def versions(*packages: str) -> dict:
    import importlib
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # on PYTHONPATH, not installed (the GPU run): the module's own
            try:
                out[name] = getattr(importlib.import_module(name), "__version__", None)
            except Exception:  # noqa: BLE001 - a failed import must not lose a finished result
                out[name] = None
    return out


def cpu_model() -> str:
    """The host CPU's model name (Linux: /proc/cpuinfo; elsewhere what `platform` knows), with the vendor's
    family and model numbers where listed: a cloud "AMD EPYC" says little without them."""
    from jaxrl.xla_tuning import cpu_fields

    try:
        fields = cpu_fields(Path("/proc/cpuinfo").read_text())
        name = fields.get("model name", "unknown")
        if "cpu family" in fields and "model" in fields:
            name += f" (family {fields['cpu family']}, model {fields['model']})"
        return name
    except OSError:
        return platform.processor() or platform.machine()


def host_probe_ms(repeats: int = 5) -> float:
    """Milliseconds for a fixed single-threaded Python loop (median of `repeats`): a gauge of how fast the
    host runs right now. A shared machine has quiet and slow spells (up to 2x apart on this project's
    2-core CPUs), and sessions land on different CPUs; ratios measured in turns hold better than absolute
    speeds. Every result file records the probe at the start and the end of its run, beside `cpu_model`,
    so it says how fast the host was while it ran."""
    times = []
    for _ in range(repeats):
        start, acc = time.perf_counter(), 0
        for i in range(500_000):
            acc = (acc + i * i) % 1_000_003
        times.append(1e3 * (time.perf_counter() - start))
    return round(statistics.median(times), 2)


# Taken when a benchmark script starts (it imports this module first); host_probe() takes the second one.
_PROBE_AT_START = host_probe_ms()


def host_probe() -> dict:
    """The probe at the start of this run and now: what every result file records as `host_probe_ms`."""
    return {"start": _PROBE_AT_START, "end": host_probe_ms()}


def provenance(**extra) -> dict:
    """Device, host and versions: recorded in every result file, with the host probe (host_probe_ms) at
    the start of the run and now."""
    import jax

    from jaxrl.experiment import device_name

    command = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return {"command": command, "device": device_name(), "device_count": jax.device_count(),
            "platform": platform.platform(), "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "host_probe_ms": host_probe(),
            "versions": versions("jaxrl", "jax", "jaxlib", "flax", "optax", "gymnax", "brax", "mujoco",
                                 "evosax"),
            # XLA flags change the programs being timed: a run under any records them
            **({"xla_flags": os.environ["XLA_FLAGS"]} if os.environ.get("XLA_FLAGS") else {}), **extra}


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


def write_cases(name: str, build, cases: list, done: dict, out: str | None = None,
                quick: bool = False) -> tuple[Path, dict]:
    """Write a multi-case result after each case, so that a run cut off by a time limit keeps the cases it
    finished: `build()` returns the result so far (`done` holds the finished cases); until every case is
    done, the file also lists the ones not run under `unfinished`."""
    result = build()
    rest = [case for case in cases if case not in done]
    if rest:
        result["unfinished"] = rest
    return write_result(name, result, out, quick=quick), result


def merge_cases(into: Path, new: dict, reason: str) -> dict:
    """Put the cases of a multi-case result `new` (ppo_peers, offpolicy_peers, time_to_return) into the result
    file `into`, replacing those of the same name; the other cases stay as they were. The merged file says
    which run each case came from (`source`, shown by report.py, and `merged_runs`). Returns it, written."""
    into = Path(into)
    old = json.loads(into.read_text())
    if old.get("benchmark") != new.get("benchmark"):
        raise ValueError(f"cannot merge a {new.get('benchmark')!r} result into {into} ({old.get('benchmark')!r})")
    if new.get("quick") or new.get("unfinished"):
        raise ValueError("a quick or unfinished run is not merged into a result file")
    for key in ("device", "num_seeds", "repeats", "rounds"):  # the file's header describes every case
        if key in old and old.get(key) != new.get(key):
            raise ValueError(f"cannot merge into {into}: its {key} is {old[key]!r}, the new run's {new.get(key)!r}")
    cases = list(new["results"])
    for key in ("results", "cases", "settings"):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            old[key].update({case: new[key][case] for case in cases if case in new[key]})
    run = {k: new[k] for k in ("command", "date", "device", "cpu_model", "host_probe_ms", "versions", "repeats",
                               "num_seeds") if k in new}
    if "merged_runs" not in old and old.get("source"):  # how the file was first made, kept in its source
        old["first_source"] = old["source"]
    old.setdefault("merged_runs", []).append(dict(run, cases=cases, reason=reason))
    merged = {case for m in old["merged_runs"] for case in m["cases"]}
    kept = [case for case in old["results"] if case not in merged]
    first = f" ({old['first_source'].rstrip('.')})" if old.get("first_source") else ""
    old["source"] = ((f"{', '.join(kept)} from the run of {old['date']} (`{old['command']}`{first}); " if kept else "")
                     + "; ".join(f"{', '.join(m['cases'])} re-run on {m['date']}"
                                 + (f" on {m['cpu_model']}" if m.get("cpu_model") else "")
                                 + (f", host probe {m['host_probe_ms']['start']:.0f} / {m['host_probe_ms']['end']:.0f} ms"
                                    if m.get("host_probe_ms") else "")
                                 + f" (`{m['command']}`): {m['reason']}" for m in old["merged_runs"]))
    into.write_text(json.dumps(old, indent=1) + "\n")
    return old


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
    (A B A B ...), so that a slow spell of a shared machine falls on every side alike. Each round starts
    one place further along the list (A B C, B C A, C A B, ...), so that no side always runs first or
    right after the same other side. Returns {name: (median seconds, [seconds per round])}."""
    times = {name: [] for name in fns}
    names = list(fns)
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(t), t) for name, t in times.items()}


def compile_timed(fn, *args, hlo: bool = False):
    """Compile jax.jit(fn) for args (timed) and run it once; returns (a blocking call of the compiled
    program, {"compile_seconds", XLA's memory estimate "xla_memory_bytes" where the backend has one, and
    with `hlo` the compiled program's text as "hlo"})."""
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    info = {"compile_seconds": time.perf_counter() - t0}
    if hlo:
        info["hlo"] = compiled.as_text()
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


def ab_diagnostic_args(doc: str, cases: list, argv=None):
    """Command line of the A/B diagnostics (prng_lowering.py, weight_gradients.py): --cases, --repeats
    (1 with --quick), --quick, --out. Also compiles a trivial program first, because a process's first
    compile is slower and should not count against a case."""
    import argparse

    import jax

    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=list(cases), choices=list(cases))
    p.add_argument("--repeats", type=int, default=7, help="interleaved timed calls per side (median)")
    p.add_argument("--quick", action="store_true", help="short calls, 1 repeat (smoke run)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 1
    jax.block_until_ready(jax.jit(lambda x: x + 1)(1.0))
    return args


def speedup_plot(result: dict, path: Path, xlabel: str, suptitle: str) -> None:
    """One horizontal bar per case of result['results'][case]['speedup'] (an A/B diagnostic), with a line
    at 1 (no change)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(result["results"])
    values = [result["results"][c]["speedup"] for c in cases]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(cases) + 1.4))
    ax.barh(cases, values, color=["tab:blue" if v >= 1 else "tab:gray" for v in values])
    ax.axvline(1.0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=8)
    fig.suptitle(f"{suptitle}, {result['device']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


# ---- trainers side by side, in rounds (ppo_peers.py, offpolicy_peers.py) ----------------------------------

ROUNDS_NOTE = ("steps_per_second: from the median over rounds of each round's median seconds; jaxrl_over_this: "
               "median over rounds of jaxrl (1 seed) steps/s / this row's steps/s in the same round")


def add_round_args(p, cases, peers, quick_help: str) -> None:
    """The command-line options shared by the benchmarks that time jaxrl against its peers in rounds."""
    p.add_argument("--cases", nargs="+", default=list(cases), choices=list(cases))
    p.add_argument("--peers", nargs="*", default=list(peers), choices=list(peers),
                   help="peers to run, where a case has them")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per side per round (median)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; each runs every side in turn (peers in a fresh worker process)")
    p.add_argument("--seeds-in-one-call", type=int, default=8)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=None)
    add_merge_args(p)


def add_merge_args(p) -> None:
    """--merge-into and --reason: re-run some cases of a multi-case result file and put them into it."""
    p.add_argument("--merge-into", default=None, metavar="FILE",
                   help="then put the cases run into this result file (e.g. bench/results/<name>-cpu.json), "
                        "replacing those of the same name and saying so in it; needs --reason")
    p.add_argument("--reason", default=None, help="why the cases were (re-)run (recorded with --merge-into)")


def check_merge_args(p, args, *changed: str) -> None:
    """A merged run must be a full run (no --quick, nor the options named in `changed`) with a --reason."""
    if args.merge_into and (not args.reason or args.quick or any(getattr(args, c) for c in changed)):
        p.error("--merge-into takes a full run (no --quick" + "".join(f", --{c}" for c in changed)
                + ") and a --reason")
    if args.merge_into and not args.out:  # the run's own file would be the file it merges into, and lose its
        # other cases: it goes to a temporary folder instead
        args.out = str(Path(tempfile.mkdtemp(prefix="jaxrl-merge-")) / Path(args.merge_into).name)


def merge_run(args, result: dict, plot) -> None:
    """With --merge-into: merge `result`'s cases into that file (merge_cases) and redraw its plot with
    `plot(merged, png_path)`."""
    if args.merge_into:
        merged = merge_cases(args.merge_into, result, args.reason)
        plot(merged, Path(args.merge_into).with_suffix(".png"))
        print(f"merged {', '.join(result['results'])} into {args.merge_into}")


def profiled(call, host_tracer_level: int = 0) -> dict:
    """One more call of `call` under `jax.profiler.trace`: its seconds, and what the device spent them on
    (bench/peers/trace_summary.py, which the peers' workers use too; `host_tracer_level` > 0 also records
    the host's runtime events)."""
    import jax

    if str(PEER_WORKERS) not in sys.path:
        sys.path.insert(0, str(PEER_WORKERS))
    from trace_summary import profile_call

    return profile_call(jax, call, host_tracer_level)


def jaxrl_side(overrides: list[str], steps: int, num_seeds: int, repeats: int, hlo: bool = False,
               profile: bool = False, host_tracer_level: int = 0):
    """jaxrl's training program for config `overrides` (key=value strings) with `steps` env steps per seed and
    `num_seeds` seeds vmapped in one call, compiled once (timed users' way: `make_train_many`). Returns a
    function that times `repeats` calls of it and returns a row: seconds (median), times, env_steps (all
    seeds), compile_seconds, with `hlo` the compiled program's text, and with `profile` one more call
    under the profiler (see `profiled`)."""
    import jax

    from jaxrl.config import load_config
    from jaxrl.core.train import make_train_many

    config = load_config([*overrides, f"total_env_steps={steps}", f"num_seeds={num_seeds}"])
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    call, info = compile_timed(make_train_many(config), keys, hlo=hlo)

    def timed() -> dict:
        seconds, times = median_time(call, repeats)
        row = dict(info, seconds=seconds, times=times, env_steps=steps * num_seeds)
        return dict(row, **profiled(call, host_tracer_level)) if profile else row

    return timed


def jaxrl_sides(overrides: list[str], steps: int, seeds_in_one_call: int, repeats: int) -> dict:
    """{"jaxrl": one seed, "jaxrl xN seeds": N seeds vmapped in one call (where N > 1)} (see jaxrl_side)."""
    sides = {"jaxrl": jaxrl_side(overrides, steps, 1, repeats)}
    if seeds_in_one_call > 1:
        sides[f"jaxrl x{seeds_in_one_call} seeds"] = jaxrl_side(overrides, steps, seeds_in_one_call, repeats)
    return sides


def peer_side(venv: str, worker: str, request: dict):
    """A side that runs a peer's worker (see run_peer) in a fresh process at every call."""
    return lambda: run_peer(venv, worker, request)


def run_rounds(case: str, sides: dict, rounds: int) -> dict:
    """Time every side once per round, in turn, for `rounds` rounds, so that a slow spell of a shared machine
    falls on all sides. A side is a call that returns a row with "seconds" (its median), "times" and
    "env_steps"; the side named "jaxrl" (1 seed) is the reference of the ratios. Returns {side: row}, where a
    row reports the median over rounds of the rounds' seconds, steps/s from it, and jaxrl_over_this: the
    median of the per-round ratios."""
    by_round = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            row = side()
            row["steps_per_second"] = row["env_steps"] / row["seconds"]
            by_round[name].append(row)
    rows = {}
    for name, runs in by_round.items():
        ratios = [j["steps_per_second"] / r["steps_per_second"] for j, r in zip(by_round["jaxrl"], runs)]
        seconds = statistics.median(r["seconds"] for r in runs)
        rows[name] = dict(runs[0], seconds=seconds, steps_per_second=runs[0]["env_steps"] / seconds,
                          times=[t for r in runs for t in r["times"]],
                          round_steps_per_second=[r["steps_per_second"] for r in runs],
                          jaxrl_over_this=statistics.median(ratios), round_jaxrl_over_this=ratios)
        row = rows[name]
        print(f"{case:16s} {name:18s} {row['steps_per_second']:>11,.0f} steps/s  "
              f"jaxrl/this {row['jaxrl_over_this']:6.2f} (rounds: {' '.join(f'{x:.2f}' for x in ratios)})  "
              f"compile {row.get('compile_seconds', row.get('warmup_seconds', 0)):.1f}s", flush=True)
    return rows


def throughput_plot(result: dict, path: Path, suptitle: str) -> None:
    """bar_plots of every case's steps/s per trainer."""
    bar_plots(result, path, "steps_per_second", "env steps / s", lambda case: case, lambda v: f"{v:,.0f}",
              suptitle)


# ---- peers -----------------------------------------------------------------------------------------------

def peer_path_var(name: str) -> str:
    """The variable that, when set, runs peer `name` with this Python and that PYTHONPATH instead of a venv:
    for a machine with no package index, where the peer's wheels were unpacked into folders (bench/gpu/run.sh)."""
    return f"JAXRL_PEER_PATH_{name.upper()}"


def peer_python(name: str) -> Path:
    """The python of peer `name`'s venv, made (or remade, when its pinned list changed) on first use; this
    Python when peer_path_var(name) is set."""
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {sorted(PEERS)}")
    if os.environ.get(peer_path_var(name)):
        return Path(sys.executable)
    spec = PEERS[name]
    venv = PEER_ROOT / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    digest = hashlib.sha256("\n".join(spec).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"[peers] making {venv} with {' '.join(spec)} (once; a few minutes)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *spec], check=True)
    except (subprocess.CalledProcessError, OSError) as e:  # no stamp: the next run makes the venv again
        raise RuntimeError(
            f"could not make peer {name!r}'s venv at {venv} ({e}; the command's own message is above: no "
            f"package index reachable?). On a machine without one, unpack the peer's wheels and set "
            f"{peer_path_var(name)} (bench/gpu/run.sh does), or leave the peer out with --peers") from e
    stamp.write_text(digest)
    return python


def run_peer(name: str, worker: str, request: dict, timeout: float | None = None) -> dict:
    """Run bench/peers/<worker> in peer `name`'s venv with `request` (JSON on stdin); its last stdout line
    is a JSON object. Progress lines on stderr pass through."""
    python = peer_python(name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    if os.environ.get(peer_path_var(name)):
        env["PYTHONPATH"] = os.environ[peer_path_var(name)]
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


# The epsilon of optax's (and torch's) Adam: rejax's and brax's trainers use it and have no option to change it
OPTAX_EPS = 1e-8


def namespace(module, **changes):
    """A stand-in for `module` with its public names, some of them replaced."""
    ns = types.SimpleNamespace(**{k: getattr(module, k) for k in dir(module) if not k.startswith("__")})
    for k, v in changes.items():
        setattr(ns, k, v)
    return ns
