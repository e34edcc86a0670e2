"""TRPO: conjugate gradient, the trust-region step on real batches, and learning on small budgets."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.onpolicy import actor_critic
from jaxrl.agents.trpo import split_params
from jaxrl.config import ConfigError, load_config
from jaxrl.core import rollout as kernel
from jaxrl.core.cg import conjugate_gradient
from jaxrl.core.train import setup
from jaxrl.experiment import train_and_save

pytestmark = pytest.mark.xdist_group("trpo")


def spd_system(n=6, seed=0):
    m = np.random.default_rng(seed).normal(size=(n, n))
    return jnp.asarray(m @ m.T + np.eye(n), jnp.float32), jnp.asarray(np.arange(1.0, n + 1), jnp.float32)


def test_conjugate_gradient_solves_spd_system_under_jit_and_vmap():
    a, b = spd_system()
    x = jax.jit(lambda b: conjugate_gradient(lambda v: a @ v, b, iters=30, residual_tol=1e-12))(b)
    np.testing.assert_allclose(x, np.linalg.solve(np.float64(a), np.float64(b)), rtol=1e-4, atol=1e-5)
    # vmapped over right-hand sides: each column solved
    bs = jnp.stack([b, -2.0 * b, jnp.ones_like(b)])
    xs = jax.vmap(lambda b: conjugate_gradient(lambda v: a @ v, b, 30, 1e-12))(bs)
    np.testing.assert_allclose(xs @ a.T, bs, rtol=1e-4, atol=1e-4)


def test_conjugate_gradient_one_iteration_and_pytrees():
    a, b = spd_system()
    # one iteration from x=0 is the exact line minimiser along b: (bᵀb / bᵀAb) b
    x1 = conjugate_gradient(lambda v: a @ v, b, iters=1)
    np.testing.assert_allclose(x1, (b @ b) / (b @ a @ b) * b, rtol=1e-6)
    # the same system split into a pytree of two leaves
    split = lambda v: {"u": v[:2], "w": v[2:].reshape(2, 2)}
    join = lambda t: jnp.concatenate([t["u"], t["w"].reshape(-1)])
    x_tree = conjugate_gradient(lambda t: split(a @ join(t)), split(b), iters=30, residual_tol=1e-12)
    np.testing.assert_allclose(join(x_tree), np.linalg.solve(np.float64(a), np.float64(b)), rtol=1e-4, atol=1e-5)


def one_update(env_id, hp_changes=None, steps=None):
    """Agent state before and after one TRPO update on a freshly collected batch, with its metrics."""
    overrides = [f"env={env_id}", "algo=trpo"] + (steps or [])
    config = load_config(overrides)
    env, agent, _, _ = setup(config)
    hp = config.algo_config.hparams() | (hp_changes or {})
    key = jax.random.PRNGKey(0)

    @jax.jit
    def run(hp):
        state = agent.init(key, hp)
        rollout_state = kernel.reset(env, key)
        _, batch = kernel.rollout(env, agent.policy, agent.params(state), rollout_state, key,
                                  config.algo_config.rollout_length)
        new_state, metrics = agent.update(state, batch, jax.random.PRNGKey(1), hp)
        return state, new_state, batch, metrics

    return config, env, run(hp)


def mean_kl(network, old_params, new_params, obs):
    old, _ = network.apply(old_params, obs)
    new, _ = network.apply(new_params, obs)
    return float(jnp.mean(old.kl_divergence(new)))


@pytest.mark.parametrize("env_id", ["gymnax/CartPole-v1", "gymnax/Pendulum-v1"])
def test_step_stays_in_trust_region_and_improves_surrogate(env_id):
    config, env, (old, new, batch, metrics) = one_update(env_id)
    max_kl = config.algo_config.max_kl
    network = actor_critic(config.algo_config, env)
    kl = mean_kl(network, old.params, new.params, batch.obs)
    assert float(metrics["accepted"]) == 1.0
    assert float(metrics["surrogate_improvement"]) > 0
    assert 0 < kl <= max_kl * (1 + 1e-3), (kl, max_kl)
    np.testing.assert_allclose(kl, float(metrics["kl"]), rtol=1e-2, atol=1e-6)
    # a real trust-region step: KL grows about quadratically in the step, so each backtrack divides it by ~4
    assert kl >= max_kl / 4 * 0.25 ** float(metrics["backtracks"]), (kl, metrics["backtracks"])
    old_pi, old_vf = split_params(old.params)
    new_pi, new_vf = split_params(new.params)
    assert all(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(old_vf), jax.tree.leaves(new_vf))
               if x.ndim == 2)
    assert np.isfinite(float(metrics["value_loss"])) and float(metrics["entropy"]) > 0


def test_rejected_step_keeps_the_old_policy():
    # a trust region of 0 admits no step that improves the surrogate: every backtrack is tried, then rejected
    config, _, (old, new, _, metrics) = one_update("gymnax/CartPole-v1", {"max_kl": jnp.float32(0.0)})
    assert float(metrics["accepted"]) == 0.0 and float(metrics["kl"]) == 0.0
    assert float(metrics["backtracks"]) == config.algo_config.max_backtracks
    for x, y in zip(jax.tree.leaves(split_params(old.params)[0]), jax.tree.leaves(split_params(new.params)[0])):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("override, key", [("algo.max_kl=0", "algo.max_kl"),
                                           ("algo.backtrack_coef=1.5", "algo.backtrack_coef"),
                                           ("algo.num_minibatches=3", "algo.num_minibatches"),
                                           ("algo.cg_iters=0", "algo.cg_iters"),
                                           ("algo.distribution=gaussian", "algo.distribution")])
def test_impossible_settings_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config(["algo=trpo", "env=gymnax/CartPole-v1", override])


def test_trpo_cartpole_reaches_475_over_4_seeds(tmp_path):
    # The median, not the mean: about one run in eight ends in a dip (final returns of 318-420 seen, with flax's
    # plain Dense as with `dense_matmul`, in 4-seed runs from config seeds 0 and 1), so the mean of two seeds
    # was a coin toss on which seed dipped. Every seed must still have learned (a random policy scores ~22).
    config = load_config(["algo=trpo", "env=gymnax/CartPole-v1", "num_seeds=4", "eval_episodes=8", "log_every=50"])
    assert config.total_env_steps == 500_000 and config.algo_config.max_kl == 0.01  # the preset is what is tested
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = np.asarray(summary["final_return_per_seed"], float)
    assert per_seed.shape == (4,)
    assert np.median(per_seed) >= 475 and per_seed.min() >= 250, per_seed


def test_trpo_gaussian_pendulum_reaches_minus_400_over_2_seeds(tmp_path):
    config = load_config(["algo=trpo", "env=gymnax/Pendulum-v1", "num_seeds=2", "eval_episodes=8", "log_every=50"])
    assert config.total_env_steps == 200_000 and config.algo_config.normalize_obs  # the preset
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = np.asarray(summary["final_return_per_seed"], float)
    assert per_seed.mean() >= -400, per_seed  # a random policy scores about -1200
    assert summary["eval_return_mean"] >= -400, summary["eval_return_mean"]
