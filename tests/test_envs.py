"""Env layer and rollout-kernel semantics on the tests' own deterministic env."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.core import rollout as kernel
from jaxrl.envs import (AutoReset, EpisodeStatistics, NormalizeObservation, RescaleAction, UnknownEnvError,
                        VecEnv, list_envs, make)
from probe_envs import CountingEnv


def wrapped(num_envs=2, **kw):
    return VecEnv(AutoReset(EpisodeStatistics(CountingEnv(**kw))), num_envs)


def zero_policy(params, obs, key):
    return jnp.zeros(obs.shape[0], jnp.int32), {"obs_sum": obs.sum(-1) * params}


def run(env, steps, params=1.0, key=jax.random.PRNGKey(0)):
    state = kernel.reset(env, key)
    return jax.jit(lambda s: kernel.rollout(env, zero_policy, params, s, key, steps))(state)


def test_truncation_keeps_final_obs_and_auto_resets():
    _, tr = run(wrapped(limit=3), 7)
    np.testing.assert_array_equal(tr.obs[:, 0, 0], [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(tr.next_obs[:, 0, 0], [1, 2, 3, 1, 2, 3, 1])  # final obs 3 kept
    np.testing.assert_array_equal(tr.truncated[:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(tr.terminated[:, 0], np.zeros(7))
    np.testing.assert_array_equal(tr.reward[:, 0], [1, 2, 3, 1, 2, 3, 1])


def test_termination_is_not_truncation():
    _, tr = run(wrapped(limit=10, terminate_at=2), 4)
    np.testing.assert_array_equal(tr.terminated[:, 1], [0, 1, 0, 1])
    np.testing.assert_array_equal(tr.truncated[:, 1], [0, 0, 0, 0])


def test_episode_statistics():
    _, tr = run(wrapped(limit=3), 7)
    info = tr.info
    np.testing.assert_array_equal(info["episode_done"][:, 0], [0, 0, 1, 0, 0, 1, 0])
    done = np.asarray(info["episode_done"][:, 0])
    np.testing.assert_array_equal(np.asarray(info["episode_return"][:, 0])[done], [6, 6])
    np.testing.assert_array_equal(np.asarray(info["episode_length"][:, 0])[done], [3, 3])
    metrics = kernel.episode_metrics(info)
    assert float(metrics["episode_return"]) == 6.0 and float(metrics["episodes"]) == 4.0


def test_kernel_carries_state_across_calls():
    env = wrapped(limit=3)
    key = jax.random.PRNGKey(0)
    state = kernel.reset(env, key)
    state, first = kernel.rollout(env, zero_policy, 1.0, state, key, 2)
    _, second = kernel.rollout(env, zero_policy, 1.0, state, key, 2)
    np.testing.assert_array_equal(first.obs[:, 0, 0], [0, 1])
    np.testing.assert_array_equal(second.obs[:, 0, 0], [2, 0])


def test_population_axis_on_params():
    env = wrapped(num_envs=3, limit=3)
    pop = 4
    params = jnp.arange(pop, dtype=jnp.float32)
    states = jax.vmap(lambda k: kernel.reset(env, k))(jax.random.split(jax.random.PRNGKey(0), pop))
    _, tr = jax.jit(lambda p, s: kernel.population_rollout(env, zero_policy, p, s, jax.random.PRNGKey(1), 5))(params, states)
    assert tr.obs.shape == (pop, 5, 3, 1)
    # member i's policy saw params i
    np.testing.assert_allclose(tr.extras["obs_sum"][:, 1, 0], params * 1.0)


def test_rescale_action_maps_unit_box_to_bounds():
    seen = []

    class Spy(CountingEnv):
        def step(self, key, state, action):
            seen.append(action)
            return super().step(key, state, action)

    env = RescaleAction(Spy(continuous=True))
    _, s = env.reset(jax.random.PRNGKey(0))
    for a, want in [(-1.0, -2.0), (0.0, 0.0), (1.0, 2.0), (5.0, 2.0)]:
        env.step(jax.random.PRNGKey(0), s, jnp.array([a]))
        np.testing.assert_allclose(seen[-1], [want])
    assert env.action_space.low == (-1.0,) and env.action_space.high == (1.0,)


def test_normalize_observation_tracks_running_stats_and_freezes():
    env = NormalizeObservation(wrapped(num_envs=4, limit=100))
    obs, state = env.reset(jax.random.PRNGKey(0))
    for _ in range(5):
        res = env.step(jax.random.PRNGKey(0), state, jnp.zeros(4, jnp.int32))
        state = res.state
    stats = state.obs_stats
    # raw obs seen: 0 (reset) then 1..5, four envs each: mean 2.5 over 24 samples
    np.testing.assert_allclose(stats.mean, [2.5 * 24 / (24 + 1e-4)], rtol=1e-4)
    frozen = NormalizeObservation(wrapped(num_envs=4, limit=100), update=False)
    res = frozen.step(jax.random.PRNGKey(0), state, jnp.zeros(4, jnp.int32))
    np.testing.assert_array_equal(res.state.obs_stats.mean, stats.mean)
    np.testing.assert_allclose(res.obs, stats.normalize(jnp.full((4, 1), 6.0)))


def test_normalize_observation_every_n_steps_holds_the_statistics_then_takes_in_all_seen():
    every_step = NormalizeObservation(wrapped(num_envs=4, limit=100))
    per_three = NormalizeObservation(wrapped(num_envs=4, limit=100), every=3)
    (_, a), (obs, b) = every_step.reset(jax.random.PRNGKey(0)), per_three.reset(jax.random.PRNGKey(0))
    initial = per_three.observation_space.shape
    from jaxrl.core.running_stats import RunningStats

    np.testing.assert_array_equal(b.obs_stats.var, RunningStats.create(initial).var)  # the first steps: raw
    np.testing.assert_allclose(obs, jnp.zeros((4, 1)), atol=1e-6)
    for step in range(1, 7):
        ra = every_step.step(jax.random.PRNGKey(0), a, jnp.zeros(4, jnp.int32))
        rb = per_three.step(jax.random.PRNGKey(0), b, jnp.zeros(4, jnp.int32))
        if step % 3:  # held: the statistics of the last commit (at step 3: those of obs 0..3)
            held = RunningStats.create(initial) if step < 3 else committed
            for x, y in zip(jax.tree.leaves(rb.state.obs_stats), jax.tree.leaves(held)):
                np.testing.assert_array_equal(x, y)
        else:  # committed: the same batches merged in the same order as at every step
            committed = rb.state.obs_stats
            for x, y in zip(jax.tree.leaves(committed), jax.tree.leaves(ra.state.obs_stats)):
                np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(rb.obs, rb.state.obs_stats.normalize(jnp.full((4, 1), float(step))), rtol=1e-6)
        a, b = ra.state, rb.state
    assert int(b.steps) == 6
    with pytest.raises(ValueError, match=r"every=0 must be an integer >= 1"):
        NormalizeObservation(wrapped(num_envs=4, limit=100), every=0)


def test_unknown_env_id_suggests_close_matches():
    with pytest.raises(UnknownEnvError, match="CartPole-v1"):
        make("gymnax/CartPol-v1")
    with pytest.raises(UnknownEnvError, match="brax/ant"):
        make("brax/antt")
    with pytest.raises(UnknownEnvError, match="Did you mean"):
        make("cartpole")


def test_registry_lists_gymnax_and_brax():
    ids = list_envs()
    for name in ("gymnax/CartPole-v1", "gymnax/Pendulum-v1", "gymnax/Breakout-MinAtar", "brax/ant",
                 "brax/inverted_pendulum", "brax/humanoid"):
        assert name in ids


@pytest.mark.parametrize("env_id", [e for e in list_envs() if e.startswith("gymnax/")])  # every one
def test_gymnax_envs_through_kernel(env_id):
    env = make(env_id, num_envs=3)
    state = kernel.reset(env, jax.random.PRNGKey(0))
    policy = kernel.random_policy(env.action_space)
    _, tr = jax.jit(lambda s: kernel.rollout(env, policy, None, s, jax.random.PRNGKey(1), 8))(state)
    assert tr.obs.shape == (8, 3) + env.observation_space.shape
    assert tr.reward.dtype == jnp.float32
    assert bool(jnp.isfinite(tr.reward).all())


def test_gymnax_truncation_at_time_limit():
    env = make("gymnax/Pendulum-v1", num_envs=2)  # Pendulum never terminates: 200-step limit

    def policy(params, obs, key):
        return jnp.zeros((obs.shape[0], 1)), {}

    state = kernel.reset(env, jax.random.PRNGKey(0))
    _, tr = jax.jit(lambda s: kernel.rollout(env, policy, None, s, jax.random.PRNGKey(1), 401))(state)
    trunc = np.asarray(tr.truncated[:, 0])
    assert list(np.nonzero(trunc)[0]) == [199, 399]
    assert not np.asarray(tr.terminated).any()
    # the final observation of the truncated episode is not the reset observation that follows
    assert not np.allclose(tr.next_obs[199, 0], tr.obs[200, 0])
    np.testing.assert_allclose(tr.next_obs[198, 0], tr.obs[199, 0])


def test_first_episode_return_and_length():
    _, tr = run(wrapped(limit=3), 7)  # rewards 1,2,3 | 1,2,3 | 1: the first episode returns 6 in 3 steps
    ret, length = kernel.first_episode(tr)
    np.testing.assert_array_equal(ret, [6, 6])
    np.testing.assert_array_equal(length, [3, 3])
    _, short = run(wrapped(limit=5), 2)  # unfinished: the return so far
    np.testing.assert_array_equal(kernel.first_episode_return(short), [3, 3])


def test_first_episode_fold_matches_the_batch():
    """The kernel's FIRST_EPISODE fold carries what `first_episode` computes from the stacked batch, and
    ends in the same env state; for rollout and population_rollout, finished and unfinished episodes."""
    env = make("gymnax/CartPole-v1", num_envs=8)
    policy = kernel.random_policy(env.action_space)
    key = jax.random.PRNGKey(3)
    for steps in (15, 100):  # at 15 most random CartPole episodes are unfinished, at 100 all have ended
        state = kernel.reset(env, key)
        end_b, batch = jax.jit(lambda s: kernel.rollout(env, policy, None, s, key, steps))(state)
        end_f, (ret, length) = jax.jit(lambda s: kernel.rollout(env, policy, None, s, key, steps,
                                                                 fold=kernel.FIRST_EPISODE))(state)
        want_ret, want_len = kernel.first_episode(batch)
        np.testing.assert_array_equal(ret, want_ret)
        np.testing.assert_array_equal(length, want_len)
        assert length.dtype == want_len.dtype
        jax.tree.map(np.testing.assert_array_equal, end_f, end_b)
    assert int(want_len.max()) < 100  # every episode ended within the window (this key)
    states = jax.vmap(lambda k: kernel.reset(env, k))(jax.random.split(key, 3))
    _, pop_batch = kernel.population_rollout(env, policy, jnp.zeros(3), states, key, 40)
    _, (pop_ret, pop_len) = kernel.population_rollout(env, policy, jnp.zeros(3), states, key, 40,
                                                      fold=kernel.FIRST_EPISODE)
    np.testing.assert_array_equal(pop_ret, kernel.first_episode(pop_batch)[0])
    np.testing.assert_array_equal(pop_len, kernel.first_episode(pop_batch)[1])
    assert pop_ret.shape == (3, 8)


def test_context_policy_sees_step_index_and_env_state():
    env = wrapped(limit=10)

    def policy(params, obs, key, ctx):
        return jnp.zeros(obs.shape[0], jnp.int32), {"t": jnp.broadcast_to(ctx.t, obs.shape[:1]),
                                                     "state_len": ctx.env_state.episode_length}

    state = kernel.reset(env, jax.random.PRNGKey(0))
    _, tr = kernel.rollout(env, policy, None, state, jax.random.PRNGKey(1), 4, context=True)
    np.testing.assert_array_equal(tr.extras["t"][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(tr.extras["state_len"][:, 0], [0, 1, 2, 3])  # the state before each step


def test_population_rollout_with_per_member_keys():
    env = VecEnv(AutoReset(EpisodeStatistics(CountingEnv())), 1)
    states = jax.vmap(lambda k: kernel.reset(env, k))(jax.random.split(jax.random.PRNGKey(0), 3))
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    sample = lambda params, obs, key: (jax.random.randint(key, obs.shape[:1], 0, 2), {})
    _, whole = kernel.population_rollout(env, sample, jnp.zeros(3), states, keys, 5)
    # member 2 alone with its own key gives the same actions: randomness follows the key, not the position
    one = jax.tree.map(lambda x: x[2:], states)
    _, alone = kernel.population_rollout(env, sample, jnp.zeros(1), one, keys[2:], 5)
    np.testing.assert_array_equal(whole.action[2], alone.action[0])


class _KeyEcho(CountingEnv):
    """Reports the key its step was given as the reward (its first word), to check how VecEnv hands keys out."""

    def step(self, key, state, action):
        res = super().step(key, state, action)
        return res._replace(reward=key[0].astype(jnp.float32))  # a raw uint32 key (jax.random.PRNGKey)


def test_vec_env_keys_one_env_gets_the_step_key_and_several_get_distinct_ones():
    key = jax.random.PRNGKey(3)
    one = VecEnv(_KeyEcho(), 1)
    _, state = one.reset(key)
    res = one.step(key, state, jnp.zeros(1, jnp.int32))
    assert float(res.reward[0]) == float(key[0].astype(jnp.float32))  # no split(key, 1): one hash per step less
    many = VecEnv(_KeyEcho(), 4)
    _, state = many.reset(key)
    words = np.asarray(many.step(key, state, jnp.zeros(4, jnp.int32)).reward)
    assert len(set(words.tolist())) == 4 and float(key[0].astype(jnp.float32)) not in words.tolist()  # as rounded


def _random_rollout(env, key, steps):
    n = env.action_space.n

    def policy(params, obs, k):
        return jax.random.randint(k, (obs.shape[0],), 0, n), {}

    def run_it(k):
        return kernel.rollout(env, policy, None, kernel.reset(env, k), k, steps)

    return run_it


def test_skip_idle_resets_gives_the_same_rollout_and_skips_on_the_cpu():
    """With skip_idle_resets a CPU step where no env finished skips the reset work (a conditional in the
    compiled program); the transitions, final observations and episode statistics are bit for bit those
    of resetting at every step, on steps where some envs finish and on steps where none does, and under a
    vmap that shares the reset's key (where JAX computes both branches)."""
    key = jax.random.PRNGKey(7)
    out, programs = {}, {}
    for skip in (False, True):
        env = make("gymnax/CartPole-v1", num_envs=3, skip_idle_resets=skip)
        f = jax.jit(_random_rollout(env, key, 120))
        programs[skip] = f.lower(key).compile().as_text()
        out[skip] = f(key)
        shared = jax.jit(jax.vmap(_random_rollout(env, key, 40), in_axes=None, axis_size=2))
        out[skip, "vmap"] = shared(key)
    for a, b in ((out[False], out[True]), (out[False, "vmap"], out[True, "vmap"])):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(x, y)
    done_any = np.asarray(out[True][1].done).any(axis=1)
    assert done_any.any() and not done_any.all()  # both branches of the skip were taken
    if jax.default_backend() == "cpu":
        assert "conditional(" in programs[True] and "conditional(" not in programs[False]
