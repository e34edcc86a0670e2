"""gymnax environments behind the jaxrl protocol (no auto-reset here: `AutoReset` does it once)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.core import Env, StepResult
from jaxrl.envs.spaces import Box, Discrete


def gymnax_ids() -> list[str]:
    import gymnax

    return list(gymnax.registered_envs)


def _convert_space(space) -> Box | Discrete:
    name = type(space).__name__
    if name == "Discrete":
        return Discrete(int(space.n))
    if name == "Box":
        shape = tuple(space.shape) if space.shape is not None else np.shape(space.low)
        return Box.make(space.low, space.high, shape)
    raise TypeError(f"unsupported gymnax space {space!r}")


class GymnaxEnv(Env):
    def __init__(self, name: str, **env_params):
        import gymnax

        self.env, params = gymnax.make(name)
        if env_params:
            unknown = sorted(set(env_params) - set(params.__dataclass_fields__))
            if unknown:
                raise ValueError(
                    f"gymnax/{name}: unknown env parameter(s) {unknown}; "
                    f"allowed: {sorted(params.__dataclass_fields__)}"
                )
            params = params.replace(**env_params)
        self.params = params
        self.id = f"gymnax/{name}"
        self.action_space = _convert_space(self.env.action_space(params))
        obs_space = _convert_space(self.env.observation_space(params))
        # a discrete observation (e.g. FrozenLake's cell index) is given to agents one-hot
        self._one_hot = obs_space.n if isinstance(obs_space, Discrete) else 0
        if self._one_hot:
            obs_space = Box.make(0.0, 1.0, (self._one_hot,))
        self.observation_space = obs_space
        steps = getattr(params, "max_steps_in_episode", None)
        self.max_episode_steps = int(steps) if steps is not None else None

    def _obs(self, obs):
        if self._one_hot:
            return jax.nn.one_hot(obs, self._one_hot, dtype=jnp.float32)
        return jnp.asarray(obs, jnp.float32)

    def reset(self, key):
        obs, state = self.env.reset_env(key, self.params)
        return self._obs(obs), state

    def step(self, key, state, action):
        obs, state, reward, terminated, _ = self.env.step_env(key, state, action, self.params)
        truncated = self.env.is_truncated(state, self.params)
        terminated = jnp.asarray(terminated, bool)
        # a step that both terminates and hits the limit is a termination (no bootstrap)
        truncated = jnp.logical_and(jnp.asarray(truncated, bool), ~terminated)
        return StepResult(self._obs(obs), state, jnp.asarray(reward, jnp.float32),
                          terminated, truncated, {})
