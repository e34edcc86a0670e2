"""A brax env (MJX pipeline) through the same kernel and wrappers as gymnax."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core import rollout as kernel
from jaxrl.envs import make

pytestmark = pytest.mark.xdist_group("brax")


def test_brax_inverted_pendulum_through_kernel(monkeypatch):
    # Building the env traces brax's reset for the observation size, and kernel.reset is jitted: on MJX, a
    # reset run eagerly goes op by op, ~30 s of hundreds of tiny compiles on a 2-core CPU, each time.
    from brax.envs.inverted_pendulum import InvertedPendulum

    traced = []
    brax_reset = InvertedPendulum.reset
    monkeypatch.setattr(InvertedPendulum, "reset",
                        lambda self, rng: traced.append(isinstance(rng, jax.core.Tracer)) or brax_reset(self, rng))
    env = make("brax/inverted_pendulum", num_envs=2, episode_length=5)
    assert traced and all(traced)
    assert env.unwrapped.backend == "mjx"
    assert env.action_space.shape == (1,) and env.observation_space.shape == (4,)

    def policy(params, obs, key):
        return jax.random.uniform(key, (obs.shape[0], 1), minval=-1, maxval=1), {}

    kernel.reset(env, jax.random.PRNGKey(2))
    traced_so_far = len(traced)
    state = kernel.reset(env, jax.random.PRNGKey(0))
    assert len(traced) == traced_so_far  # compiled once, not run again op by op
    _, tr = jax.jit(lambda s: kernel.rollout(env, policy, None, s, jax.random.PRNGKey(1), 6))(state)
    assert tr.obs.shape == (6, 2, 4)
    assert bool(jnp.isfinite(tr.obs).all()) and bool(jnp.isfinite(tr.reward).all())
    ended = np.asarray(jnp.logical_or(tr.terminated, tr.truncated))
    assert ended.any(axis=0).all()  # every env ended an episode within 6 steps (limit 5 or falling over)
    assert np.asarray(tr.info["episode_length"])[ended].max() <= 5


def test_brax_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        make("brax/inverted_pendulum", backend="warp-drive")
    with pytest.raises(ValueError, match=r"brax/swimmer with backend='mjx'"):  # swimmer is generalized-only
        make("brax/swimmer", backend="mjx")


def test_brax_default_backend_is_mjx_except_swimmer():
    assert make("brax/swimmer").unwrapped.backend == "generalized"  # construction only: no compile


def test_brax_generalized_backend_through_kernel():
    env = make("brax/inverted_pendulum", num_envs=2, backend="generalized", episode_length=3)
    assert env.unwrapped.backend == "generalized"
    state = kernel.reset(env, jax.random.PRNGKey(0))
    policy = kernel.random_policy(env.action_space)
    _, tr = jax.jit(lambda s: kernel.rollout(env, policy, None, s, jax.random.PRNGKey(1), 4))(state)
    assert bool(jnp.isfinite(tr.obs).all()) and bool(tr.done[:3].any(axis=0).all())  # limit 3 or fell


@pytest.mark.slow  # MJX compiles each model for 30-120 s on CPU; run with `pytest -m slow`
@pytest.mark.parametrize("name", ["ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup",
                                  "inverted_double_pendulum", "pusher", "reacher", "swimmer", "walker2d"])
def test_every_brax_env_through_kernel(name):  # default backends: MJX, swimmer generalized
    env = make(f"brax/{name}", num_envs=2)
    policy = kernel.random_policy(env.action_space)
    state = kernel.reset(env, jax.random.PRNGKey(0))
    _, tr = jax.jit(lambda s: kernel.rollout(env, policy, None, s, jax.random.PRNGKey(1), 4))(state)
    assert tr.obs.shape == (4, 2) + env.observation_space.shape
    assert bool(jnp.isfinite(tr.obs).all()) and bool(jnp.isfinite(tr.reward).all())
