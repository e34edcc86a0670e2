"""Wrappers written once for every adapter: action rescaling, episode statistics, auto-reset,
vectorisation, and running observation normalisation (statistics live in the env state pytree)."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.core.running_stats import RunningStats
from jaxrl.envs.core import Env, Wrapper
from jaxrl.envs.spaces import Box


def _select(pred, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


class RescaleAction(Wrapper):
    """Agents act in [-1, 1]^d; this maps (after clipping) onto the env's bounded box."""

    def __init__(self, env: Env):
        super().__init__(env)
        box = env.action_space
        if not isinstance(box, Box) or not box.bounded:
            raise TypeError(f"RescaleAction needs a bounded Box action space, got {box!r} for {env.id}")
        self._box = box

    @property
    def action_space(self) -> Box:
        return Box.make(-1.0, 1.0, self._box.shape)

    def step(self, key, state, action):
        action = jnp.clip(action, -1.0, 1.0)
        low, high = self._box.low_array, self._box.high_array
        return self.env.step(key, state, low + (action + 1.0) * 0.5 * (high - low))


@struct.dataclass
class EpisodeStatsState:
    env_state: Any
    episode_return: jax.Array
    episode_length: jax.Array


class EpisodeStatistics(Wrapper):
    """Adds info['episode_return'|'episode_length'|'episode_done'] for episodes that end at this step."""

    def reset(self, key):
        obs, state = self.env.reset(key)
        return obs, EpisodeStatsState(state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def step(self, key, state, action):
        res = self.env.step(key, state.env_state, action)
        ret = state.episode_return + res.reward
        length = state.episode_length + 1
        done = jnp.logical_or(res.terminated, res.truncated)
        info = dict(res.info, episode_return=ret, episode_length=length, episode_done=done)
        new = EpisodeStatsState(res.state, jnp.where(done, 0.0, ret), jnp.where(done, 0, length))
        return res._replace(state=new, info=info)


def env_keys(key, num_envs: int):
    """`VecEnv`'s per-env step keys. A single env gets the step key itself: `split(key, 1)` would add a
    threefry hash to every env step of ES, the planner and one-env SAC (bench/FINDINGS.md, 2026-11-28). A
    step key is fresh for each step (the rollout kernel splits them all up front) and used once."""
    return key[None] if num_envs == 1 else jax.random.split(key, num_envs)


class AutoReset(Wrapper):
    """Resets finished episodes inside the step; info['final_obs'] keeps the last observation
    of the finished episode so value targets can bootstrap through truncation.

    `skip_idle_resets`: inside a `VecEnv`, on the CPU, skip the reset work of a step where no env of the
    batch finished (see `step_batch`). The training loops turn it on; it is off by default because under a
    `vmap` whose reset inputs are shared by the mapped axis (ES's common random numbers), JAX turns the
    skip into computing the reset once per mapped copy instead of once (ES: 1.7x slower on the CPU)."""

    def __init__(self, env: Env, skip_idle_resets: bool = False):
        super().__init__(env)
        self.skip_idle_resets = bool(skip_idle_resets)

    def _reset_where(self, reset_key, done, res):
        reset_obs, reset_state = self.env.reset(reset_key)
        obs = _select(done, reset_obs, res.obs)
        new_state = _select(done, reset_state, res.state)
        return res._replace(obs=obs, state=new_state, info=dict(res.info, final_obs=res.obs))

    def step(self, key, state, action):
        step_key, reset_key = jax.random.split(key)
        res = self.env.step(step_key, state, action)
        return self._reset_where(reset_key, jnp.logical_or(res.terminated, res.truncated), res)

    def step_batch(self, key, num_envs: int, state, action):
        """`VecEnv.step` of `num_envs` envs: `vmap(step)` over their keys (`env_keys(key, num_envs)`). Every
        env computes a fresh initial state at every step and keeps it where its episode ended. With
        `skip_idle_resets`, on the CPU a step where no env of the batch finished skips that work: a `lax.cond`
        on the whole batch, which the CPU decides on the spot (on a GPU each conditional waits for a round trip
        to the host, so there every step computes it). The reset keys are drawn inside the reset branch, so
        an env whose step reads no key (CartPole, Pendulum, brax) draws no key on an idle step. The results
        are the same either way: the keys are split as in `step`, and an env that did not finish keeps its
        own state."""
        halves = lambda: jax.vmap(jax.random.split)(env_keys(key, num_envs))  # noqa: E731  [N, 2, key]
        keys = halves()
        res = jax.vmap(self.env.step)(keys[:, 0], state, action)
        done = jnp.logical_or(res.terminated, res.truncated)
        resets = lambda keys: jax.vmap(self._reset_where)(keys[:, 1], done, res)  # noqa: E731
        if not self.skip_idle_resets:
            return resets(keys)
        unchanged = lambda: res._replace(info=dict(res.info, final_obs=res.obs))  # noqa: E731
        # on the CPU the branch draws its keys again (the same ones), so that an idle step of an env whose
        # step reads no key draws none: XLA drops `keys` there
        skip = lambda: jax.lax.cond(jnp.any(done), lambda: resets(halves()), unchanged)  # noqa: E731
        return jax.lax.platform_dependent(cpu=skip, default=lambda: resets(keys))


class VecEnv(Wrapper):
    """`num_envs` copies stepped in lock-step with vmap; all arrays gain a leading [num_envs] axis."""

    def __init__(self, env: Env, num_envs: int):
        super().__init__(env)
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)

    def reset(self, key):
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def step(self, key, state, action):
        # per-env keys: `env_keys`; `reset` keeps its split even for one env, since a caller may also draw from
        # the key it resets with
        if isinstance(self.env, AutoReset):
            return self.env.step_batch(key, self.num_envs, state, action)
        return jax.vmap(self.env.step)(env_keys(key, self.num_envs), state, action)


@struct.dataclass
class NormalizeState:
    env_state: Any
    obs_stats: RunningStats  # the statistics observations are normalised with
    pending: Any = None  # with every > 1: the statistics of every observation so far, merged in at the next commit
    steps: Any = None  # with every > 1: steps since reset


class NormalizeObservation(Wrapper):
    """Running mean/std normalisation over all envs of a VecEnv. With update=False (evaluation)
    the statistics in the state are used as they are.

    `every` is how often the statistics used change. 1 (the default): at every step, from that step's
    observations, so a rollout's observations are each normalised by the statistics of their moment.
    N > 1 (an on-policy rollout's length, `algo.normalize_obs_update=rollout`): the statistics stay fixed
    for N steps and then take in every observation seen so far, as brax's PPO updates its normaliser once
    per batch (brax also renormalises the batch with the new statistics in its loss; here the update sees
    the observations as the policy did); the first N steps run on the initial statistics (mean 0,
    variance 1). Either way the statistics merge the same batches in the same order, so after each N steps
    the two agree."""

    def __init__(self, env: Env, update: bool = True, clip: float = 10.0, every: int = 1):
        super().__init__(env)
        if int(every) != every or every < 1:
            raise ValueError(f"NormalizeObservation: every={every!r} must be an integer >= 1")
        self.update = update
        self.clip = clip
        self.every = int(every)

    def _stats(self, stats: RunningStats, obs):
        return stats.update(obs) if self.update else stats

    def reset(self, key):
        obs, state = self.env.reset(key)
        initial = RunningStats.create(self.observation_space.shape)
        if self.update and self.every > 1:
            return (initial.normalize(obs, self.clip),
                    NormalizeState(state, initial, initial.update(obs), jnp.zeros((), jnp.int32)))
        stats = self._stats(initial, obs)
        return stats.normalize(obs, self.clip), NormalizeState(state, stats)

    def step(self, key, state, action):
        res = self.env.step(key, state.env_state, action)
        if self.update and self.every > 1:
            pending, steps = state.pending.update(res.obs), state.steps + 1
            commit = steps % self.every == 0
            stats = jax.tree.map(lambda p, s: jnp.where(commit, p, s), pending, state.obs_stats)
            final_stats, new_state = state.obs_stats, NormalizeState(res.state, stats, pending, steps)
        else:  # the final observation belongs to this step's transition, normalised as its other observations
            stats = final_stats = self._stats(state.obs_stats, res.obs)
            new_state = NormalizeState(res.state, stats)
        info = dict(res.info)
        if "final_obs" in info:
            info["final_obs"] = final_stats.normalize(info["final_obs"], self.clip)
        return res._replace(obs=stats.normalize(res.obs, self.clip), state=new_state, info=info)


def find_wrapper_state(state, cls):
    """The NormalizeState (or other wrapper state of type `cls`) inside a nested env state, or None."""
    while state is not None:
        if isinstance(state, cls):
            return state
        state = getattr(state, "env_state", None)
    return None
