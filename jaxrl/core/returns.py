"""Return estimators over [T, N] (time-major) arrays, written once for every algorithm.

Conventions: `rewards[t]` follows the action at t; `values[t] = V(obs[t])`;
`next_values[t] = V(next_obs[t])`, where next_obs is the true next observation (the final one when
an episode ended). `terminated[t]`: no bootstrap after t. `truncated[t]`: the episode was cut by a
time limit, so the target bootstraps from next_values[t]. Any episode end (or the end of the
rollout) cuts the recursion, so nothing leaks across episodes.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def _prepare(rewards, next_values, terminated, truncated):
    chex.assert_rank(rewards, 2)
    chex.assert_equal_shape([rewards, next_values, terminated, truncated])
    not_term = 1.0 - terminated.astype(jnp.float32)
    cut = jnp.logical_or(terminated, truncated)
    cut = cut.at[-1].set(True)  # the rollout's end: bootstrap from next_values[T-1]
    return not_term, cut.astype(jnp.float32)


def lambda_returns(rewards, next_values, terminated, truncated, gamma, lam):
    """λ-returns G_t = r_t + γ[(1-λ) V(s_{t+1}) + λ G_{t+1}] (Sutton & Barto 12.1), cut at episode ends.

    λ=1 gives Monte Carlo returns bootstrapped only at truncation/rollout end, λ=0 one-step TD targets.
    """
    not_term, cut = _prepare(rewards, next_values, terminated, truncated)

    def body(next_return, xs):
        r, nv, nt, c = xs
        blended = c * nv + (1.0 - c) * ((1.0 - lam) * nv + lam * next_return)
        g = r + gamma * nt * blended
        return g, g

    _, out = jax.lax.scan(body, jnp.zeros_like(rewards[0]), (rewards, next_values, not_term, cut), reverse=True)
    return out


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Generalised advantage estimation (Schulman et al. 2016). Returns (advantages, value_targets)."""
    chex.assert_equal_shape([rewards, values])
    not_term, cut = _prepare(rewards, next_values, terminated, truncated)
    deltas = rewards + gamma * not_term * next_values - values

    def body(next_adv, xs):
        delta, c = xs
        adv = delta + gamma * lam * (1.0 - c) * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(body, jnp.zeros_like(rewards[0]), (deltas, cut), reverse=True)
    return advantages, advantages + values


def discounted_returns(rewards, terminated, truncated, gamma, next_values=None):
    """Discounted reward-to-go. Without `next_values` it is pure Monte Carlo (no bootstrap at all)."""
    if next_values is None:
        next_values = jnp.zeros_like(rewards)
    return lambda_returns(rewards, next_values, terminated, truncated, gamma, 1.0)


def n_step_returns(rewards, next_values, terminated, truncated, gamma, n: int):
    """n-step returns Σ_{k<m} γ^k r_{t+k} + γ^m V(s_{t+m}), with m ≤ n shortened at an episode end or
    the rollout's end. n=1 gives TD targets; n ≥ T gives the λ=1 returns."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    not_term, cut = _prepare(rewards, next_values, terminated, truncated)
    horizon = rewards.shape[0]

    def shift(x, k):  # x[t + k], zero-padded past the end
        return jnp.concatenate([x[k:], jnp.zeros_like(x[:k])], axis=0) if k else x

    total = jnp.zeros_like(rewards)
    active = jnp.ones_like(rewards)
    discount = jnp.ones_like(rewards)
    for k in range(min(n, horizon)):
        cut_k = jnp.ones_like(cut) if k == n - 1 else shift(cut, k)  # the n-th step always bootstraps
        total = total + active * discount * shift(rewards, k)
        total = total + active * cut_k * discount * gamma * shift(not_term, k) * shift(next_values, k)
        active = active * (1.0 - cut_k)
        discount = discount * gamma
    return total
