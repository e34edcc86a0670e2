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


class RewardByActionEnv(Env):
    """One-step episodes from a constant observation. Discrete: reward 1 for action 1, else 0.
    Continuous (actions in [-1, 1]): reward -(a - target)^2, best at a = target."""

    def __init__(self, continuous=False, target=0.5):
        self.id = "test/RewardByAction"
        self.continuous, self.target = continuous, target
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (1,))
        self.action_space = Box.make(-1.0, 1.0, (1,)) if continuous else Discrete(2)
        self.max_episode_steps = 1

    def reset(self, key):
        return jnp.ones((1,), jnp.float32), jnp.zeros((), jnp.int32)

    def step(self, key, state, action):
        if self.continuous:
            reward = -jnp.square(action[0] - self.target)
        else:
            reward = (action == 1).astype(jnp.float32)
        return StepResult(jnp.ones((1,), jnp.float32), state, reward, jnp.asarray(True), jnp.asarray(False), {})


class ConstantRewardEnv(Env):
    """The same observation at every step, reward 1, episodes of `limit` steps that end by truncation
    (or by termination with `terminate=True`). With discount γ, bootstrapping through truncation gives
    Q = 1 / (1 - γ) everywhere; treating the limit as terminal would give less."""

    def __init__(self, limit=3, terminate=False, continuous=False):
        self.id = "test/ConstantReward"
        self.limit, self.terminate = limit, terminate
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (1,))
        self.action_space = Box.make(-1.0, 1.0, (1,)) if continuous else Discrete(2)
        self.max_episode_steps = limit

    def reset(self, key):
        return jnp.ones((1,), jnp.float32), jnp.zeros((), jnp.int32)

    def step(self, key, state, action):
        t = state + 1
        end = t >= self.limit
        terminated = end if self.terminate else jnp.asarray(False)
        truncated = jnp.logical_and(end, ~terminated)
        return StepResult(jnp.ones((1,), jnp.float32), t, jnp.float32(1.0), terminated, truncated, {})
