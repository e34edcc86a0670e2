"""Seed-based perturbation: member i's noise is a pure function of (generation key, i), so any device
regenerates exactly the noise any other device used, and no population matrix is ever stored or sent.

With antithetic (mirrored) sampling members 2j and 2j+1 share pair j's noise with opposite signs, so a
device whose slice holds whole pairs holds both halves of every pair it owns.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def pair_noise(gen_key: jax.Array, pair: jax.Array, dim: int) -> jax.Array:
    """Standard normal noise [dim] of one pair (or one member without antithetic sampling)."""
    return jax.random.normal(jax.random.fold_in(gen_key, pair), (dim,), jnp.float32)


def member_noise(gen_key: jax.Array, index: jax.Array, dim: int, antithetic: bool) -> jax.Array:
    """Noise [dim] of population member `index`, regenerated from the seed."""
    if not antithetic:
        return pair_noise(gen_key, index, dim)
    sign = 1.0 - 2.0 * (index % 2).astype(jnp.float32)
    return sign * pair_noise(gen_key, index // 2, dim)


def population_noise(gen_key: jax.Array, indices: jax.Array, dim: int, antithetic: bool) -> jax.Array:
    """Noise [len(indices), dim] of the given members (a device's slice, or the whole population)."""
    return jax.vmap(lambda i: member_noise(gen_key, i, dim, antithetic))(indices)


def weighted_noise_sum(gen_key: jax.Array, coefs: jax.Array, dim: int, chunk: int = 256) -> jax.Array:
    """sum_j coefs[j] * pair_noise(gen_key, j): the ES gradient rebuilt from seeds, `chunk` noise vectors
    at a time, so memory is O(chunk * dim) whatever the population size."""
    n = coefs.shape[0]
    chunk = max(1, min(chunk, n))
    blocks = -(-n // chunk)
    padded = jnp.zeros(blocks * chunk, coefs.dtype).at[:n].set(coefs).reshape(blocks, chunk)

    def add(total, block):
        b, c = block
        noise = jax.vmap(lambda j: pair_noise(gen_key, j, dim))(b * chunk + jnp.arange(chunk))
        return total + c @ noise, None

    total, _ = jax.lax.scan(add, jnp.zeros(dim, jnp.float32), (jnp.arange(blocks), padded))
    return total


def centered_ranks(fitness: jax.Array) -> jax.Array:
    """Fitness shaping by rank, mapped linearly onto [-0.5, 0.5] (higher fitness -> higher value); sums to 0.
    Ties share their average rank (so a mirrored pair with equal fitness adds nothing to the update);
    NaN fitness ranks lowest."""
    f = jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
    ranks = jax.scipy.stats.rankdata(f, method="average").astype(jnp.float32) - 1.0
    return ranks / max(fitness.shape[0] - 1, 1) - 0.5
