"""The train-loop driver, written once: `make_train(config)` returns `train(key, hparams=None)`,
the whole run as one jittable program (lax.scan over iterations of rollout + update), vmappable
over keys (seeds) and over hyperparameters (sweeps)."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.agents import ALGOS
from jaxrl.config import TrainConfig, validate
from jaxrl.core import rollout as kernel
from jaxrl.envs import make
from jaxrl.envs.wrappers import NormalizeState, find_wrapper_state


class Setup(NamedTuple):
    env: Any
    agent: Any
    num_iterations: int
    steps_per_iteration: int


class TrainOutput(NamedTuple):
    agent_state: Any
    obs_stats: Any  # the observation-normalisation statistics (RunningStats) with normalize_obs, else None
    metrics: dict  # [num_iterations] per metric
    # the envs' final states and observations: only with keep_rollout_state=True. Returning them makes every
    # field of the env state an output, so XLA must compute all of them at every step; left out, it drops the
    # work on fields no later step, observation or reward reads (brax/ant on MJX, PPO, 256 envs on CPU:
    # 11.6k -> 14.8k env steps/s)
    rollout_state: kernel.RolloutState | None = None


def _output(carry, metrics: dict, keep_rollout_state: bool) -> TrainOutput:
    state = carry.rollout_state
    return TrainOutput(carry.agent_state, obs_stats_of(state), metrics, state if keep_rollout_state else None)


def setup(config: TrainConfig) -> Setup:
    algo = config.algo_config
    every = algo.normalize_every() if hasattr(algo, "normalize_every") else 1  # on-policy: step or rollout
    # skip_idle_resets: a CPU step where no env finished skips the reset work (same results; PPO CartPole 5%
    # faster, DQN CartPole 9%: bench/idle_resets_ab.py). The seed vmap of make_train_many maps the keys too, so
    # the skip's cost under a vmap with shared reset inputs (AutoReset) does not arise here.
    env = make(config.env, num_envs=algo.num_envs, normalize_obs=getattr(algo, "normalize_obs", False),
               normalize_every=every, skip_idle_resets=True, **config.env_kwargs)
    validate(config, env.unwrapped)
    steps = algo.steps_per_iteration(env)
    num_iterations = config.total_env_steps // steps
    return Setup(env, make_agent(config, env, num_iterations), num_iterations, steps)


def make_agent(config: TrainConfig, env, num_iterations: int):
    """The registry's factory: `make_agent(algo_config, env, num_iterations)`; algorithms with their own
    loop (ES, which builds its own population envs) also get the env kwargs."""
    factory = ALGOS[config.algo][1]
    if getattr(config.algo_config, "LOOP", None):
        return factory(config.algo_config, env, num_iterations, env_kwargs=config.env_kwargs)
    return factory(config.algo_config, env, num_iterations)


def _custom_loop(config: TrainConfig):
    """An algorithm's own per-seed loop ('module:function' in its config's LOOP), or None."""
    target = getattr(config.algo_config, "LOOP", None)
    if not target:
        return None
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class Carry(NamedTuple):
    agent_state: Any
    rollout_state: kernel.RolloutState
    since_log: jax.Array  # episode return sum, length sum, count since the last host callback
    key: jax.Array


def make_loop(config: TrainConfig):
    """Per-seed pieces of the loop: `init(key, hp) -> Carry`, `iteration(carry, it, hp) -> (carry, metrics)`."""
    env, agent, num_iterations, _ = setup(config)
    custom = _custom_loop(config)
    if custom is not None:
        return custom(config, env, agent, num_iterations)
    rollout_length = config.algo_config.rollout_length

    def init(key, hp) -> Carry:
        init_key, reset_key, loop_key = jax.random.split(key, 3)
        return Carry(agent.init(init_key, hp), kernel.reset(env, reset_key), jnp.zeros(3, jnp.float32), loop_key)

    def iteration(carry: Carry, it, hp):
        key, rollout_key, update_key = jax.random.split(carry.key, 3)
        rollout_state, batch = kernel.rollout(env, agent.policy, agent.params(carry.agent_state),
                                              carry.rollout_state, rollout_key, rollout_length)
        extra = (it,) if agent.update_takes_iteration else ()
        agent_state, metrics = agent.update(carry.agent_state, batch, update_key, hp, *extra)
        done = batch.info["episode_done"].astype(jnp.float32)
        ep = jnp.stack([(batch.info["episode_return"] * done).sum(),
                        (batch.info["episode_length"] * done).sum(), done.sum()])
        metrics = dict(metrics, episode_return_sum=ep[0], episode_count=ep[2])
        return Carry(agent_state, rollout_state, carry.since_log + ep, key), metrics

    return init, iteration, num_iterations


def make_train(config: TrainConfig, keep_rollout_state: bool = False):
    """`train(key, hparams=None) -> TrainOutput`: one seed, pure, jittable, vmappable over keys and hparams.
    `keep_rollout_state=True` also returns the envs' final states (TrainOutput.rollout_state)."""
    init, iteration, num_iterations = make_loop(config)
    default_hparams = config.algo_config.hparams()

    def train(key: jax.Array, hparams: dict | None = None) -> TrainOutput:
        hp = default_hparams if hparams is None else hparams
        carry, metrics = jax.lax.scan(lambda c, it: iteration(c, it, hp), init(key, hp),
                                      jnp.arange(num_iterations))
        return _output(carry, metrics, keep_rollout_state)

    return train


def _on_mapped(f, axes, arg):
    """f on every leaf of `arg` whose axis in `axes` is 0 (mapped); unmapped leaves (None) stay as they are."""
    return jax.tree.map(lambda a, sub: sub if a is None else jax.tree.map(f, sub), axes, arg,
                        is_leaf=lambda a: a is None or isinstance(a, int))


def _is_one_seed(in_axes: tuple, args: tuple) -> bool:
    """Whether every mapped leaf of `args` (axis 0 per `in_axes`) has a seed axis of size 1."""
    sizes = set()
    for axes, arg in zip(in_axes, args):
        _on_mapped(lambda x: sizes.add(x.shape[0]), axes, arg)
    return sizes == {1}  # several seeds, or mismatched sizes (vmap names the error), go through vmap


def _add_seed_axis(tree):
    return jax.tree.map(lambda x: jnp.expand_dims(x, 0), tree)


def make_train_many(config: TrainConfig, logger=None, keep_rollout_state: bool = False):
    """`train_many(keys[S], hparams) -> TrainOutput` with a leading seed axis: the same per-seed loop,
    vmapped inside the scan so that one host callback per logged iteration carries every seed's metrics
    (jax.debug.callback; the loop never leaves the jit). `hparams` leaves may carry the seed axis too (a
    sweep) or be scalars shared by all seeds.

    One seed is not vmapped: the scan carries that seed's state without a seed axis, and only the per-
    iteration metrics and the outputs get it back. The same values up to float rounding, without a size-1
    batch dimension on every op, which XLA compiles into batched ops that run slower (on CPU, a brax/ant
    rollout of 128 envs ran ~15% slower under it). Nor does the carry change shape inside the loop: when
    each iteration took the axis off and put it back, XLA copied SAC's whole replay buffer several times per
    iteration (SAC on Pendulum ran at half the speed)."""
    init, iteration, num_iterations = make_loop(config)
    last = num_iterations - 1

    def train_many(keys: jax.Array, hparams: dict | None = None) -> TrainOutput:
        hp = config.algo_config.hparams() if hparams is None else hparams
        hp_axes = jax.tree.map(lambda x: 0 if jnp.ndim(x) else None, hp)
        one = _is_one_seed((0, hp_axes), (keys, hp))
        if one:
            hp_one = _on_mapped(lambda x: x[0], hp_axes, hp)
            carry = init(keys[0], hp_one)

            def step(carry, it):
                carry, metrics = iteration(carry, it, hp_one)
                return carry, _add_seed_axis(metrics)
        else:
            carry = jax.vmap(init, (0, hp_axes))(keys, hp)
            mapped = jax.vmap(iteration, (0, None, hp_axes))

            def step(carry, it):
                return mapped(carry, it, hp)

        def body(carry, it):
            carry, metrics = step(carry, it)
            if logger is None:
                return carry, metrics

            def emit(carry):
                since = carry.since_log[None] if one else carry.since_log  # [S, 3]
                count = since[:, 2]
                host = {k: v for k, v in metrics.items() if k not in ("episode_return_sum", "episode_count")}
                host["episode_return"] = jnp.where(count > 0, since[:, 0] / jnp.maximum(count, 1), jnp.nan)
                host["episode_length"] = jnp.where(count > 0, since[:, 1] / jnp.maximum(count, 1), jnp.nan)
                jax.debug.callback(logger.log, it, host)
                return carry._replace(since_log=jnp.zeros_like(carry.since_log))

            should_log = jnp.logical_or(it % config.log_every == 0, it == last)
            return jax.lax.cond(should_log, emit, lambda c: c, carry), metrics

        carry, metrics = jax.lax.scan(body, carry, jnp.arange(num_iterations))
        if one:
            carry = _add_seed_axis(carry)
        metrics = jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), metrics)  # [S, iterations]
        return _output(carry, metrics, keep_rollout_state)

    return train_many


def seed_keys(config: TrainConfig) -> jax.Array:
    return jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)


def final_returns(metrics: dict, window_fraction: float = 0.05) -> jax.Array:
    """Mean training episode return over the last `window_fraction` of iterations, per seed
    (metrics with a leading seed axis). NaN for a seed where no episode ended in the window."""
    sums, counts = metrics["episode_return_sum"], metrics["episode_count"]
    window = max(1, int(sums.shape[-1] * window_fraction))
    s, c = sums[..., -window:].sum(-1), counts[..., -window:].sum(-1)
    return jnp.where(c > 0, s / jnp.maximum(c, 1), jnp.nan)


def obs_stats_of(rollout_state):
    """Observation-normalisation statistics carried in the env state, or None (also for loops, like ES,
    that carry no rollout state)."""
    if rollout_state is None:
        return None
    state = find_wrapper_state(rollout_state.env_state, NormalizeState)
    return None if state is None else state.obs_stats


def make_evaluate(config: TrainConfig, episodes: int, greedy: bool = True):
    """`evaluate(key, params, obs_stats) -> returns[episodes]`: one episode per env, through the kernel."""
    algo = config.algo_config
    normalize = getattr(algo, "normalize_obs", False)
    env = make(config.env, num_envs=episodes, normalize_obs=normalize, normalize_update=False,
               **config.env_kwargs)
    agent = make_agent(config, env, 1)
    policy = agent.greedy_policy if greedy else agent.policy
    horizon = env.max_episode_steps or 1000

    def evaluate(key, params, obs_stats=None):
        reset_key, run_key = jax.random.split(key)
        if normalize:  # start from the trained statistics, frozen
            raw_obs, inner = env.env.reset(reset_key)
            state = kernel.RolloutState(NormalizeState(inner, obs_stats), obs_stats.normalize(raw_obs, env.clip))
        else:
            state = kernel.reset(env, reset_key)
        _, (returns, _) = kernel.rollout(env, policy, params, state, run_key, horizon, fold=kernel.FIRST_EPISODE)
        return returns  # an unfinished episode reports its return so far

    return evaluate
