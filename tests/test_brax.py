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


def _while_loops_in_step(env) -> int:
    """While loops in the lowered (not compiled) program of one env's step."""
    base = env.unwrapped
    _, state = base.reset(jax.random.PRNGKey(0))
    action = jnp.zeros(base.action_space.shape)
    text = jax.jit(base.step).lower(jax.random.PRNGKey(1), state, action).as_text()
    return text.count("stablehlo.while")


def test_brax_mjx_opt_sets_the_solver_options_from_a_config_override():
    from jaxrl.config import load_config
    from jaxrl.envs import make_base

    config = load_config(["env=brax/inverted_pendulum", "env_kwargs.mjx_opt={iterations: 3, tolerance: -1}"])
    assert config.env_kwargs["mjx_opt"] == {"iterations": 3, "tolerance": -1}
    opt = make_base(config.env, **config.env_kwargs).env.sys.opt
    assert opt.iterations == 3 and float(opt.tolerance) == -1.0 and opt.ls_iterations == 50  # the rest kept
    # the option reaches the physics: with one iteration MJX's solver runs its body once, without a loop
    default = _while_loops_in_step(make("brax/inverted_pendulum"))
    assert _while_loops_in_step(make("brax/inverted_pendulum", mjx_opt={"iterations": 1})) == default - 1


@pytest.mark.parametrize("mjx_opt, match", [
    ({"iteration": 3}, r"unknown option 'iteration'; allowed: iterations"),
    ({"iterations": 2.5}, r"mjx_opt.iterations must be an integer; got 2.5"),
    ({"iterations": 0}, r"mjx_opt.iterations must be >= 1"),
    ({"tolerance": "tight"}, r"mjx_opt.tolerance must be a number"),
    ({"tolerance": float("nan")}, r"mjx_opt.tolerance must be finite"),
    ([3], r"must be a mapping"),
    (0, r"must be a mapping such as"),
])
def test_brax_mjx_opt_bad_input_names_the_cause(mjx_opt, match):
    with pytest.raises(ValueError, match=match):
        make("brax/inverted_pendulum", mjx_opt=mjx_opt)


def test_brax_mjx_opt_bad_config_override_names_the_env_once():
    from jaxrl.config import ConfigError, load_config

    with pytest.raises(ConfigError) as info:
        load_config(["env=brax/inverted_pendulum", "env_kwargs.mjx_opt={iteration: 3}"])
    assert str(info.value).startswith("brax/inverted_pendulum: mjx_opt: unknown option 'iteration'")
    assert str(info.value).count("inverted_pendulum") == 1


def test_brax_mjx_opt_needs_the_mjx_pipeline():
    with pytest.raises(ValueError, match=r"brax/inverted_pendulum: mjx_opt sets MJX's solver options, but this "
                                         r"env runs on brax's 'generalized' pipeline"):
        make("brax/inverted_pendulum", backend="generalized", mjx_opt={"iterations": 2})


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
