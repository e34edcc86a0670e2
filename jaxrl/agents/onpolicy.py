"""What the on-policy agents share: the acting config fields, the actor-critic network with its sampling
and greedy policies, and one optimiser step. Each algorithm module adds only its own loss and update."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import optax
from flax import struct

from jaxrl.agents.base import AlgoConfig
from jaxrl.core import networks
from jaxrl.core.networks import ActorCritic, action_head_for, greedy_action
from jaxrl.core.optim import check_optimizer_eps, gradient_step
from jaxrl.envs.spaces import Discrete

NORMALIZE_OBS_UPDATES = ("step", "rollout")  # when the observation statistics change


@dataclass(frozen=True)
class OnPolicyConfig(AlgoConfig):
    """Static fields common to the on-policy family (they shape the compiled program)."""

    num_envs: int = 16
    rollout_length: int = 128
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    distribution: str = "auto"  # auto | categorical | gaussian
    normalize_obs: bool = False
    # when the observation statistics change: "step" (at every env step) or "rollout" (once per rollout,
    # from all observations so far; fixed within a rollout, as brax's PPO normaliser; bench/normalize_obs_update.py:
    # as good on brax inverted_pendulum, Pendulum and Acrobot, worse on CartPole)
    normalize_obs_update: str = "step"
    # the epsilon of the optimiser's denominator (Adam, RMSprop): 1e-5 as in CleanRL and Stable-Baselines3;
    # optax's, brax's and rejax's Adam use 1e-8
    optimizer_eps: float = 1e-5

    def normalize_every(self) -> int:
        """Env steps between changes of the observation statistics (`NormalizeObservation(every=...)`)."""
        return self.rollout_length if self.normalize_obs_update == "rollout" else 1

    def steps_per_iteration(self, env=None) -> int:
        return self.num_envs * self.rollout_length

    def validate(self, env) -> None:
        check_optimizer_eps(self.optimizer_eps)
        allowed = ("auto", "categorical", "gaussian")
        if self.distribution not in allowed:
            raise ValueError(f"algo.distribution={self.distribution!r}; allowed: {list(allowed)}")
        discrete = isinstance(env.action_space, Discrete)
        if self.distribution == "gaussian" and discrete:
            raise ValueError(f"algo.distribution='gaussian' (a continuous policy) cannot act in {env.id}, "
                             f"whose actions are discrete ({env.action_space}); use 'categorical' or 'auto'")
        if self.normalize_obs_update not in NORMALIZE_OBS_UPDATES:
            raise ValueError(f"algo.normalize_obs_update={self.normalize_obs_update!r}; allowed: "
                             f"{list(NORMALIZE_OBS_UPDATES)}")
        if self.normalize_obs_update == "rollout" and not self.normalize_obs:
            raise ValueError("algo.normalize_obs_update='rollout' says when the observation statistics change, "
                             "but algo.normalize_obs is false: set algo.normalize_obs=true too")
        if self.distribution == "categorical" and not discrete:
            raise ValueError(f"algo.distribution='categorical' cannot act in {env.id}, whose actions are "
                             f"continuous; use 'gaussian' or 'auto'")


@struct.dataclass
class TrainState:
    params: Any
    opt_state: Any


def actor_critic(config: OnPolicyConfig, env, shared_torso: bool = False) -> ActorCritic:
    return ActorCritic(action_head_for(env.action_space), config.hidden_sizes, config.activation,
                       obs_ndim=len(env.observation_space.shape), shared_torso=shared_torso)


def init_params(network: ActorCritic, env, key):
    return networks.init_params(network, key, jax.numpy.zeros((1,) + env.observation_space.shape, jax.numpy.float32))


def sampling_policies(network: ActorCritic):
    """(policy, greedy_policy) for the rollout kernel: the sampling policy records log_prob and value."""

    def policy(params, obs, key):
        dist, value = network.apply(params, obs)
        action = dist.sample(seed=key)
        return action, {"log_prob": dist.log_prob(action), "value": value}

    def greedy_policy(params, obs, key):
        dist, _ = network.apply(params, obs)
        return greedy_action(dist), {}

    return policy, greedy_policy


def apply_gradients(tx: optax.GradientTransformation, state: TrainState, grads) -> TrainState:
    return TrainState(*gradient_step(tx, state.params, grads, state.opt_state))
