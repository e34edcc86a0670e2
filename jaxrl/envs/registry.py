"""`make(env_id)`: one entry point for every adapter, wrapped the same way."""
from __future__ import annotations

import difflib

from jaxrl.envs.core import Env
from jaxrl.envs.spaces import Box
from jaxrl.envs.wrappers import AutoReset, EpisodeStatistics, NormalizeObservation, RescaleAction, VecEnv

# Needs data downloaded at run time, which this library does not do.
_UNSUPPORTED = {"gymnax/MNISTBandit-bsuite": "it downloads MNIST at construction time"}


def list_envs() -> list[str]:
    from jaxrl.envs.brax_adapter import brax_ids
    from jaxrl.envs.gymnax_adapter import gymnax_ids

    ids = [f"gymnax/{n}" for n in gymnax_ids()] + [f"brax/{n}" for n in brax_ids()]
    return [i for i in ids if i not in _UNSUPPORTED]


class UnknownEnvError(ValueError):
    pass


def _unknown(env_id: str) -> UnknownEnvError:
    ids = list_envs()
    close = difflib.get_close_matches(env_id, ids, n=5, cutoff=0.4)
    if not close:  # also match on the bare name, ignoring the family prefix and case
        bare = {i.split("/", 1)[1].lower(): i for i in ids}
        close = [bare[m] for m in difflib.get_close_matches(env_id.split("/")[-1].lower(), bare, n=5, cutoff=0.4)]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return UnknownEnvError(f"unknown env id {env_id!r}.{hint} (ids look like 'gymnax/CartPole-v1' or "
                           f"'brax/ant'; jaxrl.envs.list_envs() lists all {len(ids)})")


def make_base(env_id: str, **kwargs) -> Env:
    """The bare adapter: no auto-reset, no statistics, native action space."""
    if env_id in _UNSUPPORTED:
        raise UnknownEnvError(f"{env_id} is not supported: {_UNSUPPORTED[env_id]}")
    family, _, name = env_id.partition("/")
    if family == "gymnax":
        from jaxrl.envs.gymnax_adapter import GymnaxEnv, gymnax_ids

        if name not in gymnax_ids():
            raise _unknown(env_id)
        return GymnaxEnv(name, **kwargs)
    if family == "brax":
        from jaxrl.envs.brax_adapter import BraxEnv, brax_ids

        if name not in brax_ids():
            raise _unknown(env_id)
        return BraxEnv(name, **kwargs)
    raise _unknown(env_id)


def make(env_id: str, num_envs: int | None = None, normalize_obs: bool = False,
         normalize_update: bool = True, normalize_every: int = 1, skip_idle_resets: bool = False,
         **kwargs) -> Env:
    """A wrapped env: actions in [-1, 1] for boxes, episode statistics, auto-reset.

    With `num_envs` the result is a `VecEnv` (leading [num_envs] axis), optionally with running
    observation normalisation shared across its envs (its statistics change every `normalize_every` steps:
    `NormalizeObservation`), and with `skip_idle_resets` a CPU step where no env
    finished skips the reset work (`AutoReset`; same results). Extra kwargs go to the adapter
    (gymnax env params; brax `backend=`, `episode_length=`).
    """
    env = make_base(env_id, **kwargs)
    if isinstance(env.action_space, Box):
        env = RescaleAction(env)
    env = AutoReset(EpisodeStatistics(env), skip_idle_resets=skip_idle_resets)
    if num_envs is None:
        if normalize_obs:
            raise ValueError("normalize_obs needs num_envs (statistics are shared across a VecEnv)")
        return env
    env = VecEnv(env, num_envs)
    if normalize_obs:
        env = NormalizeObservation(env, update=normalize_update, every=normalize_every)
    return env
