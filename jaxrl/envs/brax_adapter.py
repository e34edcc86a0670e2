"""brax environments (MJX pipeline by default) behind the jaxrl protocol, with our own time limit."""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.core import Env, StepResult
from jaxrl.envs.spaces import Box

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")
# brax environments that do not run on the MJX pipeline, and the backend they default to instead
NON_MJX_DEFAULT = {"swimmer": "generalized"}
# MJX solver options that `mjx_opt` may set: the constraint solver's outer iterations (a while loop that
# stops early once the cost improves by less than `tolerance`), and its line search's
MJX_OPT = {"iterations": int, "ls_iterations": int, "tolerance": float, "ls_tolerance": float}


def _check_mjx_opt(env_id: str, backend: str, mjx_opt) -> dict:
    """`mjx_opt` as {field: value}, checked: MJX's own solver options only, of the right type."""
    where = f"{env_id}: mjx_opt"
    if not isinstance(mjx_opt, dict):
        raise ValueError(f"{where} must be a mapping such as {{iterations: 4, tolerance: -1}}; got {mjx_opt!r}")
    if mjx_opt and backend != "mjx":
        raise ValueError(f"{where} sets MJX's solver options, but this env runs on brax's {backend!r} pipeline")
    out = {}
    for key, value in mjx_opt.items():
        if key not in MJX_OPT:
            raise ValueError(f"{where}: unknown option {key!r}; allowed: {', '.join(MJX_OPT)}")
        want = MJX_OPT[key]
        allowed = (int,) if want is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise ValueError(f"{where}.{key} must be {'an integer' if want is int else 'a number'}; got {value!r}")
        if want is int and value < 1:
            raise ValueError(f"{where}.{key} must be >= 1; got {value}")
        if want is float and not math.isfinite(value):
            raise ValueError(f"{where}.{key} must be finite; got {value}")
        out[key] = want(value)
    return out


def _brax_envs():
    """`brax.envs`, imported without mujoco's "Failed to import warp" line: warp is MJX's optional
    GPU backend, which jaxrl does not use, and the message reads like an error when it is not one."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        from brax import envs
    _patch_brax_fluid_clip()
    return envs


def _patch_brax_fluid_clip() -> None:
    """brax 0.14.2's fluid model (used by its generalized/positional/spring pipelines, not MJX) calls
    `jnp.clip(x, a_min=...)`, a keyword jax 0.10 no longer accepts. Give that one module a `jp`
    namespace whose `clip` maps the old keywords onto `min`/`max`; everything else is jax.numpy."""
    import types

    from brax import fluid

    if getattr(fluid.jp, "_jaxrl_clip_shim", False):
        return

    def clip(x, a_min=None, a_max=None, **kwargs):
        return jnp.clip(x, min=kwargs.pop("min", a_min), max=kwargs.pop("max", a_max), **kwargs)

    shim = types.SimpleNamespace(**{k: getattr(jnp, k) for k in dir(jnp) if not k.startswith("__")})
    shim.clip, shim._jaxrl_clip_shim = clip, True
    fluid.jp = shim


def brax_ids() -> list[str]:
    envs = _brax_envs()
    return sorted(n for n in envs._envs if n != "fast")  # "fast" is brax's internal test env


def _observation_size(env, env_id: str) -> int:
    """The length of `env`'s observation vector, from the shape of a traced reset. brax's own
    `observation_size` runs `reset` eagerly, op by op, and on the MJX pipeline that compiles hundreds of tiny
    programs: about 30 s of every brax env's construction on a 2-core CPU, for a number."""
    obs = jax.eval_shape(env.unwrapped.reset, jax.random.PRNGKey(0)).obs
    if not hasattr(obs, "shape") or len(obs.shape) != 1:
        raise ValueError(f"{env_id}: jaxrl needs a flat observation vector; brax's reset gives "
                         f"{jax.tree.map(lambda x: x.shape, obs)}")
    return int(obs.shape[-1])


@struct.dataclass
class BraxState:
    brax_state: Any
    time: jax.Array


class BraxEnv(Env):
    """A brax env. `mjx_opt` (MJX pipeline only) overrides the solver options of the env's model, e.g.
    `{iterations: 4, ls_iterations: 8}` to trade accuracy for speed; a negative `tolerance` makes the
    solver run exactly `iterations` at every step, whatever the envs' states (`bench/brax_ppo.py --mjx-opt`
    uses this to compare trainers on equal physics)."""

    def __init__(self, name: str, backend: str | None = None, episode_length: int = 1000,
                 mjx_opt: dict | None = None, **kwargs):
        envs = _brax_envs()
        backend = backend or NON_MJX_DEFAULT.get(name, "mjx")
        if backend not in BRAX_BACKENDS:
            raise ValueError(f"brax/{name}: unknown backend {backend!r}; allowed: {list(BRAX_BACKENDS)}")
        try:
            self.env = envs.get_environment(name, backend=backend, **kwargs)
        except ValueError as e:  # e.g. swimmer is only written for the generalized pipeline
            raise ValueError(f"brax/{name} with backend={backend!r}: {e}") from None
        if mjx_opt is not None:
            opt = _check_mjx_opt(f"brax/{name}", backend, mjx_opt)
            self.env.sys = self.env.sys.tree_replace(
                {f"opt.{k}": (v if MJX_OPT[k] is int else jnp.float32(v)) for k, v in opt.items()})
        self.id = f"brax/{name}"
        self.backend = backend
        self.max_episode_steps = int(episode_length)
        self.observation_space = Box.make(-jnp.inf, jnp.inf, (_observation_size(self.env, self.id),))
        self.action_space = Box.make(-1.0, 1.0, (self.env.action_size,))

    def reset(self, key):
        state = self.env.reset(key)
        return state.obs, BraxState(state, jnp.zeros((), jnp.int32))

    def step(self, key, state, action):
        del key  # brax dynamics are deterministic
        nxt = self.env.step(state.brax_state, action)
        time = state.time + 1
        terminated = jnp.asarray(nxt.done) > 0.5
        truncated = jnp.logical_and(time >= self.max_episode_steps, ~terminated)
        return StepResult(nxt.obs, BraxState(nxt, time), jnp.asarray(nxt.reward, jnp.float32),
                          terminated, truncated, {})
