"""What the off-policy agents share: the replay and collection config fields, and one iteration's
learning: store the rollout in the replay buffer, then (once `learning_starts` env steps are stored)
`num_updates` gradient steps, each on a fresh uniform sample. Each algorithm module adds its loss."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp

from jaxrl.agents.base import AlgoConfig
from jaxrl.core import replay
from jaxrl.core.optim import check_optimizer_eps
from jaxrl.envs.spaces import Discrete


@dataclass(frozen=True)
class OffPolicyConfig(AlgoConfig):
    """Static fields common to the off-policy family (they shape the compiled program)."""

    num_envs: int = 1
    rollout_length: int = 1  # env steps per env between learning phases
    num_updates: int = 1  # gradient steps per iteration
    batch_size: int = 256  # transitions per gradient step
    buffer_size: int = 100_000
    learning_starts: int = 1_000  # env steps (all envs) stored before the first gradient step
    target_update_interval: int = 1  # gradient steps between target-network updates
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    optimizer_eps: float = 1e-5  # the epsilon of Adam's denominator (optax's default is 1e-8)
    # (the action-space class the algorithm acts in, its algo name, the algo to suggest for the other kind)
    ACTIONS: ClassVar[tuple[type, str, str] | None] = None

    def steps_per_iteration(self, env=None) -> int:
        return self.num_envs * self.rollout_length

    def validate(self, env) -> None:
        check_optimizer_eps(self.optimizer_eps)
        if self.ACTIONS is not None and not isinstance(env.action_space, self.ACTIONS[0]):
            space, algo, other = self.ACTIONS
            need, has = ("discrete", "continuous") if space is Discrete else ("continuous", "discrete")
            raise ValueError(f"algo={algo} needs {need} actions, but {env.id} has {has} actions "
                             f"({env.action_space}); use algo={other}")
        if self.batch_size < 1:
            raise ValueError(f"algo.batch_size must be >= 1, got {self.batch_size}")
        if self.target_update_interval < 1:
            raise ValueError(f"algo.target_update_interval must be >= 1, got {self.target_update_interval}")
        if self.learning_starts < 0:
            raise ValueError(f"algo.learning_starts must be >= 0, got {self.learning_starts}")
        if self.buffer_size < max(self.batch_size, self.steps_per_iteration()):
            raise ValueError(f"algo.buffer_size={self.buffer_size} must hold at least one gradient batch "
                             f"(algo.batch_size={self.batch_size}) and one iteration's transitions "
                             f"(num_envs*rollout_length={self.steps_per_iteration()})")


def store_and_learn(config: OffPolicyConfig, buffer: replay.ReplayState, env_steps, batch, learner: Any,
                    key: jax.Array, learn_step: Callable[[Any, dict, jax.Array], tuple[Any, dict]],
                    iteration=None):
    """Add a [T, N] rollout to the buffer, then run `learn_step(learner, sample, key) -> (learner, metrics)`
    `num_updates` times if `learning_starts` env steps have been stored (before that the learner is
    unchanged and the metrics are zeros). Returns (buffer, env_steps, learner, mean metrics).
    `iteration` (the loop index, shared by all seeds) decides the warm-up when given: with seeds vmapped,
    a test on each seed's own step count would compute the skipped gradient steps and discard them."""
    buffer = replay.add(buffer, replay.from_rollout(batch))
    env_steps = env_steps + config.steps_per_iteration()

    def learn(learner):
        def body(learner, k):
            sample_key, step_key = jax.random.split(k)
            return learn_step(learner, replay.sample(buffer, sample_key, config.batch_size), step_key)

        learner, metrics = jax.lax.scan(body, learner, jax.random.split(key, config.num_updates))
        return learner, jax.tree.map(jnp.mean, metrics)

    def wait(learner):
        shapes = jax.eval_shape(learn, learner)[1]
        return learner, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    stored = env_steps if iteration is None else (iteration + 1) * config.steps_per_iteration()
    learner, metrics = jax.lax.cond(stored >= config.learning_starts, learn, wait, learner)
    return buffer, env_steps, learner, metrics
