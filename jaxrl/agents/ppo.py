"""PPO-Clip (Schulman et al. 2017) for categorical and Gaussian policies: GAE, minibatch epochs,
clipped surrogate, optional value clipping, entropy bonus, global-norm clipping, lr annealing."""
from __future__ import annotations

from dataclasses import dataclass

import jax

from jaxrl.agents.base import Agent
from jaxrl.agents.onpolicy import (OnPolicyConfig, TrainState, actor_critic, apply_gradients, init_params,
                                   sampling_policies)
from jaxrl.core import losses
from jaxrl.core.minibatch import flatten_time_env, minibatch_epochs
from jaxrl.core.networks import ActorCritic
from jaxrl.core.optim import make_optimizer
from jaxrl.core.returns import gae


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    # static: these shape the compiled program
    num_epochs: int = 4
    num_minibatches: int = 4
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

    def validate(self, env) -> None:
        super().validate(env)
        batch = self.steps_per_iteration()
        if batch % self.num_minibatches:
            raise ValueError(f"algo.num_minibatches={self.num_minibatches} does not divide the batch "
                             f"num_envs*rollout_length={batch}")


def make_agent(config: PPOConfig, env, num_iterations: int) -> Agent:
    network = actor_critic(config, env)
    policy, greedy_policy = sampling_policies(network)
    updates_per_iteration = config.num_epochs * config.num_minibatches
    anneal = num_iterations * updates_per_iteration if config.anneal_lr else None

    def optimizer(hp):
        return make_optimizer(hp["lr"], hp["max_grad_norm"], anneal)

    def init(key, hp):
        params = init_params(network, env, key)
        return TrainState(params, optimizer(hp).init(params))

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

    def update(state: TrainState, batch, key, hp):
        next_values = network.apply(state.params, batch.next_obs, method=ActorCritic.value)
        advantages, targets = gae(batch.reward * hp["reward_scale"], batch.extras["value"], next_values,
                                  batch.terminated, batch.truncated, hp["gamma"], hp["gae_lambda"])
        data = flatten_time_env({"obs": batch.obs, "action": batch.action, "log_prob": batch.extras["log_prob"],
                                 "value": batch.extras["value"], "advantage": advantages, "target": targets})
        tx = optimizer(hp)

        def step(carry: TrainState, mb):
            grads, metrics = jax.grad(loss_fn, has_aux=True)(carry.params, mb, hp)
            return apply_gradients(tx, carry, grads), metrics

        return minibatch_epochs(key, state, data, config.num_epochs, config.num_minibatches, step)

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)
