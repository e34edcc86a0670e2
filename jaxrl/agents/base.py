"""What every agent provides: a frozen config and a bundle of pure functions over explicit state."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, NamedTuple

import jax.numpy as jnp


@dataclass(frozen=True)
class AlgoConfig:
    """Static fields shape the program; fields named in HPARAMS are numbers fed to `train` as inputs
    (a dict of float32 scalars), so one compiled program can be vmapped over a sweep of them."""

    HPARAMS: ClassVar[tuple[str, ...]] = ()

    def hparams(self) -> dict:
        return {name: jnp.asarray(getattr(self, name), jnp.float32) for name in self.HPARAMS}

    def steps_per_iteration(self, env=None) -> int:
        """Env steps per iteration of the loop (`env`: the bare env, for algorithms whose horizon is the
        env's time limit)."""
        raise NotImplementedError

    def validate(self, env) -> None:
        """Raise ValueError naming the key for impossible settings (called before compiling)."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class Agent(NamedTuple):
    """init(key, hparams) -> state; policy/greedy_policy(params, obs, key) -> (action, extras);
    update(state, batch, key, hparams) -> (state, metrics); `params(state)` picks the acting params.
    With `update_takes_iteration`, the loop also passes the iteration index, which is the same for every
    seed: a branch on it stays a real branch when seeds are vmapped, where a branch on per-seed state
    becomes a select that computes both sides (the off-policy warm-up)."""

    init: Callable[..., Any]
    policy: Callable[..., Any]
    greedy_policy: Callable[..., Any]
    update: Callable[..., Any]
    params: Callable[[Any], Any]
    update_takes_iteration: bool = False
