"""Epochs of shuffled minibatches under lax.scan, written once for every batch learner."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def flatten_time_env(tree):
    """[T, N, ...] -> [T*N, ...] on every leaf."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


SORT_FREE_ABOVE = 256  # below this, jax.random.permutation's sorts are cheap
FEISTEL_ROUNDS = 6
# Cycle-walking steps done unrolled (elementwise, fused into one kernel) before the while loop finishes any
# element still out of range. The result is the same; only the number of loop iterations changes, each of
# which costs a device-to-host read of the loop condition on a GPU. The domain is the smallest power of two
# >= n, so an element walks on with probability < 1/2 per step, and after 16 steps the loop usually ends at
# its first test. A power-of-two n (PPO's usual batch) needs no walking and has no loop at all.
UNROLLED_WALKS = 16


def _mix32(x):
    """A bijective 32-bit integer mix (murmur3's finaliser), used as the Feistel round function."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def shuffle_indices(key: jax.Array, n: int) -> jax.Array:
    """A random permutation of range(n) without sorting, for minibatch shuffling.

    `jax.random.permutation` sorts random keys (several rounds); on CPU, XLA's sort of a few thousand
    elements costs about as much as a minibatch gradient step, so PPO on CartPole spent ~20% of its time
    shuffling. Here a keyed Feistel network permutes range(2^k), the smallest power of two >= n, and
    cycle-walking maps it onto range(n) (Black & Rogaway 2002): a bijection for every key, elementwise
    integer work only. The k bits split into halves of floor(k/2) and ceil(k/2) bits, and each of the
    FEISTEL_ROUNDS rounds XORs a keyed mix of one half into the other, alternating; every round is
    invertible whatever the two widths, so k may be odd. Small n keeps jax.random.permutation."""
    if n <= SORT_FREE_ABOVE:
        return jax.random.permutation(key, n)
    bits = max(n - 1, 1).bit_length()
    lo_bits = bits // 2  # the low half; the high half has the other bits - lo_bits
    lo_mask, hi_mask = jnp.uint32((1 << lo_bits) - 1), jnp.uint32((1 << (bits - lo_bits)) - 1)
    round_keys = jax.random.bits(key, (FEISTEL_ROUNDS,), jnp.uint32)

    def feistel(x):
        hi, lo = x >> lo_bits, x & lo_mask
        for i in range(FEISTEL_ROUNDS):
            if i % 2:
                lo = lo ^ (_mix32(hi ^ round_keys[i]) & lo_mask)
            else:
                hi = hi ^ (_mix32(lo ^ round_keys[i]) & hi_mask)
        return (hi << lo_bits) | lo

    walk = lambda y: jnp.where(y >= n, feistel(y), y)  # a no-op on elements already in range(n)
    y = feistel(jnp.arange(n, dtype=jnp.uint32))
    if (1 << bits) > n:  # some elements land outside range(n) and walk on
        for _ in range(UNROLLED_WALKS):
            y = walk(y)
        y = jax.lax.while_loop(lambda y: jnp.any(y >= n), walk, y)
    return y.astype(jnp.int32)


def _stackable(leaves) -> bool:
    """Whether a step's metrics can travel as one vector: scalars, all of one dtype."""
    return bool(leaves) and all(jnp.shape(x) == () and jnp.result_type(x) == jnp.result_type(leaves[0])
                                for x in leaves)


def minibatch_epochs(key: jax.Array, carry: Any, data: Any, num_epochs: int, num_minibatches: int,
                     step_fn: Callable[[Any, Any], tuple[Any, dict]], stack_metrics: bool = True) -> tuple[Any, dict]:
    """Run `step_fn(carry, minibatch) -> (carry, metrics)` over `num_epochs` shuffled passes of
    `data` (leading sample axis) split into `num_minibatches`. Returns metrics averaged over all steps.
    `stack_metrics`: the scan writes a step's scalar metrics as one vector (fewer kernels on a GPU)
    rather than one output each."""
    size = jax.tree.leaves(data)[0].shape[0]
    if size % num_minibatches:
        raise ValueError(f"batch of {size} samples is not divisible into {num_minibatches} minibatches")

    structure = []  # the metrics' tree structure, seen while tracing `step_fn`

    def stacked_step(carry, minibatch):
        """`step_fn` with its scalar metrics stacked into one vector: the scan then writes one output per
        step instead of one per metric (on a GPU, each write is a kernel of its own)."""
        carry, metrics = step_fn(carry, minibatch)
        leaves, treedef = jax.tree.flatten(metrics)
        if not stack_metrics or not _stackable(leaves):
            return carry, metrics  # the scan keeps the metrics as they are
        structure.append(treedef)
        return carry, jnp.stack(leaves)

    def epoch(carry, epoch_key):
        perm = shuffle_indices(epoch_key, size)
        shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=0).reshape(
            (num_minibatches, size // num_minibatches) + x.shape[1:]), data)
        return jax.lax.scan(stacked_step, carry, shuffled)

    carry, metrics = jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
    if structure:  # [epochs, minibatches, metric] -> the metrics' own structure, each averaged over all steps
        return carry, jax.tree.unflatten(structure[-1], list(jnp.mean(metrics, axis=(0, 1))))
    return carry, jax.tree.map(jnp.mean, metrics)
