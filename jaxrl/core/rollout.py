"""The one rollout kernel: N vmapped envs (a VecEnv) x T steps under lax.scan, policy passed in.

Every algorithm, evaluation and ES fitness evaluation steps environments through `rollout`;
`population_rollout` adds a leading population axis to params and env state.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

# (params, obs[N, ...], key) -> (action[N, ...], extras: dict of [N, ...] arrays)
# With `context=True` the kernel calls policy_fn(params, obs, key, StepContext): open-loop plans
# index actions by `t`, model-predictive policies plan from a copy of `env_state`.
PolicyFn = Callable[..., tuple[jax.Array, dict]]

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
class StepContext:
    t: jax.Array  # step index within this rollout call (0 .. num_steps-1)
    env_state: Any  # the vector env's state before this step (copyable: the env's own model)


@struct.dataclass
class RolloutState:
    env_state: Any
    obs: jax.Array


@partial(jax.jit, static_argnums=0)
def reset(env, key: jax.Array) -> RolloutState:
    """The envs' first observations and state. Jitted (the env is a static argument, so a new env
    compiles anew): called eagerly, brax's MJX reset would otherwise run op by op and compile hundreds of
    tiny programs; inside a traced function it is inlined."""
    obs, env_state = env.reset(key)
    return RolloutState(env_state, obs)


def random_policy(action_space) -> PolicyFn:
    """A policy_fn that samples uniformly from the (per-env) action space; ignores params."""

    def policy(params, obs, key):
        return jax.vmap(action_space.sample)(jax.random.split(key, obs.shape[0])), {}

    return policy


class Fold(NamedTuple):
    """A reduction of the transitions carried through the scan instead of stacking them: for consumers
    that only need a summary (fitness, evaluation, plan scores), so no [T, N, ...] batch is materialised.
    The fold's result is finish(acc) after acc = update(acc, transition) from init(first RolloutState)."""

    init: Callable[[RolloutState], Any]
    update: Callable[[Any, Transition], Any]
    finish: Callable[[Any], Any] = lambda acc: acc


def rollout(env, policy_fn: PolicyFn, params, state: RolloutState, key: jax.Array,
            num_steps: int, context: bool = False, fold: Fold | None = None) -> tuple[RolloutState, Any]:
    """Step the vector env `num_steps` times; returns the carried state and a [T, N, ...] Transition,
    or with `fold` the fold's result instead of the Transition batch.
    `context=True` passes a StepContext (step index, env state) as the policy's fourth argument."""

    def step(carry: RolloutState, xs):
        t, (policy_key, env_key) = xs
        if context:
            action, extras = policy_fn(params, carry.obs, policy_key, StepContext(t, carry.env_state))
        else:
            action, extras = policy_fn(params, carry.obs, policy_key)
        res = env.step(env_key, carry.env_state, action)
        info = {k: res.info[k] for k in EPISODE_INFO if k in res.info}
        transition = Transition(carry.obs, action, res.reward, res.terminated, res.truncated,
                                res.info.get("final_obs", res.obs), extras, info)
        return RolloutState(res.state, res.obs), transition

    # Every step's policy and env keys come from one batched split before the scan: on CPU, JAX lowers
    # threefry to a small XLA while loop, and one split per step inside the scan cost ES (65 members
    # sharing their keys, one env each) 18% of its time.
    xs = (jnp.arange(num_steps), jax.random.split(key, (num_steps, 2)))
    if fold is None:
        return jax.lax.scan(step, state, xs)

    def fold_step(carry, xs):
        state, acc = carry
        state, transition = step(state, xs)
        return (state, fold.update(acc, transition)), None

    (state, acc), _ = jax.lax.scan(fold_step, (state, fold.init(state)), xs)
    return state, fold.finish(acc)


def population_rollout(env, policy_fn: PolicyFn, params, state: RolloutState, key: jax.Array,
                       num_steps: int, context: bool = False, shared_key: bool = False,
                       fold: Fold | None = None) -> tuple[RolloutState, Any]:
    """`rollout` with a leading population axis P on params and state: Transition is [P, T, N, ...]
    (with `fold`, the fold's result gains the leading P axis).
    `key` is one key (split into one per member) or a batch [P, 2] of per-member keys, so that a member's
    randomness can depend on its index in the whole population rather than its place in a device's slice.
    `shared_key=True`: every member gets `key` itself (common random numbers), and the random draws of env
    and policy are made once per step for the whole population instead of once per member."""
    num_members = jax.tree.leaves(state)[0].shape[0]
    member = lambda p, s, k: rollout(env, policy_fn, p, s, k, num_steps, context, fold)
    if shared_key:
        return jax.vmap(member, in_axes=(0, 0, None))(params, state, key)
    keys = key if key.ndim == 2 else jax.random.split(key, num_members)
    return jax.vmap(member)(params, state, keys)


def first_episode(batch: Transition) -> tuple[jax.Array, jax.Array]:
    """(return, length) of each env's first episode in a [..., T, N] batch (time axis -2); an env whose
    episode did not end within T steps reports its return and length so far."""
    done = batch.done.astype(jnp.float32)
    alive = (jnp.cumsum(done, axis=-2) - done) == 0  # up to and including the first done
    return (batch.reward * alive).sum(axis=-2), alive.sum(axis=-2)


def first_episode_return(batch: Transition) -> jax.Array:
    return first_episode(batch)[0]


def _first_episode_init(state: RolloutState):
    num_envs = state.obs.shape[0]
    return jnp.zeros(num_envs, jnp.float32), jnp.zeros(num_envs, jnp.int32), jnp.ones(num_envs, bool)


def _first_episode_update(acc, transition: Transition):
    total, length, alive = acc  # alive: no episode has ended before this step
    return total + transition.reward * alive, length + alive, jnp.logical_and(alive, ~transition.done)


# `first_episode` as a fold: (return, length) of each env's first episode, [N], without the [T, N] batch
FIRST_EPISODE = Fold(_first_episode_init, _first_episode_update, lambda acc: acc[:2])


def episode_metrics(info: dict) -> dict:
    """Mean return/length over episodes that ended in a batch (NaN when none ended)."""
    done = info["episode_done"].astype(jnp.float32)
    count = done.sum()
    mean = lambda x: jnp.where(count > 0, (x * done).sum() / jnp.maximum(count, 1.0), jnp.nan)
    return {"episode_return": mean(info["episode_return"]),
            "episode_length": mean(info["episode_length"].astype(jnp.float32)),
            "episodes": count}
