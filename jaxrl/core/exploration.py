"""Exploration written once: schedules and ε-greedy action selection."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def linear_schedule(start, end, duration, t):
    """`start` at t=0, linearly to `end` at t=duration, then `end` (duration <= 0: `end` at once)."""
    frac = jnp.clip(t / jnp.maximum(duration, 1e-8), 0.0, 1.0)
    return jnp.where(duration > 0, start + frac * (end - start), end)


def epsilon_greedy(key: jax.Array, q_values: jax.Array, epsilon) -> jax.Array:
    """argmax of q_values[..., A] per row, replaced by a uniform action with probability epsilon."""
    explore_key, action_key = jax.random.split(key)
    batch = q_values.shape[:-1]
    greedy = jnp.argmax(q_values, -1).astype(jnp.int32)
    random = jax.random.randint(action_key, batch, 0, q_values.shape[-1], dtype=jnp.int32)
    return jnp.where(jax.random.uniform(explore_key, batch) < epsilon, random, greedy)
