"""Trust Region Policy Optimization (Schulman et al. 2015, "Trust Region Policy Optimization", ICML) for
categorical and Gaussian policies, with GAE advantages (Schulman et al. 2016).

Each iteration: (1) a natural-gradient step on the importance-weighted surrogate, its direction from
conjugate gradient on Fisher-vector products (Hessian-vector products of the mean KL(old || new), by
autodiff, plus damping), scaled to the trust region sqrt(2δ / xᵀHx) and shrunk by a backtracking line
search that takes the first step improving the surrogate with mean KL ≤ δ (else the policy stays);
(2) the value function, a separate torso and head, regressed on the GAE targets by Adam minibatches.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxrl.agents.base import Agent
from jaxrl.agents.onpolicy import (OnPolicyConfig, TrainState, actor_critic, apply_gradients, init_params,
                                   sampling_policies)
from jaxrl.core import losses
from jaxrl.core.cg import conjugate_gradient
from jaxrl.core.minibatch import flatten_time_env, minibatch_epochs
from jaxrl.core.networks import ActorCritic, standard_weight_gradients
from jaxrl.core.optim import make_optimizer
from jaxrl.core.returns import gae

POLICY_MODULES = ("actor", "action_head")  # ActorCritic's policy half; the rest is the value function


@dataclass(frozen=True)
class TRPOConfig(OnPolicyConfig):
    # static: these shape the compiled program
    cg_iters: int = 10
    max_backtracks: int = 10  # line-search tries after the full step
    vf_epochs: int = 5
    num_minibatches: int = 4  # of the value regression
    normalize_advantages: bool = True
    # hyperparameters: inputs of train, sweepable with vmap
    max_kl: float = 0.01  # δ, the trust region on the mean KL(old || new)
    gamma: float = 0.99
    gae_lambda: float = 0.97
    cg_damping: float = 0.1
    cg_residual_tol: float = 1e-10
    backtrack_coef: float = 0.5
    vf_lr: float = 1e-3
    vf_max_grad_norm: float = 0.5
    reward_scale: float = 1.0

    HPARAMS = ("max_kl", "gamma", "gae_lambda", "cg_damping", "cg_residual_tol", "backtrack_coef", "vf_lr",
               "vf_max_grad_norm", "reward_scale")

    def validate(self, env) -> None:
        super().validate(env)
        batch = self.steps_per_iteration()
        if batch % self.num_minibatches:
            raise ValueError(f"algo.num_minibatches={self.num_minibatches} does not divide the batch "
                             f"num_envs*rollout_length={batch}")
        for name in ("cg_iters", "vf_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"algo.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_backtracks < 0:
            raise ValueError(f"algo.max_backtracks must be >= 0, got {self.max_backtracks}")
        for name in ("max_kl", "vf_lr", "vf_max_grad_norm", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"algo.{name} must be > 0, got {getattr(self, name)}")
        if self.cg_damping < 0:
            raise ValueError(f"algo.cg_damping must be >= 0, got {self.cg_damping}")
        if not 0 < self.backtrack_coef < 1:
            raise ValueError(f"algo.backtrack_coef must be in (0, 1), got {self.backtrack_coef}")
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"algo.{name} must be in [0, 1], got {getattr(self, name)}")


def split_params(params):
    """(policy params, value params) of an ActorCritic with separate torsos."""
    inner = params["params"]
    return ({k: v for k, v in inner.items() if k in POLICY_MODULES},
            {k: v for k, v in inner.items() if k not in POLICY_MODULES})


def merge_params(policy_params, value_params):
    return {"params": {**policy_params, **value_params}}


def make_agent(config: TRPOConfig, env, num_iterations: int) -> Agent:
    network = actor_critic(config, env, shared_torso=False)
    policy, greedy_policy = sampling_policies(network)
    action_dist = lambda module, obs: module.action_head(module.actor(obs))

    def value_optimizer(hp):
        return make_optimizer(hp["vf_lr"], hp["vf_max_grad_norm"], eps=config.optimizer_eps)

    def init(key, hp):
        params = init_params(network, env, key)
        return TrainState(params, value_optimizer(hp).init(split_params(params)[1]))

    def policy_step(pi, value_params, data, hp):
        """Natural-gradient step with line search on the policy params; returns (new params, metrics)."""
        flat, unravel = ravel_pytree(pi)
        dist_of = lambda flat_pi: network.apply(merge_params(unravel(flat_pi), value_params), data["obs"],
                                                method=action_dist)
        old_dist = dist_of(flat)  # no gradient flows into it: the functions below differentiate `flat_pi` only
        adv = losses.normalize(data["advantage"]) if config.normalize_advantages else data["advantage"]

        def surrogate(flat_pi):  # E[π(a|s) / π_old(a|s) · A]
            return jnp.mean(jnp.exp(dist_of(flat_pi).log_prob(data["action"]) - data["log_prob"]) * adv)

        def mean_kl(flat_pi):
            return jnp.mean(old_dist.kl_divergence(dist_of(flat_pi)))

        def fisher_vector(v):  # H v = d/dε ∇KL(θ + εv) at θ = θ_old, plus damping
            with standard_weight_gradients():  # second order: the CPU form of Dense's gradient is slower here
                return jax.jvp(jax.grad(mean_kl), (flat,), (v,))[1] + hp["cg_damping"] * v

        surrogate_old, grad = jax.value_and_grad(surrogate)(flat)
        direction = conjugate_gradient(fisher_vector, grad, config.cg_iters, hp["cg_residual_tol"])
        full_step = jnp.sqrt(2.0 * hp["max_kl"] / jnp.vdot(direction, fisher_vector(direction))) * direction

        def try_step(carry):
            tries, _, _, _ = carry
            candidate = flat + hp["backtrack_coef"] ** tries * full_step
            improvement, kl = surrogate(candidate) - surrogate_old, mean_kl(candidate)
            accepted = jnp.logical_and(improvement > 0, kl <= hp["max_kl"])  # False for NaN steps too
            return tries + 1, accepted, improvement, kl

        not_done = lambda carry: jnp.logical_and(~carry[1], carry[0] <= config.max_backtracks)
        start = (jnp.asarray(0), jnp.asarray(False), jnp.zeros(()), jnp.zeros(()))
        tries, accepted, improvement, kl = jax.lax.while_loop(not_done, try_step, start)
        step = hp["backtrack_coef"] ** (tries - 1) * full_step
        new_flat = jnp.where(accepted, flat + step, flat)
        metrics = {"kl": jnp.where(accepted, kl, 0.0), "surrogate_improvement": jnp.where(accepted, improvement, 0.0),
                   "accepted": accepted.astype(jnp.float32), "backtracks": (tries - 1).astype(jnp.float32),
                   "entropy": old_dist.entropy().mean()}
        return unravel(new_flat), metrics

    def update(state: TrainState, batch, key, hp):
        next_values = network.apply(state.params, batch.next_obs, method=ActorCritic.value)
        advantages, targets = gae(batch.reward * hp["reward_scale"], batch.extras["value"], next_values,
                                  batch.terminated, batch.truncated, hp["gamma"], hp["gae_lambda"])
        data = flatten_time_env({"obs": batch.obs, "action": batch.action, "log_prob": batch.extras["log_prob"],
                                 "advantage": advantages, "target": targets})
        pi, value_params = split_params(state.params)
        pi, metrics = policy_step(pi, value_params, data, hp)

        tx = value_optimizer(hp)

        def value_loss(vf, mb):
            values = network.apply(merge_params(pi, vf), mb["obs"], method=ActorCritic.value)
            return losses.value_loss(values, mb["target"])

        def value_step(carry: TrainState, mb):
            loss, grads = jax.value_and_grad(value_loss)(carry.params, mb)
            return apply_gradients(tx, carry, grads), {"value_loss": loss}

        value_state, value_metrics = minibatch_epochs(
            key, TrainState(value_params, state.opt_state), {"obs": data["obs"], "target": data["target"]},
            config.vf_epochs, config.num_minibatches, value_step)
        return TrainState(merge_params(pi, value_state.params), value_state.opt_state), metrics | value_metrics

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)
