"""brax environments (MJX pipeline by default) behind the jaxrl protocol, with our own time limit."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.core import Env, StepResult
from jaxrl.envs.spaces import Box

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")


def _brax_envs():
    """`brax.envs`, imported without mujoco's "Failed to import warp" line: warp is MJX's optional
    GPU backend, which jaxrl does not use, and the message reads like an error when it is not one."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        from brax import envs
    return envs


def brax_ids() -> list[str]:
    envs = _brax_envs()
    return sorted(n for n in envs._envs if n != "fast")  # "fast" is brax's internal test env


@struct.dataclass
class BraxState:
    brax_state: Any
    time: jax.Array


class BraxEnv(Env):
    def __init__(self, name: str, backend: str = "mjx", episode_length: int = 1000, **kwargs):
        envs = _brax_envs()
        if backend not in BRAX_BACKENDS:
            raise ValueError(f"brax/{name}: unknown backend {backend!r}; allowed: {list(BRAX_BACKENDS)}")
        self.env = envs.get_environment(name, backend=backend, **kwargs)
        self.id = f"brax/{name}"
        self.backend = backend
        self.max_episode_steps = int(episode_length)
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (self.env.observation_size,))
        self.action_space = Box.make(-1.0, 1.0, (self.env.action_size,))

    def reset(self, key):
        state = self.env.reset(key)
        return state.obs, BraxState(state, jnp.zeros((), jnp.int32))

    def step(self, key, state, action):
        del key  # brax dynamics are deterministic
        nxt = self.env.step(state.brax_state, action)
        time = state.time + 1
        terminated = jnp.asarray(nxt.done) > 0.5
        truncated = jnp.logical_and(time >= self.max_episode_steps, ~terminated)
        return StepResult(nxt.obs, BraxState(nxt, time), jnp.asarray(nxt.reward, jnp.float32),
                          terminated, truncated, {})
