"""SAC (Haarnoja et al. 2018, with the learned temperature of Haarnoja et al. 2018b) for continuous actions:
a tanh-squashed Gaussian actor, clipped double Q (the minimum of `num_critics` critics) with
Polyak-averaged targets, the soft Bellman target r + γ(1 - terminated)(min Q'(s', a') - α log π(a'|s')),
and α tuned towards the target entropy -|A|·target_entropy_scale (or fixed at init_alpha).
Uniform random actions are taken until `learning_starts` env steps are stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.agents.base import Agent
from jaxrl.agents.offpolicy import OffPolicyConfig, store_and_learn
from jaxrl.core import replay
from jaxrl.core.networks import CriticEnsemble, TanhGaussianActor, init_params, tanh_gaussian
from jaxrl.core.optim import gradient_step, make_optimizer, periodic_polyak
from jaxrl.envs.spaces import Box


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    # static: these shape the compiled program
    num_critics: int = 2
    autotune: bool = True  # learn α; False: α stays init_alpha
    # hyperparameters: inputs of train, sweepable with vmap
    lr: float = 3e-4  # actor, critics and α
    gamma: float = 0.99
    tau: float = 0.005
    init_alpha: float = 1.0
    target_entropy_scale: float = 1.0  # target entropy = -scale * action dimensions
    max_grad_norm: float = float("inf")  # no clipping by default, as in the paper
    reward_scale: float = 1.0

    HPARAMS = ("lr", "gamma", "tau", "init_alpha", "target_entropy_scale", "max_grad_norm", "reward_scale")

    ACTIONS = (Box, "sac", "dqn")


@struct.dataclass
class SACLearner:
    actor: Any
    critic: Any
    target_critic: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    updates: jax.Array


@struct.dataclass
class SACState:
    learner: SACLearner
    buffer: replay.ReplayState
    env_steps: jax.Array


def make_agent(config: SACConfig, env, num_iterations: int) -> Agent:
    action_dim = int(np.prod(env.action_space.shape))
    actor = TanhGaussianActor(action_dim, config.hidden_sizes, config.activation, len(env.observation_space.shape))
    critic = CriticEnsemble(config.num_critics, config.hidden_sizes, config.activation)
    obs0 = jnp.zeros((1,) + env.observation_space.shape, jnp.float32)

    def optimizer(hp):
        return make_optimizer(hp["lr"], hp["max_grad_norm"], eps=config.optimizer_eps)

    def init(key, hp):
        actor_key, critic_key = jax.random.split(key)
        actor_params = init_params(actor, actor_key, obs0)
        critic_params = init_params(critic, critic_key, obs0, jnp.zeros((1, action_dim), jnp.float32))
        log_alpha = jnp.log(hp["init_alpha"])
        tx = optimizer(hp)
        learner = SACLearner(actor_params, critic_params, critic_params, log_alpha, tx.init(actor_params),
                             tx.init(critic_params), tx.init(log_alpha), jnp.zeros((), jnp.int32))
        return SACState(learner, replay.init(replay.item_example(env), config.buffer_size), jnp.zeros((), jnp.int32))

    def sample_action(actor_params, obs, key):
        return tanh_gaussian(*actor.apply(actor_params, obs)).sample_and_log_prob(seed=key)

    def policy(params, obs, key):
        policy_key, random_key = jax.random.split(key)
        action, _ = sample_action(params["actor"], obs, policy_key)
        random = jax.random.uniform(random_key, action.shape, minval=-1.0, maxval=1.0)
        return jnp.where(params["random"], random, action), {}

    def greedy_policy(params, obs, key):
        return jnp.tanh(actor.apply(params["actor"], obs)[0]), {}

    def critic_loss(critic_params, learner: SACLearner, mb, key, hp):
        next_action, next_log_prob = sample_action(learner.actor, mb["next_obs"], key)
        next_q = critic.apply(learner.target_critic, mb["next_obs"], next_action).min(0)
        soft_next = next_q - jnp.exp(learner.log_alpha) * next_log_prob
        target = mb["reward"] * hp["reward_scale"] + hp["gamma"] * (1.0 - mb["terminated"]) * soft_next
        q = critic.apply(critic_params, mb["obs"], mb["action"])  # [num_critics, B]
        loss = 0.5 * jnp.square(q - jax.lax.stop_gradient(target)).mean(-1).sum()
        return loss, {"critic_loss": loss, "q_mean": q.mean()}

    def actor_loss(actor_params, critic_params, log_alpha, mb, key):
        action, log_prob = sample_action(actor_params, mb["obs"], key)
        q = critic.apply(critic_params, mb["obs"], action).min(0)
        loss = jnp.mean(jnp.exp(log_alpha) * log_prob - q)
        return loss, {"actor_loss": loss, "entropy": -log_prob.mean()}

    def update(state: SACState, batch, key, hp, iteration=None):
        tx = optimizer(hp)
        target_entropy = -hp["target_entropy_scale"] * action_dim

        step = partial(gradient_step, tx)  # (params, grads, opt_state) -> (params, opt_state)

        def learn_step(learner: SACLearner, mb, key):
            critic_key, actor_key = jax.random.split(key)
            grads, c_metrics = jax.grad(critic_loss, has_aux=True)(learner.critic, learner, mb, critic_key, hp)
            critic_params, critic_opt = step(learner.critic, grads, learner.critic_opt)
            grads, a_metrics = jax.grad(actor_loss, has_aux=True)(learner.actor, critic_params, learner.log_alpha,
                                                                 mb, actor_key)
            actor_params, actor_opt = step(learner.actor, grads, learner.actor_opt)
            log_alpha, alpha_opt = learner.log_alpha, learner.alpha_opt
            if config.autotune:  # d/dlogα of -logα·(log π + target entropy), with log π from this step's sample
                gap = jax.lax.stop_gradient(-a_metrics["entropy"] + target_entropy)
                log_alpha, alpha_opt = step(log_alpha, -gap, alpha_opt)
            updates = learner.updates + 1
            target = periodic_polyak(learner.target_critic, critic_params, hp["tau"], updates,
                                     config.target_update_interval)
            new = SACLearner(actor_params, critic_params, target, log_alpha, actor_opt, critic_opt, alpha_opt,
                             updates)
            return new, dict(c_metrics, **a_metrics, alpha=jnp.exp(log_alpha))

        buffer, env_steps, learner, metrics = store_and_learn(config, state.buffer, state.env_steps, batch,
                                                              state.learner, key, learn_step, iteration)
        return SACState(learner, buffer, env_steps), metrics

    def params(state: SACState):  # acting params: the actor, and whether to act uniformly (warm-up)
        return {"actor": state.learner.actor, "random": state.env_steps < config.learning_starts}

    return Agent(init, policy, greedy_policy, update, params=params, update_takes_iteration=True)
