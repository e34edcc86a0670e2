"""Tiny deterministic environments of the tests' own, implementing the jaxrl protocol."""
import jax.numpy as jnp

from jaxrl.envs import Box, Discrete, Env, StepResult


class CountingEnv(Env):
    """obs = [t]; reward = t + 1 for the step taken at t; terminates after `terminate_at` steps
    (if set), else truncates after `limit` steps. Actions are ignored."""

    def __init__(self, limit=4, terminate_at=None, continuous=False):
        self.limit, self.terminate_at = limit, terminate_at
        self.id = "test/Counting"
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (1,))
        self.action_space = Box.make(-2.0, 2.0, (1,)) if continuous else Discrete(2)
        self.max_episode_steps = limit

    def reset(self, key):
        t = jnp.zeros((), jnp.int32)
        return t[None].astype(jnp.float32), t

    def step(self, key, state, action):
        t = state + 1
        terminated = jnp.asarray(False) if self.terminate_at is None else t >= self.terminate_at
        truncated = jnp.logical_and(t >= self.limit, ~terminated)
        return StepResult(t[None].astype(jnp.float32), t, (state + 1).astype(jnp.float32), terminated, truncated, {})
