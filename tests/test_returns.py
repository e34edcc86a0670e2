"""Returns math against hand-computed cases ([T, N] arrays, one column per case)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core.returns import discounted_returns, gae, lambda_returns, n_step_returns

G = 0.9


def col(*xs):
    return jnp.asarray(xs, jnp.float32)[:, None]


def flags(*xs):
    return jnp.asarray(xs, bool)[:, None]


R = col(1.0, 2.0, 3.0)
NV = col(10.0, 20.0, 30.0)  # V(next_obs[t])
V = col(5.0, 10.0, 20.0)  # V(obs[t]); consistent with NV inside an episode
NONE = flags(0, 0, 0)


def test_discounted_monte_carlo_no_bootstrap():
    out = discounted_returns(R, NONE, NONE, G)
    np.testing.assert_allclose(out[:, 0], [1 + G * 2 + G**2 * 3, 2 + G * 3, 3], rtol=1e-6)


def test_discounted_bootstraps_at_rollout_end():
    out = discounted_returns(R, NONE, NONE, G, next_values=NV)
    np.testing.assert_allclose(out[:, 0], [1 + G * 2 + G**2 * 3 + G**3 * 30, 2 + G * 3 + G**2 * 30, 3 + G * 30],
                               rtol=1e-6)


def test_termination_does_not_bootstrap_and_cuts():
    term = flags(0, 1, 0)
    out = discounted_returns(R, term, NONE, G, next_values=NV)
    np.testing.assert_allclose(out[:, 0], [1 + G * 2, 2, 3 + G * 30], rtol=1e-6)


def test_truncation_bootstraps_from_final_observation_and_cuts():
    trunc = flags(0, 1, 0)
    out = discounted_returns(R, NONE, trunc, G, next_values=NV)
    np.testing.assert_allclose(out[:, 0], [1 + G * (2 + G * 20), 2 + G * 20, 3 + G * 30], rtol=1e-6)


def test_lambda_zero_is_one_step_td():
    term = flags(0, 0, 1)
    out = lambda_returns(R, NV, term, NONE, G, 0.0)
    np.testing.assert_allclose(out[:, 0], [1 + G * 10, 2 + G * 20, 3], rtol=1e-6)


def test_lambda_half_by_hand():
    lam = 0.5
    g2 = 3 + G * 30
    g1 = 2 + G * ((1 - lam) * 20 + lam * g2)
    g0 = 1 + G * ((1 - lam) * 10 + lam * g1)
    out = lambda_returns(R, NV, NONE, NONE, G, lam)
    np.testing.assert_allclose(out[:, 0], [g0, g1, g2], rtol=1e-6)


def test_gae_by_hand_with_truncation():
    lam = 0.8
    trunc = flags(1, 0, 0)
    d = [1 + G * 10 - 5, 2 + G * 20 - 10, 3 + G * 30 - 20]
    a2 = d[2]
    a1 = d[1] + G * lam * a2
    a0 = d[0]  # truncated at t=0: the trace is cut, bootstrap from V(final obs)=10
    adv, targets = gae(R, V, NV, NONE, trunc, G, lam)
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(targets, adv + V, rtol=1e-6)


def test_gae_equals_lambda_return_minus_value_when_consistent():
    key = jax.random.PRNGKey(0)
    T, N = 7, 5
    k1, k2, k3 = jax.random.split(key, 3)
    rewards = jax.random.normal(k1, (T, N))
    values = jax.random.normal(k2, (T + 1, N))
    done = jax.random.bernoulli(k3, 0.2, (T, N))
    # inside an episode V(next_obs[t]) = V(obs[t+1]); at ends it is the final obs's own value
    v, nv = values[:-1], values[1:]
    adv, _ = gae(rewards, v, nv, done, jnp.zeros_like(done), G, 0.7)
    lr = lambda_returns(rewards, nv, done, jnp.zeros_like(done), G, 0.7)
    np.testing.assert_allclose(adv, lr - v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_n_step_by_hand(n):
    R4 = col(1.0, 2.0, 3.0, 4.0)
    NV4 = col(10.0, 20.0, 30.0, 40.0)
    term = flags(0, 0, 0, 0)
    trunc = flags(0, 1, 0, 0)  # episode 1 = steps 0..1 (truncated), episode 2 = steps 2..3
    out = n_step_returns(R4, NV4, term, trunc, G, n)
    expected = {
        1: [1 + G * 10, 2 + G * 20, 3 + G * 30, 4 + G * 40],
        2: [1 + G * 2 + G**2 * 20, 2 + G * 20, 3 + G * 4 + G**2 * 40, 4 + G * 40],
    }
    expected[3] = expected[5] = [1 + G * 2 + G**2 * 20, 2 + G * 20, 3 + G * 4 + G**2 * 40, 4 + G * 40]
    np.testing.assert_allclose(out[:, 0], expected[n], rtol=1e-6)


def test_n_step_with_termination_and_large_n_matches_monte_carlo():
    term = flags(0, 1, 0)
    out = n_step_returns(R, NV, term, NONE, G, 10)
    np.testing.assert_allclose(out, discounted_returns(R, term, NONE, G, next_values=NV), rtol=1e-6)


def test_returns_jit_and_vmap():
    batch = jnp.stack([R, 2 * R])  # [B, T, 1]
    f = jax.jit(jax.vmap(lambda r: gae(r, V, NV, NONE, NONE, G, 0.95)[0]))
    out = f(batch)
    single = gae(R, V, NV, NONE, NONE, G, 0.95)[0]
    np.testing.assert_allclose(out[0], single, rtol=1e-6)
    assert out.shape == (2, 3, 1)
