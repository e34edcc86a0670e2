"""The one rollout kernel: N vmapped envs (a VecEnv) x T steps under lax.scan, policy passed in.

Every algorithm, evaluation and ES fitness evaluation steps environments through `rollout`;
`population_rollout` adds a leading population axis to params and env state.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

# (params, obs[N, ...], key) -> (action[N, ...], extras: dict of [N, ...] arrays)
PolicyFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, dict]]

EPISODE_INFO = ("episode_return", "episode_length", "episode_done")


@struct.dataclass
class Transition:
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array  # episode ended in a terminal state: do not bootstrap
    truncated: jax.Array  # episode cut by a time limit: bootstrap from next_obs
    next_obs: jax.Array  # the true next observation (the final one when the episode ended)
    extras: dict  # policy extras, e.g. log_prob, value
    info: dict  # episode_return / episode_length / episode_done of episodes ending here

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


@struct.dataclass
class RolloutState:
    env_state: Any
    obs: jax.Array


def reset(env, key: jax.Array) -> RolloutState:
    obs, env_state = env.reset(key)
    return RolloutState(env_state, obs)


def random_policy(action_space) -> PolicyFn:
    """A policy_fn that samples uniformly from the (per-env) action space; ignores params."""

    def policy(params, obs, key):
        return jax.vmap(action_space.sample)(jax.random.split(key, obs.shape[0])), {}

    return policy


def rollout(env, policy_fn: PolicyFn, params, state: RolloutState, key: jax.Array,
            num_steps: int) -> tuple[RolloutState, Transition]:
    """Step the vector env `num_steps` times; returns the carried state and a [T, N, ...] Transition."""

    def step(carry: RolloutState, step_key):
        policy_key, env_key = jax.random.split(step_key)
        action, extras = policy_fn(params, carry.obs, policy_key)
        res = env.step(env_key, carry.env_state, action)
        info = {k: res.info[k] for k in EPISODE_INFO if k in res.info}
        transition = Transition(carry.obs, action, res.reward, res.terminated, res.truncated,
                                res.info.get("final_obs", res.obs), extras, info)
        return RolloutState(res.state, res.obs), transition

    return jax.lax.scan(step, state, jax.random.split(key, num_steps))


def population_rollout(env, policy_fn: PolicyFn, params, state: RolloutState, key: jax.Array,
                       num_steps: int) -> tuple[RolloutState, Transition]:
    """`rollout` with a leading population axis P on params and state: Transition is [P, T, N, ...]."""
    num_members = jax.tree.leaves(state)[0].shape[0]
    keys = jax.random.split(key, num_members)
    member = lambda p, s, k: rollout(env, policy_fn, p, s, k, num_steps)
    return jax.vmap(member)(params, state, keys)


def episode_metrics(info: dict) -> dict:
    """Mean return/length over episodes that ended in a batch (NaN when none ended)."""
    done = info["episode_done"].astype(jnp.float32)
    count = done.sum()
    mean = lambda x: jnp.where(count > 0, (x * done).sum() / jnp.maximum(count, 1.0), jnp.nan)
    return {"episode_return": mean(info["episode_return"]),
            "episode_length": mean(info["episode_length"].astype(jnp.float32)),
            "episodes": count}
