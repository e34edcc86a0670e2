"""brax environments (MJX pipeline by default) behind the jaxrl protocol, with our own time limit."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.core import Env, StepResult
from jaxrl.envs.spaces import Box

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")
# brax environments that do not run on the MJX pipeline, and the backend they default to instead
NON_MJX_DEFAULT = {"swimmer": "generalized"}


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
    def __init__(self, name: str, backend: str | None = None, episode_length: int = 1000, **kwargs):
        envs = _brax_envs()
        backend = backend or NON_MJX_DEFAULT.get(name, "mjx")
        if backend not in BRAX_BACKENDS:
            raise ValueError(f"brax/{name}: unknown backend {backend!r}; allowed: {list(BRAX_BACKENDS)}")
        try:
            self.env = envs.get_environment(name, backend=backend, **kwargs)
        except ValueError as e:  # e.g. swimmer is only written for the generalized pipeline
            raise ValueError(f"brax/{name} with backend={backend!r}: {e}") from None
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
