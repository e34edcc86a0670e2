"""A2C and A3C-style asynchronous updates (Mnih et al. 2016, "Asynchronous Methods for Deep RL").

**A2C**: the envs of one rollout are synchronous parallel actors; n-step bootstrapped returns
(`n_steps=1`: one-step TD targets; `n_steps >= rollout_length`: Monte Carlo returns within the
rollout, bootstrapped only where the rollout or a time limit cut the episode); one gradient step per
batch on the policy-gradient loss with the n-step advantage, value regression and an entropy bonus;
shared or separate actor/critic torsos; RMSProp (as in the paper) or Adam.

**A3C-style** (`algo=a3c`): the envs are split into `num_workers` groups. Worker k acts with its own
copy θ_k of the parameters. After each rollout the workers push their gradients to the global
parameters one after another — worker k's gradient is computed at θ_k, on its own data, and applied
to the current global θ by the shared optimiser (not averaged) — and a worker refreshes its copy
θ_k ← θ right after its push, or after every `refresh_every`-th push. A worker's gradient is therefore
computed at parameters `staleness` global updates old: K-1 with refresh_every=1, up to
refresh_every·K-1 otherwise; the state counts versions and the metric `staleness` reports the mean.
`shuffle_pushes` draws the push order afresh each iteration from the key.

What is the same as Hogwild threads: stale parameters for acting and for the gradient, gradients from
different workers applied one after another without averaging, no worker waiting for the others'
fresh parameters before acting. What is not: the interleaving is a schedule chosen up front (round
robin or a keyed shuffle) instead of the OS's, so runs are bit-for-bit reproducible; updates are
whole-gradient applications, never torn or lost writes; all workers act in lockstep for the same
number of steps; and the program is one jitted computation on one device, so it gains no wall-clock
speed from asynchrony. With num_workers=1 and refresh_every=1 it performs exactly A2C's computation.
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
from jaxrl.core.returns import n_step_returns


@dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    # static
    rollout_length: int = 5
    n_steps: int = 5  # 1: TD targets; >= rollout_length: Monte Carlo within the rollout
    shared_torso: bool = False
    optimizer: str = "rmsprop"  # rmsprop | adam
    normalize_advantages: bool = False
    anneal_lr: bool = True
    # hyperparameters
    lr: float = 7e-4
    gamma: float = 0.99
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    reward_scale: float = 1.0

    HPARAMS = ("lr", "gamma", "vf_coef", "ent_coef", "max_grad_norm", "reward_scale")

    def validate(self, env) -> None:
        super().validate(env)
        if self.n_steps < 1:
            raise ValueError(f"algo.n_steps must be >= 1, got {self.n_steps}")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"algo.optimizer={self.optimizer!r}; allowed: ['rmsprop', 'adam']")


@dataclass(frozen=True)
class A3CConfig(A2CConfig):
    num_workers: int = 4  # K: parameter copies; the num_envs envs are split evenly among them
    refresh_every: int = 1  # a worker refreshes its copy after every this-many of its pushes
    shuffle_pushes: bool = False  # push order: round robin, or a fresh keyed permutation per iteration

    MAKE_AGENT = "make_a3c_agent"

    def validate(self, env) -> None:
        super().validate(env)
        if self.num_workers < 1 or self.num_envs % self.num_workers:
            raise ValueError(f"algo.num_workers={self.num_workers} must be >= 1 and divide "
                             f"algo.num_envs={self.num_envs}")
        if self.refresh_every < 1:
            raise ValueError(f"algo.refresh_every must be >= 1, got {self.refresh_every}")


def _parts(config: A2CConfig, env, num_updates: int):
    """Network, optimiser and the one per-batch gradient A2C and every A3C worker compute."""
    network = actor_critic(config, env, shared_torso=config.shared_torso)

    def optimizer(hp):
        return make_optimizer(hp["lr"], hp["max_grad_norm"], num_updates if config.anneal_lr else None,
                              kind=config.optimizer, eps=config.optimizer_eps)

    def loss_fn(params, batch, targets, hp):
        dist, values = network.apply(params, batch.obs)
        advantages = jax.lax.stop_gradient(targets - values)
        if config.normalize_advantages:
            advantages = losses.normalize(advantages)
        pg_loss = losses.policy_gradient(dist.log_prob(batch.action), advantages)
        v_loss = losses.value_loss(values, targets)
        entropy = dist.entropy().mean()
        total = pg_loss + hp["vf_coef"] * v_loss - hp["ent_coef"] * entropy
        return total, {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy}

    def gradient(params, batch, hp):
        """Gradient of the A2C loss at `params` on one [T, N] batch (bootstrap values from `params` too)."""
        next_values = network.apply(params, batch.next_obs, method=ActorCritic.value)
        targets = n_step_returns(batch.reward * hp["reward_scale"], next_values, batch.terminated,
                                 batch.truncated, hp["gamma"], config.n_steps)
        return jax.grad(loss_fn, has_aux=True)(params, batch, targets, hp)

    return network, optimizer, gradient


def make_agent(config: A2CConfig, env, num_iterations: int) -> Agent:
    network, optimizer, gradient = _parts(config, env, num_iterations)
    policy, greedy_policy = sampling_policies(network)

    def init(key, hp):
        params = init_params(network, env, key)
        return TrainState(params, optimizer(hp).init(params))

    def update(state: TrainState, batch, key, hp):
        grads, metrics = gradient(state.params, batch, hp)
        return apply_gradients(optimizer(hp), state, grads), metrics

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)


@struct.dataclass
class A3CState:
    train: TrainState  # global parameters and the shared optimiser state
    workers: Any  # [K, ...] each worker's parameter copy
    version: jax.Array  # number of global updates so far
    worker_version: jax.Array  # [K] global version each worker's copy was taken at
    pushes: jax.Array  # [K] pushes since each worker's last refresh


def make_a3c_agent(config: A3CConfig, env, num_iterations: int) -> Agent:
    num_workers = config.num_workers
    network, optimizer, gradient = _parts(config, env, num_iterations * num_workers)
    sample, greedy = sampling_policies(network)

    def init(key, hp):
        params = init_params(network, env, key)
        workers = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_workers,) + x.shape), params)
        zeros = jnp.zeros(num_workers, jnp.int32)
        return A3CState(TrainState(params, optimizer(hp).init(params)), workers, jnp.zeros((), jnp.int32),
                        zeros, zeros)

    def split(x, axis):  # [..., N, ...] -> [K, ..., N/K, ...]: worker k owns a contiguous block of envs
        shape = x.shape[:axis] + (num_workers, x.shape[axis] // num_workers) + x.shape[axis + 1:]
        return jnp.moveaxis(x.reshape(shape), axis, 0)

    def policy(params, obs, key):  # each worker's envs act with that worker's copy
        # a single worker samples with the rollout's own key, so K=1 draws exactly A2C's actions
        keys = key[None] if num_workers == 1 else jax.random.split(key, num_workers)
        action, extras = jax.vmap(sample)(params["workers"], split(obs, 0), keys)
        return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), (action, extras))

    def greedy_policy(params, obs, key):
        return greedy(params["global"], obs, key)

    def update(state: A3CState, batch, key, hp):
        worker_batches = jax.tree.map(lambda x: split(x, 1), batch)  # [K, T, N/K, ...]
        order = jax.random.permutation(key, num_workers) if config.shuffle_pushes else jnp.arange(num_workers)
        tx = optimizer(hp)

        def push(state: A3CState, k):
            mine = lambda tree: jax.tree.map(lambda x: x[k], tree)
            grads, metrics = gradient(mine(state.workers), mine(worker_batches), hp)
            staleness = state.version - state.worker_version[k]
            train = apply_gradients(tx, state.train, grads)
            version = state.version + 1
            pushes = state.pushes[k] + 1
            refresh = pushes >= config.refresh_every
            workers = jax.tree.map(lambda w, g: w.at[k].set(jnp.where(refresh, g, w[k])),
                                   state.workers, train.params)
            state = A3CState(train, workers, version,
                             state.worker_version.at[k].set(jnp.where(refresh, version, state.worker_version[k])),
                             state.pushes.at[k].set(jnp.where(refresh, 0, pushes)))
            return state, dict(metrics, staleness=staleness.astype(jnp.float32))

        if num_workers == 1:  # a scan of length one, written as the call it is (XLA then emits A2C's ops)
            return push(state, 0)
        state, metrics = jax.lax.scan(push, state, order)
        return state, jax.tree.map(jnp.mean, metrics)

    return Agent(init, policy, greedy_policy, update,
                 params=lambda state: {"global": state.train.params, "workers": state.workers})
