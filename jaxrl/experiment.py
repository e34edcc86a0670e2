"""A whole experiment as users run it: validated config -> compiled vmapped train -> run directory
(config.yaml, metrics.csv, summary.json, curve.png, checkpoint) and greedy evaluation."""
from __future__ import annotations

import io
import json
import math
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.config import TrainConfig, from_yaml_file, to_yaml
from jaxrl.core import checkpoint
from jaxrl.core.logging import RunLogger
from jaxrl.core.running_stats import RunningStats
from jaxrl.core.train import final_returns, make_evaluate, make_train_many, seed_keys, setup


class TrainingDiverged(RuntimeError):
    pass


def enable_compilation_cache(directory: str | None = None) -> str:
    """Persistent XLA compilation cache (default: $JAX_COMPILATION_CACHE_DIR or ./.cache/jax)."""
    directory = directory or os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path(".cache/jax").resolve())
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return directory


def _xla_flags_note() -> str:
    flags = os.environ.get("XLA_FLAGS")
    return f", XLA_FLAGS {flags}" if flags else ""


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


def _episode_curve(metrics) -> np.ndarray:
    sums = np.asarray(metrics["episode_return_sum"])
    counts = np.asarray(metrics["episode_count"])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def plot_curve(path: Path, metrics, steps_per_iteration: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = _episode_curve(metrics)  # [seeds, iterations]
    # carry the last value forward over iterations where no episode ended
    for row in curve:
        for i in range(1, len(row)):
            if np.isnan(row[i]):
                row[i] = row[i - 1]
    steps = (np.arange(curve.shape[1]) + 1) * steps_per_iteration
    fig, ax = plt.subplots(figsize=(7, 4.2))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(curve, 0), np.nanmin(curve, 0), np.nanmax(curve, 0)
    ax.plot(steps, mean, label=f"mean of {curve.shape[0]} seed(s)")
    ax.fill_between(steps, low, high, alpha=0.25, label="min–max over seeds")
    ax.set_xlabel("env steps (per seed)")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _has_nan(tree) -> bool:
    return any(bool(jnp.isnan(x).any()) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating))


def train_and_save(config: TrainConfig, out_dir: str | Path | None = None, verbose: bool = True) -> dict:
    out = Path(out_dir or config.out_dir or f"runs/{config.algo}-{config.env.replace('/', '-')}-{int(time.time())}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(to_yaml(config))
    keys = seed_keys(config)
    env, agent, num_iterations, steps_per_iteration = setup(config)
    say = print if verbose else (lambda *a, **k: None)
    logger = RunLogger(config.num_seeds, steps_per_iteration, num_iterations, csv_path=out / "metrics.csv",
                       stream=sys.stdout if verbose else io.StringIO())
    say(f"jaxrl: {config.algo} on {config.env}, {config.num_seeds} seed(s) x {num_iterations * steps_per_iteration:,} "
        f"env steps, device {device_name()}{_xla_flags_note()}; compiling...")
    train_many = make_train_many(config, logger)
    hparams = config.algo_config.hparams()
    t0 = time.perf_counter()
    compiled = jax.jit(train_many).lower(keys, hparams).compile()
    compile_seconds = time.perf_counter() - t0
    say(f"compiled in {compile_seconds:.1f}s; training (progress every ~2s)")
    logger.start()
    t0 = time.perf_counter()
    result = jax.block_until_ready(compiled(keys, hparams))
    wall = time.perf_counter() - t0
    logger.close()

    params = jax.vmap(agent.params)(result.agent_state)
    obs_stats = result.obs_stats
    diverged = _has_nan(params)
    if config.checkpoint and not diverged:
        checkpoint.save(out / "checkpoints", {"agent_state": result.agent_state, "obs_stats": obs_stats},
                        meta={"algo": config.algo, "env": config.env, "num_seeds": config.num_seeds})
    per_seed = np.asarray(final_returns(result.metrics))
    eval_returns = None
    if config.eval_episodes and not diverged:
        eval_returns = np.asarray(evaluate_params(config, params, obs_stats, config.eval_episodes, config.seed + 1))
    env_steps = num_iterations * steps_per_iteration
    summary = {
        "algo": config.algo,
        "env": config.env,
        "num_seeds": config.num_seeds,
        "env_steps": env_steps,
        "env_steps_all_seeds": env_steps * config.num_seeds,
        "final_return_mean": _num(np.nanmean(per_seed)) if not np.all(np.isnan(per_seed)) else None,
        "final_return_per_seed": [_num(x) for x in per_seed],
        "final_return_definition": "mean training episode return over the last 5% of iterations",
        "eval_return_mean": _num(eval_returns.mean()) if eval_returns is not None else None,
        "eval_return_per_seed": [_num(x) for x in eval_returns.mean(-1)] if eval_returns is not None else None,
        "eval_episodes_per_seed": config.eval_episodes,
        "wall_seconds": wall,
        "compile_seconds": compile_seconds,
        "steps_per_second": env_steps * config.num_seeds / wall,
        "device": device_name(),
        "xla_flags": os.environ.get("XLA_FLAGS") or None,  # they change the compiled program (and its speed)
        "jax_version": jax.__version__,
        "diverged": diverged,
        "run_dir": str(out),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curve(out / "curve.png", result.metrics, steps_per_iteration, f"{config.algo} on {config.env}")
    if diverged:
        raise TrainingDiverged(f"training diverged: NaN in the final parameters of seed(s) "
                               f"{_nan_seeds(params)}; metrics.csv, summary.json and curve.png in {out} "
                               f"show where (try a lower algo.lr or algo.max_grad_norm)")
    fr = summary["final_return_mean"]
    ev = summary["eval_return_mean"]
    say(f"done: final_return_mean {fr if fr is None else f'{fr:.2f}'}"
        + (f", eval_return_mean {ev:.2f} (greedy, {config.eval_episodes} ep/seed)" if ev is not None else "")
        + f", {summary['steps_per_second']:,.0f} steps/s, wall {wall:.1f}s, compile {compile_seconds:.1f}s")
    say(f"run directory: {out}  (config.yaml, metrics.csv, summary.json, curve.png, checkpoints/)")
    return summary


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _nan_seeds(params) -> list[int]:
    leaves = [x for x in jax.tree.leaves(params) if jnp.issubdtype(x.dtype, jnp.floating)]
    bad = np.zeros(leaves[0].shape[0], bool)
    for x in leaves:
        bad |= np.asarray(jnp.isnan(x).reshape(x.shape[0], -1).any(-1))
    return [int(i) for i in np.nonzero(bad)[0]]


def evaluate_params(config: TrainConfig, params, obs_stats, episodes: int, seed: int = 0) -> jax.Array:
    """Greedy returns [num_seeds, episodes] for params with a leading seed axis."""
    evaluate = make_evaluate(config, episodes)
    num = jax.tree.leaves(params)[0].shape[0]
    keys = jax.random.split(jax.random.PRNGKey(seed), num)
    return jax.jit(jax.vmap(evaluate))(keys, params, obs_stats)


def load_run(run_dir: str | Path):
    """(config, agent_state, obs_stats) of a finished run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    config = from_yaml_file(run_dir / "config.yaml")
    env, agent, _, _ = setup(config)
    keys = seed_keys(config)
    hp = config.algo_config.hparams()
    agent_state = jax.eval_shape(jax.vmap(agent.init, in_axes=(0, None)), keys, hp)
    normalize = getattr(config.algo_config, "normalize_obs", False)
    stats = None
    if normalize:
        shape = env.observation_space.shape
        one = RunningStats.create(shape)
        stats = jax.tree.map(lambda x: jnp.broadcast_to(x, (config.num_seeds,) + x.shape), one)
    target = {"agent_state": jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), agent_state),
              "obs_stats": stats}
    restored = checkpoint.load(run_dir / "checkpoints", target)
    return config, agent, restored["agent_state"], restored["obs_stats"]


def evaluate_run(run_dir: str | Path, episodes: int = 100, seed: int = 0) -> dict:
    config, agent, agent_state, obs_stats = load_run(run_dir)
    params = jax.vmap(agent.params)(agent_state)
    returns = np.asarray(evaluate_params(config, params, obs_stats, episodes, seed))
    return {"algo": config.algo, "env": config.env, "episodes_per_seed": episodes,
            "mean_return": float(returns.mean()), "std_return": float(returns.std()),
            "mean_return_per_seed": [float(x) for x in returns.mean(-1)]}
