"""REINFORCE and VPG: the Monte Carlo estimator pieces on hand-checked cases and bandits with a known gradient,
the complete-episode selection on real rollouts, config validation, and learning on CartPole."""
import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.reinforce import baseline_values, complete_episode_returns, update_time_baseline
from jaxrl.config import ConfigError, load_config
from jaxrl.core import losses
from jaxrl.core import rollout as kernel
from jaxrl.core.rollout import Transition
from jaxrl.core.train import make_train
from jaxrl.envs import make
from jaxrl.experiment import train_and_save

pytestmark = pytest.mark.xdist_group("pg")


def batch_of(reward, terminated, truncated, episode_length):
    """A [T, N] Transition with only the fields the return estimator reads."""
    reward = jnp.asarray(reward, jnp.float32)
    zeros = jnp.zeros_like(reward)
    return Transition(zeros, zeros, reward, jnp.asarray(terminated, bool), jnp.asarray(truncated, bool), zeros, {},
                      {"episode_length": jnp.asarray(episode_length, jnp.int32)})


def test_complete_episode_returns_hand_checked():
    # T=6, limit 3: an episode started before the window (t=0,1; truncated at 1), a 1-step episode (t=2),
    # one of 2 steps (t=3,4) and one started at t=5 > T - limit = 3, which might not end in the window
    columns = [[1.0, 2.0, 4.0, 1.0, 2.0, 8.0], [0, 0, 1, 0, 1, 0], [0, 1, 0, 0, 0, 0], [2, 3, 1, 1, 2, 1]]
    batch = batch_of(*(np.asarray(c)[:, None] for c in columns))
    returns, step, mask = complete_episode_returns(batch, 0.5, 3)
    np.testing.assert_allclose(returns[:, 0], [2.0, 2.0, 4.0, 2.0, 2.0, 8.0])  # no bootstrap anywhere
    np.testing.assert_array_equal(step[:, 0], [1, 2, 0, 0, 1, 0])
    np.testing.assert_array_equal(mask[:, 0], [0, 0, 1, 1, 1, 0])


def test_used_transitions_are_exactly_the_complete_episodes_started_early_in_the_window():
    limit, horizon = 20, 60
    env = make("gymnax/CartPole-v1", num_envs=8, max_steps_in_episode=limit)  # random play: ~22-step episodes
    state = kernel.reset(env, jax.random.PRNGKey(0))
    policy = kernel.random_policy(env.action_space)
    for key in jax.random.split(jax.random.PRNGKey(1), 2):  # the second window starts mid-episode
        state, batch = kernel.rollout(env, policy, None, state, key, horizon)
    returns, step, mask = map(np.asarray, complete_episode_returns(batch, 1.0, limit))
    done = np.asarray(batch.done)
    assert 0 < mask.mean() < 1 and batch.truncated.any() and batch.terminated.any()
    for n in range(done.shape[1]):
        ends = np.flatnonzero(done[:, n])
        for t in range(horizon):
            start = t - step[t, n]
            assert mask[t, n] == (0 <= start <= horizon - limit)
            if mask[t, n]:  # CartPole pays 1 per step: the reward-to-go counts the steps left in the episode
                end = ends[ends >= t][0]
                assert returns[t, n] == end - t + 1


def test_time_baseline_table_is_a_running_mean_by_step_in_episode():
    table, seen = jnp.zeros(3), jnp.zeros(3, bool)
    returns, step, mask = jnp.array([[4.0, 2.0], [1.0, 9.0]]), jnp.array([[0, 0], [1, 2]]), jnp.array([[1, 1], [1, 0.]])
    table, seen = update_time_baseline(table, seen, returns, mask, step, 0.5)
    np.testing.assert_allclose(table, [3.0, 1.0, 0.0])  # first visits take the batch mean; step 2 was masked
    np.testing.assert_array_equal(seen, [True, True, False])
    table, seen = update_time_baseline(table, seen, returns + 2.0, mask, step, 0.5)
    np.testing.assert_allclose(table, [4.0, 2.0, 0.0])  # then EMA: 3 + 0.5 (5 - 3)


def categorical_bandit():
    """Softmax over 4 arms; reward = arm mean + N(0, 1). ∇J = π ⊙ (means - π·means)."""
    means = jnp.array([10.0, 11.0, 12.5, 10.5])
    theta = jnp.array([0.2, -0.3, 0.5, 0.0])
    log_prob = lambda th, a: jax.nn.log_softmax(th)[a]
    sample = lambda key, n: jax.random.categorical(key, theta, shape=(n,))
    reward = lambda key, a: means[a] + jax.random.normal(key, a.shape)
    pi = jax.nn.softmax(theta)
    return theta, log_prob, sample, reward, pi * (means - pi @ means), pi @ means


def gaussian_bandit():
    """a ~ N(μ, σ²), reward = 50 - (a - 2)²: J = 50 - (μ-2)² - σ², ∇_(μ, log σ) J = (-2(μ-2), -2σ²)."""
    mu, log_std = 0.5, 0.0
    theta = jnp.array([mu, log_std])
    dist = lambda th: distrax.MultivariateNormalDiag(th[:1], jnp.exp(th[1:]))  # as the Gaussian head
    log_prob = lambda th, a: dist(th).log_prob(a)
    sample = lambda key, n: dist(theta).sample(seed=key, sample_shape=(n,))
    reward = lambda key, a: 50.0 - (a[..., 0] - 2.0) ** 2
    sigma2 = np.exp(2 * log_std)
    return theta, log_prob, sample, reward, jnp.array([-2 * (mu - 2), -2 * sigma2]), 50 - (mu - 2) ** 2 - sigma2


@pytest.mark.parametrize("bandit", [categorical_bandit, gaussian_bandit])
def test_baselines_keep_the_gradient_unbiased_and_cut_its_variance(bandit):
    n = 100_000
    theta, log_prob, sample, reward, exact_grad, v_pi = bandit()
    action_key, reward_key = jax.random.split(jax.random.PRNGKey(0))
    actions = sample(action_key, n)
    rewards = reward(reward_key, actions)
    # n one-step episodes, one per env, as a [T=1, N] batch through the agent's own functions
    batch = batch_of(rewards[None], jnp.ones((1, n)), jnp.zeros((1, n)), jnp.ones((1, n)))
    returns, step, mask = complete_episode_returns(batch, 0.99, 1)
    assert mask.shape == (1, n) and bool(mask.all())
    fixed = {"time": jnp.array([v_pi - 0.7]), "value": jnp.full((1, n), v_pi)}  # an earlier estimate; a fixed V

    def loss(th, a, adv, m):
        return losses.policy_gradient(jax.vmap(log_prob, (None, 0))(th, a)[None], adv, m)

    per_sample = jax.vmap(jax.grad(loss), (None, 0, 1, 1))  # one sample's gradient estimate each
    variance = {}
    for kind in ("none", "constant", "time", "value"):
        advantages = returns - baseline_values(kind, returns, mask, step, fixed["time"], fixed["value"])
        grad = jax.grad(loss)(theta, actions, advantages, mask)  # the batch estimate the agent uses
        samples = np.asarray(per_sample(theta, actions[:, None], advantages[:, :, None], mask[:, :, None]))
        np.testing.assert_allclose(samples.mean(0), grad, rtol=1e-4, atol=1e-4)
        # the loss is -J: unbiased within 5 standard errors per component (false-alarm odds ~1e-5 over all checks)
        stderr = samples.std(0) / np.sqrt(n)
        assert np.all(np.abs(np.asarray(grad) + exact_grad) <= 5 * stderr), (kind, grad, -exact_grad, stderr)
        variance[kind] = samples.var(0).sum()
    for kind in ("constant", "time", "value"):
        assert variance[kind] < 0.25 * variance["none"], variance


@pytest.mark.parametrize("overrides", [["algo=reinforce", "algo.baseline=time", "algo.rollout_length=200"],
                                       ["algo=vpg", "algo.advantage=n_step", "algo.n_steps=3"]])
def test_gaussian_agents_jit_vmap_over_seeds_and_update(overrides):
    config = load_config(overrides + ["env=gymnax/Pendulum-v1", "algo.num_envs=4", "algo.rollout_length=200",
                                      "total_env_steps=2400", "algo.hidden_sizes=16,16", "algo.vf_iters=2"])
    out = jax.jit(jax.vmap(make_train(config)))(jax.random.split(jax.random.PRNGKey(0), 2))
    for name, value in out.metrics.items():
        assert value.shape == (2, 3) and np.isfinite(value).all(), name
    assert not np.allclose(out.metrics["policy_loss"][0], out.metrics["policy_loss"][1])  # seeds differ
    if config.algo == "reinforce":  # 200-step episodes fill the whole step-in-episode table
        assert out.agent_state.time_seen.all() and (out.agent_state.time_baseline < 0).all()


@pytest.mark.parametrize("overrides, key", [
    (["algo=reinforce", "algo.baseline=foo"], "algo.baseline"),
    (["algo=reinforce", "algo.rollout_length=499"], "algo.rollout_length"),
    (["algo=reinforce", "algo.vf_iters=0"], "algo.vf_iters"),
    (["algo=reinforce", "algo.baseline_ema=0"], "algo.baseline_ema"),
    (["algo=vpg", "algo.advantage=td"], "algo.advantage"),
    (["algo=vpg", "algo.n_steps=0"], "algo.n_steps"),
])
def test_impossible_settings_fail_naming_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(overrides + ["env=gymnax/CartPole-v1"])


def learn(tmp_path, algo, *extra):
    config = load_config([f"algo={algo}", "env=gymnax/CartPole-v1", "num_seeds=2", "eval_episodes=8",
                          "log_every=50", *extra])
    summary = train_and_save(config, tmp_path, verbose=False)
    return np.asarray(summary["final_return_per_seed"], float), summary


def test_reinforce_value_baseline_cartpole_reaches_475_over_2_seeds(tmp_path):
    per_seed, summary = learn(tmp_path, "reinforce")
    assert summary["env_steps"] == 600_000  # the preset's budget
    assert per_seed.mean() >= 475, per_seed


def test_reinforce_without_baseline_cartpole_reaches_200_over_2_seeds(tmp_path):
    per_seed, _ = learn(tmp_path, "reinforce", "algo.baseline=none")
    assert per_seed.mean() >= 200, per_seed


def test_vpg_cartpole_reaches_475_over_2_seeds(tmp_path):
    per_seed, summary = learn(tmp_path, "vpg")
    assert summary["env_steps"] <= 300_000
    assert per_seed.mean() >= 475, per_seed
