"""REINFORCE (Williams 1992): Monte Carlo policy gradient with reward-to-go (causality), for categorical
and Gaussian policies, with an optional baseline (Sutton & Barto 2018, 13.3-13.4; Greensmith et al. 2004):

    ∇J ≈ mean_t ∇log π(a_t|s_t) (G_t - b_t),   G_t = Σ_{k≥t} γ^{k-t} r_k  up to the episode's end.

Baselines: "none"; "constant" (b = mean G over the batch's used transitions, whose O(1/batch) dependence on
each sample is the usual negligible bias); "time" (b_k = running mean of G at step-in-episode k,
an EMA table in the agent state updated *after* the batch it serves, so b never depends on the actions it
weighs); "value" (a learned V(s) regressed on G, vf_iters full-batch steps per batch).

Complete episodes only, never bootstrapped from a critic. The driver hands over fixed windows of
rollout_length steps per env, so episodes straddle window edges. Keeping "the episodes that finished in the
window" would be biased towards short episodes (a long one is less likely to fit). Instead a transition is
used iff its episode *started* at a step s of the window with s ≤ rollout_length - max_episode_steps: such
an episode always ends inside the window, and whether it is used depends only on when it started (i.e. on
earlier episodes), never on its own actions, so the estimate stays unbiased. This needs
rollout_length ≥ the env's episode limit; the data used is about (rollout_length - limit + mean episode
length) / rollout_length of the window: take about twice the limit, or exactly the limit (or a multiple) when
every episode lasts the limit, as in Pendulum, where then all of it is used. Time-limit truncation ends the return without a bootstrap,
the textbook Monte Carlo treatment (the limit is part of the task).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import Agent
from jaxrl.agents.onpolicy import (OnPolicyConfig, TrainState, actor_critic, apply_gradients, init_params,
                                   sampling_policies)
from jaxrl.core import losses
from jaxrl.core.networks import ActorCritic
from jaxrl.core.optim import make_optimizer
from jaxrl.core.returns import discounted_returns

BASELINES = ("none", "constant", "time", "value")


@dataclass(frozen=True)
class ReinforceConfig(OnPolicyConfig):
    # static: these shape the compiled program
    num_envs: int = 8
    rollout_length: int = 1000  # must be >= the env's episode limit (see the module docstring)
    baseline: str = "value"  # none | constant | time | value
    vf_iters: int = 10  # value-regression steps per batch (baseline="value")
    anneal_lr: bool = False
    # hyperparameters: inputs of train, sweepable with vmap
    lr: float = 1e-3
    vf_lr: float = 1e-3
    gamma: float = 0.99
    ent_coef: float = 0.0
    max_grad_norm: float = 1.0
    baseline_ema: float = 0.1  # step size of the "time" baseline's running mean
    reward_scale: float = 1.0

    HPARAMS = ("lr", "vf_lr", "gamma", "ent_coef", "max_grad_norm", "baseline_ema", "reward_scale")

    def validate(self, env) -> None:
        super().validate(env)
        if self.baseline not in BASELINES:
            raise ValueError(f"algo.baseline={self.baseline!r} is unknown; allowed: {list(BASELINES)}")
        if self.vf_iters < 1:
            raise ValueError(f"algo.vf_iters must be >= 1, got {self.vf_iters}")
        if not 0.0 < self.baseline_ema <= 1.0:
            raise ValueError(f"algo.baseline_ema must be in (0, 1], got {self.baseline_ema}")
        limit = env.max_episode_steps
        if limit is None:
            raise ValueError(f"algo=reinforce needs episodes of bounded length, but {env.id} has no episode limit")
        if self.rollout_length < limit:
            raise ValueError(f"algo.rollout_length={self.rollout_length} must be >= the episode limit {limit} of "
                             f"{env.id}: REINFORCE learns from complete episodes only")


@struct.dataclass
class ReinforceState:
    params: Any
    opt_state: Any  # (policy optimiser state, value optimiser state)
    time_baseline: jax.Array  # [max_episode_steps] running mean of G by step-in-episode
    time_seen: jax.Array  # [max_episode_steps] bool: the entry has been set once


def complete_episode_returns(batch, gamma, max_episode_steps: int):
    """(G [T, N], step_in_episode [T, N], mask [T, N]): Monte Carlo rewards-to-go with no bootstrap at all,
    the step index within the episode, and 1.0 for transitions of episodes that started at a step
    s ≤ T - max_episode_steps of this window (so they end inside it; see the module docstring)."""
    horizon = batch.reward.shape[0]
    returns = discounted_returns(batch.reward, batch.terminated, batch.truncated, gamma)
    step = batch.info["episode_length"].astype(jnp.int32) - 1
    start = jnp.arange(horizon)[:, None] - step
    mask = jnp.logical_and(start >= 0, start <= horizon - max_episode_steps)
    return returns, step, mask.astype(jnp.float32)


def baseline_values(kind: str, returns, mask, step, time_baseline, values):
    """b_t for each baseline kind; `time_baseline` is the table from earlier batches, `values` V(s_t)."""
    if kind == "none":
        return jnp.zeros_like(returns)
    if kind == "constant":
        return jnp.full_like(returns, losses.masked_mean(returns, mask))
    if kind == "time":
        return time_baseline[step]
    if kind == "value":
        return values
    raise ValueError(f"algo.baseline={kind!r} is unknown; allowed: {list(BASELINES)}")


def update_time_baseline(table, seen, returns, mask, step, rate):
    """EMA of the batch-mean return at each step-in-episode (entries first seen are set to the batch mean)."""
    size = table.shape[0]
    flat_step = jnp.clip(step, 0, size - 1).reshape(-1)
    total = jax.ops.segment_sum((returns * mask).reshape(-1), flat_step, size)
    count = jax.ops.segment_sum(mask.reshape(-1), flat_step, size)
    batch_mean = total / jnp.maximum(count, 1.0)
    new = jnp.where(seen, table + rate * (batch_mean - table), batch_mean)
    observed = count > 0
    return jnp.where(observed, new, table), jnp.logical_or(seen, observed)


def make_pg_update(network: ActorCritic, policy_tx, value_tx, vf_iters: int, fit_value: bool = True):
    """One policy-gradient step on (obs, action, advantage), then `vf_iters` full-batch regression steps of
    V(s) on `targets`; separate optimisers (the actor and critic torsos are separate, so each loss leaves
    the other's parameters untouched). Shared by REINFORCE and VPG."""

    def policy_loss(params, data, mask, ent_coef):
        dist, _ = network.apply(params, data["obs"])
        pg_loss = losses.policy_gradient(dist.log_prob(data["action"]), data["advantage"], mask)
        entropy = losses.masked_mean(dist.entropy(), mask)
        return pg_loss - ent_coef * entropy, {"policy_loss": pg_loss, "entropy": entropy}

    def value_loss(params, data, mask):
        values = network.apply(params, data["obs"], method=ActorCritic.value)
        return 0.5 * losses.masked_mean(jnp.square(values - data["target"]), mask)

    def step(tx, params, opt_state, grads):
        stepped = apply_gradients(tx, TrainState(params, opt_state), grads)
        return stepped.params, stepped.opt_state

    def update(params, opt_state, data, mask, hp):
        """`data`: obs, action, advantage, target with leading [T, N]; `mask` [T, N] or None."""
        policy_opt, value_opt = opt_state
        grads, metrics = jax.grad(policy_loss, has_aux=True)(params, data, mask, hp["ent_coef"])
        params, policy_opt = step(policy_tx, params, policy_opt, grads)
        if fit_value:
            def value_step(carry, _):
                p, o = carry
                loss, g = jax.value_and_grad(value_loss)(p, data, mask)
                return step(value_tx, p, o, g), loss

            (params, value_opt), value_losses = jax.lax.scan(value_step, (params, value_opt), None, vf_iters)
            metrics["value_loss"] = value_losses.mean()
        return params, (policy_opt, value_opt), metrics

    return update


def make_agent(config: ReinforceConfig, env, num_iterations: int) -> Agent:
    network = actor_critic(config, env)
    policy, greedy_policy = sampling_policies(network)
    limit = env.max_episode_steps
    if limit is None:
        raise ValueError(f"algo=reinforce needs episodes of bounded length, but {env.id} has no episode limit")
    anneal = num_iterations if config.anneal_lr else None
    use_value = config.baseline == "value"

    def optimizers(hp):
        value_anneal = anneal and anneal * config.vf_iters
        return (make_optimizer(hp["lr"], hp["max_grad_norm"], anneal, eps=config.optimizer_eps),
                make_optimizer(hp["vf_lr"], hp["max_grad_norm"], value_anneal, eps=config.optimizer_eps))

    def init(key, hp):
        params = init_params(network, env, key)
        policy_tx, value_tx = optimizers(hp)
        return ReinforceState(params, (policy_tx.init(params), value_tx.init(params)),
                              jnp.zeros(limit, jnp.float32), jnp.zeros(limit, bool))

    def update(state: ReinforceState, batch, key, hp):
        returns, step, mask = complete_episode_returns(batch, hp["gamma"], limit)
        returns = returns * hp["reward_scale"]
        values = batch.extras["value"]
        advantages = returns - baseline_values(config.baseline, returns, mask, step, state.time_baseline, values)
        data = {"obs": batch.obs, "action": batch.action, "advantage": advantages, "target": returns}
        pg_update = make_pg_update(network, *optimizers(hp), config.vf_iters, fit_value=use_value)
        params, opt_state, metrics = pg_update(state.params, state.opt_state, data, mask, hp)
        table, seen = state.time_baseline, state.time_seen
        if config.baseline == "time":
            table, seen = update_time_baseline(table, seen, returns, mask, step, hp["baseline_ema"])
        metrics = dict(metrics, used_fraction=mask.mean(), mc_return=losses.masked_mean(returns, mask))
        if not use_value:
            metrics["value_loss"] = jnp.zeros(())
        return ReinforceState(params, opt_state, table, seen), metrics

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)
