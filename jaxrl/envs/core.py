"""The one environment protocol every adapter and wrapper implements.

    reset(key)                     -> (obs, state)
    step(key, state, action)       -> (obs, state, reward, terminated, truncated, info)

`terminated` means the MDP ended (no bootstrap); `truncated` means a time limit cut the episode
(bootstrap from the final observation). Adapters do not auto-reset; `AutoReset` does, once.
All values are single-env arrays; the rollout kernel vmaps.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxrl.envs.spaces import Box, Discrete, Space


class StepResult(NamedTuple):
    obs: jax.Array
    state: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    info: dict


class Env:
    """Base class. Subclasses set `observation_space`, `action_space`, `max_episode_steps`, `id`."""

    id: str = "env"
    observation_space: Box
    action_space: Space
    max_episode_steps: int | None = None

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        raise NotImplementedError

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> StepResult:
        raise NotImplementedError

    @property
    def unwrapped(self) -> "Env":
        return self

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id})"


class Wrapper(Env):
    """Forwards everything to `env`; subclasses override what they change."""

    def __init__(self, env: Env):
        self.env = env

    def __getattr__(self, name):
        if name == "env":  # guard against recursion before __init__ ran
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def id(self) -> str:
        return self.env.id

    @property
    def observation_space(self) -> Box:
        return self.env.observation_space

    @property
    def action_space(self) -> Space:
        return self.env.action_space

    @property
    def max_episode_steps(self):
        return self.env.max_episode_steps

    @property
    def unwrapped(self) -> Env:
        return self.env.unwrapped

    def reset(self, key):
        return self.env.reset(key)

    def step(self, key, state, action):
        return self.env.step(key, state, action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.env!r}>"
