"""Vanilla policy gradient in the Spinning Up formulation (Achiam 2018; Williams 1992; Sutton et al. 2000) for
categorical and Gaussian policies: advantages from a learned V(s), by GAE (Schulman et al. 2016) or n-step
returns (Mnih et al. 2016), ONE policy-gradient step per batch, then `vf_iters` full-batch steps regressing
V(s) on the rewards-to-go (bootstrapped from V where an episode is cut by a time limit or by the window's
end, since fixed windows rarely hold whole episodes). The update is REINFORCE's (`make_pg_update`)."""
from __future__ import annotations

from dataclasses import dataclass


from jaxrl.agents.base import Agent
from jaxrl.agents.onpolicy import OnPolicyConfig, TrainState, actor_critic, init_params, sampling_policies
from jaxrl.agents.reinforce import make_pg_update
from jaxrl.core import losses
from jaxrl.core.networks import ActorCritic
from jaxrl.core.optim import make_optimizer
from jaxrl.core.returns import discounted_returns, gae, n_step_returns

ADVANTAGES = ("gae", "n_step")


@dataclass(frozen=True)
class VPGConfig(OnPolicyConfig):
    # static: these shape the compiled program
    advantage: str = "gae"  # gae | n_step
    n_steps: int = 5  # for advantage="n_step"
    vf_iters: int = 80  # value-regression steps per batch
    normalize_advantages: bool = True
    anneal_lr: bool = False
    # hyperparameters: inputs of train, sweepable with vmap
    lr: float = 3e-4
    vf_lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.97
    ent_coef: float = 0.0
    max_grad_norm: float = 1.0
    reward_scale: float = 1.0

    HPARAMS = ("lr", "vf_lr", "gamma", "gae_lambda", "ent_coef", "max_grad_norm", "reward_scale")

    def validate(self, env) -> None:
        super().validate(env)
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"algo.advantage={self.advantage!r} is unknown; allowed: {list(ADVANTAGES)}")
        if self.n_steps < 1:
            raise ValueError(f"algo.n_steps must be >= 1, got {self.n_steps}")
        if self.vf_iters < 1:
            raise ValueError(f"algo.vf_iters must be >= 1, got {self.vf_iters}")


def make_agent(config: VPGConfig, env, num_iterations: int) -> Agent:
    network = actor_critic(config, env)
    policy, greedy_policy = sampling_policies(network)
    anneal = num_iterations if config.anneal_lr else None

    def optimizers(hp):
        value_anneal = anneal and anneal * config.vf_iters
        return (make_optimizer(hp["lr"], hp["max_grad_norm"], anneal, eps=config.optimizer_eps),
                make_optimizer(hp["vf_lr"], hp["max_grad_norm"], value_anneal, eps=config.optimizer_eps))

    def init(key, hp):
        params = init_params(network, env, key)
        policy_tx, value_tx = optimizers(hp)
        return TrainState(params, (policy_tx.init(params), value_tx.init(params)))

    def update(state: TrainState, batch, key, hp):
        rewards = batch.reward * hp["reward_scale"]
        values = batch.extras["value"]
        next_values = network.apply(state.params, batch.next_obs, method=ActorCritic.value)
        ends = (batch.terminated, batch.truncated)
        if config.advantage == "gae":
            advantages, _ = gae(rewards, values, next_values, *ends, hp["gamma"], hp["gae_lambda"])
        else:
            advantages = n_step_returns(rewards, next_values, *ends, hp["gamma"], config.n_steps) - values
        if config.normalize_advantages:
            advantages = losses.normalize(advantages)
        targets = discounted_returns(rewards, *ends, hp["gamma"], next_values)
        data = {"obs": batch.obs, "action": batch.action, "advantage": advantages, "target": targets}
        pg_update = make_pg_update(network, *optimizers(hp), config.vf_iters)
        params, opt_state, metrics = pg_update(state.params, state.opt_state, data, None, hp)
        return TrainState(params, opt_state), metrics

    return Agent(init, policy, greedy_policy, update, params=lambda state: state.params)
