"""Uniform replay: a fixed-capacity ring buffer of transitions as a pytree, with pure `add` and `sample`.

Our own because flashbax's buffer state is not a flax-serialisable pytree, and checkpoints hold the whole
agent state (replay included). Under `vmap` over seeds every seed keeps its own buffer.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.core.minibatch import flatten_time_env


@struct.dataclass
class ReplayState:
    data: dict  # leaves [capacity, ...]
    index: jax.Array  # where the next item is written
    size: jax.Array  # items stored so far (at most capacity)

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[0]


def init(example: dict, capacity: int) -> ReplayState:
    """An empty buffer whose items look like `example` (one transition, no batch axis)."""
    data = jax.tree.map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example)
    return ReplayState(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(state: ReplayState, items: dict) -> ReplayState:
    """Write a batch of items (leaves [B, ...]); the oldest are overwritten once the buffer is full."""
    count = jax.tree.leaves(items)[0].shape[0]
    if count > state.capacity:
        raise ValueError(f"cannot add {count} items at once to a replay buffer of capacity {state.capacity}")
    positions = (state.index + jnp.arange(count)) % state.capacity
    data = jax.tree.map(lambda buf, x: buf.at[positions].set(x.astype(buf.dtype)), state.data, items)
    return ReplayState(data, (state.index + count) % state.capacity,
                       jnp.minimum(state.size + count, state.capacity))


def sample(state: ReplayState, key: jax.Array, batch_size: int) -> dict:
    """`batch_size` items drawn uniformly, with replacement, from those stored."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
    return jax.tree.map(lambda buf: buf[idx], state.data)


def item_example(env) -> dict:
    """One replay item (no batch axis) for the env's spaces: shapes and dtypes of what `from_rollout` stores."""
    obs = jnp.zeros(env.observation_space.shape, jnp.float32)
    action = jnp.zeros(env.action_space.shape, env.action_space.dtype)
    zero = jnp.zeros((), jnp.float32)
    return {"obs": obs, "action": action, "reward": zero, "next_obs": obs, "terminated": zero}


def from_rollout(batch) -> dict:
    """The replay items of a [T, N] rollout Transition: obs, action, reward, next_obs (the final observation
    where an episode ended, so truncated episodes bootstrap) and terminated, flattened to [T*N]."""
    return flatten_time_env({"obs": batch.obs, "action": batch.action, "reward": batch.reward,
                             "next_obs": batch.next_obs, "terminated": batch.terminated.astype(jnp.float32)})
