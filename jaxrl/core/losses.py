"""Policy-gradient and value losses shared by the on-policy agents."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def clipped_surrogate(log_ratio, advantages, clip_eps_low, clip_eps_high=None):
    """PPO-Clip objective as a loss (Schulman et al. 2017); asymmetric clipping when high differs."""
    clip_eps_high = clip_eps_low if clip_eps_high is None else clip_eps_high
    ratio = jnp.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps_low, 1.0 + clip_eps_high) * advantages
    clip_fraction = jnp.mean((jnp.abs(ratio - 1.0) > clip_eps_low).astype(jnp.float32))
    return -jnp.mean(jnp.minimum(unclipped, clipped)), clip_fraction


def policy_gradient(log_prob, advantages, mask=None):
    """Score-function surrogate -mean(log π(a|s) · A), A held constant: its gradient is the policy-gradient
    estimate. Transitions with mask 0 add nothing, but the mean stays over the whole (fixed-size) batch: a
    denominator counting the used transitions would depend on episode lengths, so on the actions."""
    weighted = log_prob * jax.lax.stop_gradient(advantages)
    return -jnp.mean(weighted if mask is None else weighted * mask)


def masked_mean(x, mask=None):
    return jnp.mean(x) if mask is None else jnp.sum(x * mask) / jnp.maximum(mask.sum(), 1.0)


def value_loss(values, targets, old_values=None, clip_eps=None):
    """0.5 * squared error; with `old_values` and `clip_eps`, the PPO clipped value loss."""
    loss = jnp.square(values - targets)
    if old_values is not None and clip_eps is not None:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        loss = jnp.maximum(loss, jnp.square(clipped - targets))
    return 0.5 * jnp.mean(loss)


def approx_kl(log_ratio):
    """Low-variance estimator of KL(old || new) from log(new/old) (Schulman's k3)."""
    return jnp.mean(jnp.exp(log_ratio) - 1.0 - log_ratio)


def huber(x, delta: float = 1.0):
    abs_x = jnp.abs(x)
    return jnp.where(abs_x <= delta, 0.5 * x**2, delta * (abs_x - 0.5 * delta))


def normalize(x, eps: float = 1e-8):
    return (x - x.mean()) / (x.std() + eps)
