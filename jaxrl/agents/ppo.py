"""PPO (Schulman et al. 2017) for categorical and Gaussian policies: GAE, minibatch epochs, optional
value clipping, entropy bonus, global-norm clipping, lr annealing, optional observation normalisation.

`algo=ppo` is PPO-Clip, with an optional asymmetric clip range [1-clip_eps, 1+clip_eps_high] and an
optional early stop: once a minibatch's approximate KL from the rollout policy exceeds `target_kl`
(measured before its step), that step and the rest of the iteration's steps are skipped.
`algo=ppo_penalty` is the KL-penalised surrogate E[r·A] - β·KL with the adaptive coefficient: after each
iteration's epochs, d = KL(old || new) on the whole batch; β halves when d < kl_target/1.5 and doubles
when d > kl_target·1.5.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import Agent
from jaxrl.agents.onpolicy import (OnPolicyConfig, TrainState, actor_critic, apply_gradients, init_params,
                                   sampling_policies)
from jaxrl.core import losses
from jaxrl.core.minibatch import flatten_time_env, minibatch_epochs
from jaxrl.core.networks import ActorCritic
from jaxrl.core.optim import flat_params, make_optimizer
from jaxrl.core.returns import gae


UPDATE_LAYOUTS = ("auto", "vector", "pytree")
# what update_layout="auto" compiles on each platform (lax.platform_dependent names), and elsewhere
AUTO_LAYOUT = {"cpu": "pytree"}
AUTO_LAYOUT_DEFAULT = "vector"


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    # static: these shape the compiled program
    num_epochs: int = 4
    num_minibatches: int = 4
    normalize_advantages: bool = True
    clip_value: bool = True
    anneal_lr: bool = True
    clip_eps_high: float | None = None  # upper clip range; None: symmetric (clip_eps)
    target_kl: float | None = None  # early stop of the iteration's minibatch steps; None: off
    # what the minibatch loop carries: "vector" (the parameters as one vector, the metrics stacked: fewest
    # kernels, the faster layout on a GPU), "pytree" (per-layer arrays, whose updates XLA's CPU threads can
    # overlap) or "auto" (pytree on CPU, vector elsewhere). The same values either way, up to float rounding.
    update_layout: str = "auto"
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
        if self.update_layout not in UPDATE_LAYOUTS:
            raise ValueError(f"algo.update_layout={self.update_layout!r}; allowed: {list(UPDATE_LAYOUTS)}")
        for name in ("clip_eps_high", "target_kl"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"algo.{name} must be > 0 (or null to disable), got {getattr(self, name)}")
        batch = self.steps_per_iteration()
        if batch % self.num_minibatches:
            raise ValueError(f"algo.num_minibatches={self.num_minibatches} does not divide the batch "
                             f"num_envs*rollout_length={batch}")


@dataclass(frozen=True)
class PPOPenaltyConfig(PPOConfig):
    kl_target: float = 0.01  # d_targ
    init_kl_coef: float = 1.0  # β at the start

    HPARAMS = PPOConfig.HPARAMS + ("kl_target", "init_kl_coef")


@struct.dataclass
class PenaltyState:
    train: TrainState
    kl_coef: jax.Array  # β, adapted after every iteration


def make_agent(config: PPOConfig, env, num_iterations: int) -> Agent:
    penalty = isinstance(config, PPOPenaltyConfig)
    network = actor_critic(config, env)
    policy, greedy_policy = sampling_policies(network)
    updates_per_iteration = config.num_epochs * config.num_minibatches
    anneal = num_iterations * updates_per_iteration if config.anneal_lr else None

    def optimizer(hp):
        return make_optimizer(hp["lr"], hp["max_grad_norm"], anneal, eps=config.optimizer_eps)

    def init(key, hp):
        params = init_params(network, env, key)
        train = TrainState(params, optimizer(hp).init(params))
        return PenaltyState(train, hp["init_kl_coef"]) if penalty else train

    def loss_fn(params, mb, kl_coef, hp):
        dist, values = network.apply(params, mb["obs"])
        log_ratio = dist.log_prob(mb["action"]) - mb["log_prob"]
        adv = losses.normalize(mb["advantage"]) if config.normalize_advantages else mb["advantage"]
        kl = losses.approx_kl(log_ratio)
        if penalty:
            pg_loss, clip_frac = -jnp.mean(jnp.exp(log_ratio) * adv) + kl_coef * kl, jnp.float32(0)
        else:
            pg_loss, clip_frac = losses.clipped_surrogate(log_ratio, adv, hp["clip_eps"], config.clip_eps_high)
        old_values = mb["value"] if config.clip_value else None
        v_loss = losses.value_loss(values, mb["target"], old_values, hp["clip_eps"])
        entropy = dist.entropy().mean()
        total = pg_loss + hp["vf_coef"] * v_loss - hp["ent_coef"] * entropy
        return total, {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy,
                       "approx_kl": kl, "clip_fraction": clip_frac}

    def update(state, batch, key, hp):
        train, kl_coef = (state.train, state.kl_coef) if penalty else (state, None)
        next_values = network.apply(train.params, batch.next_obs, method=ActorCritic.value)
        advantages, targets = gae(batch.reward * hp["reward_scale"], batch.extras["value"], next_values,
                                  batch.terminated, batch.truncated, hp["gamma"], hp["gae_lambda"])
        data = flatten_time_env({"obs": batch.obs, "action": batch.action, "log_prob": batch.extras["log_prob"],
                                 "value": batch.extras["value"], "advantage": advantages, "target": targets})
        tx = optimizer(hp)

        def epochs(layout):
            def run(key, train, data):
                # "vector": the loop differentiates with respect to one parameter vector and applies the flat
                # optimiser's update to it in one pass; "pytree": it carries the per-layer arrays
                flat, unflatten = flat_params(train.params) if layout == "vector" else (train.params, lambda p: p)

                def step(carry, mb):
                    train, stopped = carry
                    flat_loss = lambda flat: loss_fn(unflatten(flat), mb, kl_coef, hp)
                    grads, metrics = jax.grad(flat_loss, has_aux=True)(train.params)
                    if config.target_kl is None:
                        return (apply_gradients(tx, train, grads), stopped), metrics
                    stopped = jnp.logical_or(stopped, metrics["approx_kl"] > config.target_kl)
                    stepped = apply_gradients(tx, train, grads)
                    train = jax.tree.map(lambda old, new: jnp.where(stopped, old, new), train, stepped)
                    return (train, stopped), dict(metrics, skipped_steps=stopped.astype(jnp.float32))

                (train, _), metrics = minibatch_epochs(
                    key, (TrainState(flat, train.opt_state), jnp.asarray(False)), data, config.num_epochs,
                    config.num_minibatches, step, stack_metrics=layout == "vector")
                return TrainState(unflatten(train.params), train.opt_state), metrics
            return run

        if config.update_layout == "auto":  # chosen when lowering for a platform: the other is never compiled
            train, metrics = jax.lax.platform_dependent(
                key, train, data, default=epochs(AUTO_LAYOUT_DEFAULT),
                **{platform: epochs(layout) for platform, layout in AUTO_LAYOUT.items()})
        else:
            train, metrics = epochs(config.update_layout)(key, train, data)
        if not penalty:
            return train, metrics
        dist, _ = network.apply(train.params, data["obs"])
        kl = losses.approx_kl(dist.log_prob(data["action"]) - data["log_prob"])
        kl_coef = jnp.where(kl < hp["kl_target"] / 1.5, kl_coef / 2,
                            jnp.where(kl > hp["kl_target"] * 1.5, kl_coef * 2, kl_coef))
        return PenaltyState(train, kl_coef), dict(metrics, kl=kl, kl_coef=kl_coef)

    params = (lambda state: state.train.params) if penalty else (lambda state: state.params)
    return Agent(init, policy, greedy_policy, update, params=params)
