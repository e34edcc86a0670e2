"""DQN (Mnih et al. 2015) with the Double-DQN target (van Hasselt et al. 2016) and an optional dueling
head (Wang et al. 2016): ε-greedy collection into uniform replay, squared (or Huber) TD loss on
r + γ(1 - terminated) Q_target(s', argmax_a Q(s', a)), target network copied every
`target_update_interval` gradient steps (or Polyak-averaged with tau < 1).
Truncated episodes bootstrap from their final observation, kept by the rollout kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import Agent
from jaxrl.agents.offpolicy import OffPolicyConfig, store_and_learn
from jaxrl.core import losses, replay
from jaxrl.core.exploration import epsilon_greedy, linear_schedule
from jaxrl.core.networks import QNetwork, init_params
from jaxrl.core.optim import gradient_step, make_optimizer, periodic_polyak
from jaxrl.envs.spaces import Discrete


@dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    # static: these shape the compiled program
    hidden_sizes: tuple[int, ...] = (64, 64)
    double: bool = True  # Double DQN: the online network picks the next action, the target one values it
    dueling: bool = False
    loss: str = "mse"  # mse | huber (with Adam, huber diverged on CartPole in our runs; see docs)
    target_update_interval: int = 500  # gradient steps between target updates
    # hyperparameters: inputs of train, sweepable with vmap
    lr: float = 2.5e-4
    gamma: float = 0.99
    tau: float = 1.0  # 1: hard copy every target_update_interval steps
    max_grad_norm: float = 10.0
    eps_start: float = 1.0
    eps_end: float = 0.05
    exploration_fraction: float = 0.5  # of the run's env steps over which ε decays linearly

    HPARAMS = ("lr", "gamma", "tau", "max_grad_norm", "eps_start", "eps_end", "exploration_fraction")

    ACTIONS = (Discrete, "dqn", "sac")

    def validate(self, env) -> None:
        super().validate(env)
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"algo.loss={self.loss!r}; allowed: ['huber', 'mse']")


@struct.dataclass
class DQNLearner:
    params: Any
    target_params: Any
    opt_state: Any
    updates: jax.Array  # gradient steps taken


@struct.dataclass
class DQNState:
    learner: DQNLearner
    buffer: replay.ReplayState
    env_steps: jax.Array
    epsilon: jax.Array  # exploration rate for the next rollout (its schedule's hyperparameters are in hp)


def make_agent(config: DQNConfig, env, num_iterations: int) -> Agent:
    network = QNetwork(env.action_space.n, config.hidden_sizes, config.activation,
                       len(env.observation_space.shape), config.dueling)
    total_steps = num_iterations * config.steps_per_iteration()

    def init(key, hp):
        params = init_params(network, key, jnp.zeros((1,) + env.observation_space.shape, jnp.float32))
        opt_state = make_optimizer(hp["lr"], hp["max_grad_norm"], eps=config.optimizer_eps).init(params)
        learner = DQNLearner(params, params, opt_state, jnp.zeros((), jnp.int32))
        buffer = replay.init(replay.item_example(env), config.buffer_size)
        steps = jnp.zeros((), jnp.int32)
        return DQNState(learner, buffer, steps, epsilon(steps, hp))

    def policy(params, obs, key):
        return epsilon_greedy(key, network.apply(params["q"], obs), params["epsilon"]), {}

    def greedy_policy(params, obs, key):
        return jnp.argmax(network.apply(params["q"], obs), -1).astype(jnp.int32), {}

    def loss_fn(params, target_params, mb, hp):
        q = jnp.take_along_axis(network.apply(params, mb["obs"]), mb["action"][:, None], -1)[:, 0]
        next_target_q = network.apply(target_params, mb["next_obs"])
        chooser = network.apply(params, mb["next_obs"]) if config.double else next_target_q
        next_q = jnp.take_along_axis(next_target_q, jnp.argmax(chooser, -1)[:, None], -1)[:, 0]
        target = mb["reward"] + hp["gamma"] * (1.0 - mb["terminated"]) * next_q
        td = q - jax.lax.stop_gradient(target)
        loss = losses.huber(td).mean() if config.loss == "huber" else 0.5 * jnp.square(td).mean()
        return loss, {"td_loss": loss, "q_mean": q.mean()}

    def update(state: DQNState, batch, key, hp, iteration=None):
        tx = make_optimizer(hp["lr"], hp["max_grad_norm"], eps=config.optimizer_eps)

        def learn_step(learner: DQNLearner, mb, key):
            grads, metrics = jax.grad(loss_fn, has_aux=True)(learner.params, learner.target_params, mb, hp)
            params, opt_state = gradient_step(tx, learner.params, grads, learner.opt_state)
            updates = learner.updates + 1
            target = periodic_polyak(learner.target_params, params, hp["tau"], updates,
                                     config.target_update_interval)
            return DQNLearner(params, target, opt_state, updates), metrics

        buffer, env_steps, learner, metrics = store_and_learn(config, state.buffer, state.env_steps, batch,
                                                              state.learner, key, learn_step, iteration)
        metrics = dict(metrics, epsilon=state.epsilon)
        return DQNState(learner, buffer, env_steps, epsilon(env_steps, hp)), metrics

    def epsilon(env_steps, hp):
        return linear_schedule(hp["eps_start"], hp["eps_end"], hp["exploration_fraction"] * total_steps,
                               env_steps)

    def params(state: DQNState):  # the acting params carry ε: the kernel's policy is (params, obs, key)
        return {"q": state.learner.params, "epsilon": state.epsilon}

    return Agent(init, policy, greedy_policy, update, params=params, update_takes_iteration=True)
