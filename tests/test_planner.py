"""CEM / random-shooting MPC planner (jaxrl.es.planner): plan scoring, CEM on a known cost,
warm-start memory, config errors, Pendulum swing-up, and (slow) brax inverted pendulum."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.config import ConfigError
from jaxrl.core import rollout as kernel
from jaxrl.envs import AutoReset, Box, Env, EpisodeStatistics, RescaleAction, StepResult, VecEnv, make
from jaxrl.es.planner import (PlanMemory, PlannerConfig, _check_compatible, load_planner_config, make_mpc,
                              plan, score_plans)
from probe_envs import CountingEnv


class TargetEnv(Env):
    """obs = [t]; reward = -||action - target(t)||^2 with a known target in [-1, 1]^2; never ends."""

    def __init__(self):
        self.id = "test/Target"
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (1,))
        self.action_space = Box.make(-1.0, 1.0, (2,))
        self.max_episode_steps = 1000

    @staticmethod
    def target(t):
        return jnp.stack([0.8 * jnp.sin(t), 0.5 * jnp.cos(t)], -1)

    def reset(self, key):
        return jnp.zeros(1), jnp.zeros((), jnp.int32)

    def step(self, key, state, action):
        reward = -jnp.sum((action - self.target(state.astype(jnp.float32))) ** 2)
        return StepResult(jnp.ones(1) * (state + 1), state + 1, reward, jnp.asarray(False),
                          jnp.asarray(False), {})


def one_env(base):
    """The wrapping `make` uses, as a 1-env VecEnv (the planner's model)."""
    return VecEnv(AutoReset(EpisodeStatistics(RescaleAction(base))), 1)


def test_score_sums_rewards_up_to_the_first_done_only():
    env = one_env(CountingEnv(limit=3, continuous=True))  # rewards 1, 2, 3 then auto-reset
    state = kernel.reset(env, jax.random.PRNGKey(0))
    plans = jnp.zeros((2, 6, 1))
    scores = score_plans(env, plans, state, jax.random.PRNGKey(1))
    np.testing.assert_allclose(scores, [6.0, 6.0])  # not 1+2+3+1+2+3 = 12
    # from a copied mid-episode state (t = 1) only the rewards 2 + 3 remain
    state, _ = kernel.rollout(env, lambda p, o, k: (jnp.zeros((1, 1)), {}), None, state, jax.random.PRNGKey(2), 1)
    np.testing.assert_allclose(score_plans(env, plans, state, jax.random.PRNGKey(3)), [5.0, 5.0])
    terminal = one_env(CountingEnv(limit=10, terminate_at=2, continuous=True))
    state = kernel.reset(terminal, jax.random.PRNGKey(0))
    np.testing.assert_allclose(score_plans(terminal, plans[:1], state, jax.random.PRNGKey(1)), [3.0])


def test_cem_reduces_cost_below_random_actions_and_random_shooting():
    env = one_env(TargetEnv())
    state = kernel.reset(env, jax.random.PRNGKey(0))
    cem = PlannerConfig(horizon=8, num_candidates=64, num_iterations=5, warm_start=False)
    shooting = dataclasses.replace(cem, method="random")
    key = jax.random.PRNGKey(1)
    result = jax.jit(lambda k: plan(env, cem, state, k))(key)
    shot = jax.jit(lambda k: plan(env, shooting, state, k))(key)
    uniform = jax.random.uniform(key, (256, 8, 2), minval=-1.0, maxval=1.0)
    random_cost = -score_plans(env, uniform, state, key).mean()
    optimum = TargetEnv.target(jnp.arange(8.0))
    assert float(-result.score) < 0.05 * float(random_cost)
    assert float(-result.score) < float(-shot.score)
    assert float(jnp.abs(result.plan - optimum).mean()) < 0.2  # uniform random actions: about 0.5
    assert result.plan.shape == (8, 2) and float(jnp.abs(shot.plan).max()) <= 1.0
    # the numeric settings are inputs: vmap over init_std in one call
    sweep = jax.vmap(lambda s: plan(env, cem, state, key, hparams=dict(cem.hparams(), init_std=s)).score)
    assert sweep(jnp.array([0.3, 0.6])).shape == (2,)


def test_warm_start_from_a_shifted_plan_scores_no_worse():
    env = one_env(TargetEnv())
    state = kernel.reset(env, jax.random.PRNGKey(0))
    config = PlannerConfig(horizon=6, num_candidates=16, num_iterations=1)
    optimum = TargetEnv.target(jnp.arange(6.0))
    # the mean is always a candidate: starting at the optimum keeps it (score 0)
    warm = plan(env, config, state, jax.random.PRNGKey(1), init_mean=optimum)
    assert float(warm.score) > -1e-6


def test_plan_memory_executes_the_first_action_and_keeps_the_shifted_plan():
    env = PlanMemory(VecEnv(AutoReset(EpisodeStatistics(CountingEnv(limit=2, continuous=True))), 2), horizon=3)
    _, state = env.reset(jax.random.PRNGKey(0))
    assert state.plan.shape == (2, 3, 1)
    action = jnp.arange(6.0).reshape(2, 3, 1)
    res = env.step(jax.random.PRNGKey(1), state, action)
    np.testing.assert_allclose(res.state.plan[..., 0], [[1, 2, 0], [4, 5, 0]])
    res = env.step(jax.random.PRNGKey(2), res.state, action)  # t = 2: episodes end, memory clears
    assert bool(res.truncated.all())
    np.testing.assert_allclose(res.state.plan, 0.0)


def test_config_errors_name_the_key():
    for kwargs, key in [({"horizon": 0}, "horizon"), ({"method": "cma"}, "method"),
                        ({"elite_fraction": 0.0}, "elite_fraction"), ({"alpha": 1.0}, "alpha"),
                        ({"init_std": 0.1, "min_std": 0.2}, "min_std"), ({"num_candidates": 1}, "num_candidates"),
                        ({"action_cost": -1.0}, "action_cost")]:
        with pytest.raises(ConfigError, match=key):
            PlannerConfig(**kwargs)
    with pytest.raises(ConfigError, match="num_candidate"):
        load_planner_config("gymnax/Pendulum-v1", {"num_candidate": 8})
    config, _ = load_planner_config("gymnax/Pendulum-v1", {"horizon": "12"})
    assert config.horizon == 12


def test_discrete_action_space_is_rejected_with_the_env_name():
    with pytest.raises(ValueError, match="gymnax/CartPole-v1"):
        make_mpc("gymnax/CartPole-v1", PlannerConfig(), num_envs=1)


def test_a_model_whose_state_differs_from_the_real_env_is_rejected():
    real = make("gymnax/Pendulum-v1", num_envs=2)
    _check_compatible(real, make("gymnax/Pendulum-v1", num_envs=1), "gymnax/Pendulum-v1")
    with pytest.raises(TypeError, match="Pendulum"):
        _check_compatible(real, make("gymnax/Pendulum-v1", num_envs=1, normalize_obs=True), "gymnax/Pendulum-v1")


def test_mpc_swings_up_pendulum():
    """Preset configs/planner/gymnax-Pendulum-v1.yaml; a random policy scores about -1200."""
    config, env_kwargs = load_planner_config("gymnax/Pendulum-v1")
    run = make_mpc("gymnax/Pendulum-v1", config, num_envs=4, **env_kwargs)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    returns = jax.jit(jax.vmap(run))(keys)  # [seeds, envs], both seeds in one compiled call
    assert returns.shape == (2, 4)
    means = returns.mean(axis=1)
    assert bool((means >= -300.0).all()), means


@pytest.mark.slow
def test_mpc_beats_random_on_brax_inverted_pendulum():
    env_id, kwargs = "brax/inverted_pendulum", {"episode_length": 100}
    env = make(env_id, num_envs=16, **kwargs)

    def random_returns(key):
        _, (returns, _) = kernel.rollout(env, kernel.random_policy(env.action_space), None, kernel.reset(env, key),
                                         key, 100, fold=kernel.FIRST_EPISODE)
        return returns

    random_mean = float(jax.jit(random_returns)(jax.random.PRNGKey(0)).mean())  # about 6
    config = PlannerConfig(horizon=10, num_candidates=32, num_iterations=2)
    returns = jax.jit(make_mpc(env_id, config, num_envs=2, **kwargs))(jax.random.PRNGKey(0))
    assert float(returns.mean()) >= 90.0 and float(returns.mean()) > random_mean + 50.0, (returns, random_mean)
