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
from jaxrl.envs import NormalizeObservation, make
from jaxrl.envs.wrappers import NormalizeState, find_wrapper_state


class Setup(NamedTuple):
    env: Any
    agent: Any
    num_iterations: int
    steps_per_iteration: int


class TrainOutput(NamedTuple):
    agent_state: Any
    rollout_state: kernel.RolloutState
    metrics: dict  # [num_iterations] per metric


def setup(config: TrainConfig) -> Setup:
    algo = config.algo_config
    env = make(config.env, num_envs=algo.num_envs, normalize_obs=getattr(algo, "normalize_obs", False),
               **config.env_kwargs)
    validate(config, env.unwrapped)
    steps = algo.steps_per_iteration()
    num_iterations = config.total_env_steps // steps
    agent = ALGOS[config.algo][1](algo, env, num_iterations)
    return Setup(env, agent, num_iterations, steps)


def make_train(config: TrainConfig, logger=None):
    """`train(key, hparams=None) -> TrainOutput`. With a `logger` (see jaxrl.core.logging), metrics
    reach the host through jax.debug.callback every `config.log_every` iterations."""
    env, agent, num_iterations, steps_per_iteration = setup(config)
    rollout_length = config.algo_config.rollout_length
    default_hparams = config.algo_config.hparams()

    def train(key: jax.Array, hparams: dict | None = None) -> TrainOutput:
        hp = default_hparams if hparams is None else hparams
        init_key, reset_key, loop_key = jax.random.split(key, 3)
        agent_state = agent.init(init_key, hp)
        rollout_state = kernel.reset(env, reset_key)
        # episode stats accumulated between host callbacks: sum of returns, of lengths, count
        since_log = jnp.zeros(3, jnp.float32)

        def iteration(carry, it):
            agent_state, rollout_state, since_log, key = carry
            key, rollout_key, update_key = jax.random.split(key, 3)
            rollout_state, batch = kernel.rollout(env, agent.policy, agent.params(agent_state), rollout_state,
                                                  rollout_key, rollout_length)
            agent_state, metrics = agent.update(agent_state, batch, update_key, hp)
            done = batch.info["episode_done"].astype(jnp.float32)
            ep = jnp.stack([(batch.info["episode_return"] * done).sum(),
                            (batch.info["episode_length"] * done).sum(), done.sum()])
            metrics = dict(metrics, episode_return_sum=ep[0], episode_count=ep[2])
            since_log = since_log + ep
            if logger is not None:
                last = num_iterations - 1
                should_log = jnp.logical_or(it % config.log_every == 0, it == last)

                def emit(since):
                    count = since[2]
                    host = dict(metrics, episode_return=jnp.where(count > 0, since[0] / count, jnp.nan),
                                episode_length=jnp.where(count > 0, since[1] / count, jnp.nan))
                    host.pop("episode_return_sum"), host.pop("episode_count")
                    jax.debug.callback(logger.log, jax.random.key_data(key_id), it, host)
                    return jnp.zeros_like(since)

                since_log = jax.lax.cond(should_log, emit, lambda s: s, since_log)
            return (agent_state, rollout_state, since_log, key), metrics

        key_id = key
        (agent_state, rollout_state, _, _), metrics = jax.lax.scan(
            iteration, (agent_state, rollout_state, since_log, loop_key), jnp.arange(num_iterations))
        return TrainOutput(agent_state, rollout_state, metrics)

    return train


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
    """Observation-normalisation statistics carried in the env state, or None."""
    state = find_wrapper_state(rollout_state.env_state, NormalizeState)
    return None if state is None else state.obs_stats


def make_evaluate(config: TrainConfig, episodes: int, greedy: bool = True):
    """`evaluate(key, params, obs_stats) -> returns[episodes]`: one episode per env, through the kernel."""
    algo = config.algo_config
    normalize = getattr(algo, "normalize_obs", False)
    env = make(config.env, num_envs=episodes, normalize_obs=normalize, normalize_update=False,
               **config.env_kwargs)
    agent = ALGOS[config.algo][1](algo, env, 1)
    policy = agent.greedy_policy if greedy else agent.policy
    horizon = env.max_episode_steps or 1000

    def evaluate(key, params, obs_stats=None):
        reset_key, run_key = jax.random.split(key)
        if normalize:  # start from the trained statistics, frozen
            raw_obs, inner = env.env.reset(reset_key)
            state = kernel.RolloutState(NormalizeState(inner, obs_stats), obs_stats.normalize(raw_obs, env.clip))
        else:
            state = kernel.reset(env, reset_key)
        _, batch = kernel.rollout(env, policy, params, state, run_key, horizon)
        done = batch.info["episode_done"]
        first = jnp.logical_and(done, jnp.cumsum(done, axis=0) == 1)
        finished = first.any(axis=0)
        # an env that never finished in `horizon` steps reports its return so far
        partial = batch.reward.sum(axis=0)
        return jnp.where(finished, (batch.info["episode_return"] * first).sum(axis=0), partial)

    return evaluate
