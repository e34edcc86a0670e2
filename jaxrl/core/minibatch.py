"""Epochs of shuffled minibatches under lax.scan, written once for every batch learner."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def flatten_time_env(tree):
    """[T, N, ...] -> [T*N, ...] on every leaf."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def minibatch_epochs(key: jax.Array, carry: Any, data: Any, num_epochs: int, num_minibatches: int,
                     step_fn: Callable[[Any, Any], tuple[Any, dict]]) -> tuple[Any, dict]:
    """Run `step_fn(carry, minibatch) -> (carry, metrics)` over `num_epochs` shuffled passes of
    `data` (leading sample axis) split into `num_minibatches`. Returns metrics averaged over all steps."""
    size = jax.tree.leaves(data)[0].shape[0]
    if size % num_minibatches:
        raise ValueError(f"batch of {size} samples is not divisible into {num_minibatches} minibatches")

    def epoch(carry, epoch_key):
        perm = jax.random.permutation(epoch_key, size)
        shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=0).reshape(
            (num_minibatches, size // num_minibatches) + x.shape[1:]), data)
        return jax.lax.scan(step_fn, carry, shuffled)

    carry, metrics = jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
    return carry, jax.tree.map(jnp.mean, metrics)
