"""PPO-Clip (Schulman et al. 2017) for categorical and Gaussian policies: GAE, minibatch epochs,
clipped surrogate, optional value clipping, entropy bonus, global-norm clipping, lr annealing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.base import Agent, AlgoConfig
from jaxrl.core import losses
from jaxrl.core.minibatch import flatten_time_env, minibatch_epochs
from jaxrl.core.networks import ActorCritic, action_head_for, greedy_action
from jaxrl.core.optim import make_optimizer
from jaxrl.core.returns import gae
from jaxrl.envs.spaces import Discrete


@dataclass(frozen=True)
class PPOConfig(AlgoConfig):
    # static: these shape the compiled program
    num_envs: int = 16
    rollout_length: int = 128
    num_epochs: int = 4
    num_minibatches: int = 4
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    distribution: str = "auto"  # auto | categorical | gaussian
    normalize_obs: bool = False
    normalize_advantages: bool = True
    clip_value: bool = True
    anneal_lr: bool = True
    # hyperparameters: inputs of train, sweepable with vmap
    lr: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    reward_scale: float = 1.0

    HPARAMS = ("lr", "gamma", "gae_lambda", "clip_eps", "vf_coef", "ent_coef", "max_grad_norm",
               "reward_scale")

    def steps_per_iteration(self) -> int:
        return self.num_envs * self.rollout_length

    def validate(self, env) -> None:
        batch = self.steps_per_iteration()
        if batch % self.num_minibatches:
            raise ValueError(f"algo.num_minibatches={self.num_minibatches} does not divide the batch "
                             f"num_envs*rollout_length={batch}")
        allowed = ("auto", "categorical", "gaussian")
        if self.distribution not in allowed:
            raise ValueError(f"algo.distribution={self.distribution!r}; allowed: {list(allowed)}")
        discrete = isinstance(env.action_space, Discrete)
        if self.distribution == "gaussian" and discrete:
            raise ValueError(f"algo.distribution='gaussian' (continuous PPO) cannot act in {env.id}, "
                             f"whose actions are discrete ({env.action_space}); use 'categorical' or 'auto'")
        if self.distribution == "categorical" and not discrete:
            raise ValueError(f"algo.distribution='categorical' cannot act in {env.id}, whose actions are "
                             f"continuous; use 'gaussian' or 'auto'")


@struct.dataclass
class PPOState:
    params: Any
    opt_state: Any


def make_agent(config: PPOConfig, env, num_iterations: int) -> Agent:
    network = ActorCritic(action_head_for(env.action_space), config.hidden_sizes, config.activation,
                          obs_ndim=len(env.observation_space.shape))
    updates_per_iteration = config.num_epochs * config.num_minibatches
    anneal = num_iterations * updates_per_iteration if config.anneal_lr else None

    def optimizer(hp):
        return make_optimizer(hp["lr"], hp["max_grad_norm"], anneal)

    def init(key, hp):
        obs = jnp.zeros((1,) + env.observation_space.shape, jnp.float32)
        params = network.init(key, obs)
        return PPOState(params, optimizer(hp).init(params))

    def policy(params, obs, key):
        dist, value = network.apply(params, obs)
        action = dist.sample(seed=key)
        return action, {"log_prob": dist.log_prob(action), "value": value}

    def greedy_policy(params, obs, key):
        dist, _ = network.apply(params, obs)
        return greedy_action(dist), {}

    def loss_fn(params, mb, hp):
        dist, values = network.apply(params, mb["obs"])
        log_ratio = dist.log_prob(mb["action"]) - mb["log_prob"]
        adv = losses.normalize(mb["advantage"]) if config.normalize_advantages else mb["advantage"]
        pg_loss, clip_frac = losses.clipped_surrogate(log_ratio, adv, hp["clip_eps"])
        old_values = mb["value"] if config.clip_value else None
        v_loss = losses.value_loss(values, mb["target"], old_values, hp["clip_eps"])
        entropy = dist.entropy().mean()
        total = pg_loss + hp["vf_coef"] * v_loss - hp["ent_coef"] * entropy
        return total, {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy,
                       "approx_kl": losses.approx_kl(log_ratio), "clip_fraction": clip_frac}

    def update(state: PPOState, batch, key, hp):
        next_values = network.apply(state.params, batch.next_obs, method=ActorCritic.value)
        advantages, targets = gae(batch.reward * hp["reward_scale"], batch.extras["value"], next_values,
                                  batch.terminated, batch.truncated, hp["gamma"], hp["gae_lambda"])
        data = flatten_time_env({"obs": batch.obs, "action": batch.action, "log_prob": batch.extras["log_prob"],
                                 "value": batch.extras["value"], "advantage": advantages, "target": targets})
        tx = optimizer(hp)

        def step(carry: PPOState, mb):
            grads, metrics = jax.grad(loss_fn, has_aux=True)(carry.params, mb, hp)
            updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
            return PPOState(optax.apply_updates(carry.params, updates), opt_state), metrics

        return minibatch_epochs(key, state, data, config.num_epochs, config.num_minibatches, step)

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)
