"""Observation and action spaces: discrete and bounded box, static (hashable) so they can shape programs."""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Discrete:
    """Actions 0..n-1."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def dtype(self):
        return jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n, dtype=jnp.int32)


@dataclass(frozen=True)
class Box:
    """Real vectors within [low, high] (bounds stored as tuples so the space stays hashable)."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    shape: tuple[int, ...]

    @classmethod
    def make(cls, low, high, shape) -> "Box":
        shape = tuple(int(s) for s in shape)
        low = np.broadcast_to(np.asarray(low, np.float32), shape).reshape(-1)
        high = np.broadcast_to(np.asarray(high, np.float32), shape).reshape(-1)
        return cls(tuple(float(x) for x in low), tuple(float(x) for x in high), shape)

    @property
    def dtype(self):
        return jnp.float32

    @property
    def low_array(self) -> jax.Array:
        return jnp.asarray(self.low, jnp.float32).reshape(self.shape)

    @property
    def high_array(self) -> jax.Array:
        return jnp.asarray(self.high, jnp.float32).reshape(self.shape)

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def sample(self, key: jax.Array) -> jax.Array:
        if self.bounded:
            return jax.random.uniform(key, self.shape, minval=self.low_array, maxval=self.high_array)
        return jax.random.normal(key, self.shape)


Space = Discrete | Box
