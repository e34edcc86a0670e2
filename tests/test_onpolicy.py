"""A2C, A3C-style asynchronous updates, PPO-Penalty and PPO-Clip's asymmetric clip / KL early stop."""
import dataclasses

import jax
import numpy as np
import pytest

from jaxrl.agents.a2c import A3CConfig
from jaxrl.config import ConfigError, load_config
from jaxrl.core import rollout as kernel
from jaxrl.core.train import make_train, setup
from jaxrl.experiment import train_and_save

SMALL = ["total_env_steps=8000", "algo.num_envs=4", "algo.rollout_length=5", "algo.n_steps=3"]


def a3c_like(a2c_config, **a3c_fields):
    """The A3C config with exactly the A2C config's fields (presets differ, so build it from them)."""
    fields = {f.name: getattr(a2c_config.algo_config, f.name) for f in dataclasses.fields(a2c_config.algo_config)}
    return dataclasses.replace(a2c_config, algo="a3c", algo_config=A3CConfig(**fields, **a3c_fields))


@pytest.mark.xdist_group("a3c")
@pytest.mark.parametrize("env, exact", [("gymnax/CartPole-v1", True), ("gymnax/Pendulum-v1", False)])
def test_a3c_with_one_worker_and_no_staleness_is_a2c(env, exact):
    # 400 iterations when the runs must agree bit for bit; 10 where rounding differences may appear
    # (they grow chaotically over a long run)
    a2c = load_config(["algo=a2c", f"env={env}"] + SMALL + ([] if exact else ["total_env_steps=200"]))
    a3c = a3c_like(a2c, num_workers=1, refresh_every=1)
    key = jax.random.PRNGKey(3)
    p2 = jax.jit(make_train(a2c))(key).agent_state.params
    out3 = jax.jit(make_train(a3c))(key)
    p3 = out3.agent_state.train.params
    assert float(out3.metrics["staleness"].max()) == 0.0
    for x, y in zip(jax.tree.leaves(p2), jax.tree.leaves(p3)):
        if exact:  # the same computation, bit for bit
            np.testing.assert_array_equal(x, y)
        else:  # the same computation; XLA fuses the two programs differently, so float32 rounding may differ
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-5)


@pytest.mark.xdist_group("a3c")
def test_a3c_staleness_is_explicit_and_configurable():
    base = load_config(["algo=a2c"] + SMALL)
    for workers, refresh_every, expected in ((4, 1, 3.0), (4, 2, 5.0), (2, 1, 1.0)):
        out = jax.jit(make_train(a3c_like(base, num_workers=workers, refresh_every=refresh_every)))(
            jax.random.PRNGKey(0))
        staleness = np.asarray(out.metrics["staleness"])
        # K workers pushing in turn, refreshing after every r-th own push: the gradient of a worker is
        # computed at parameters K-1 (r=1) or on average (r+1)/2*K - 1 global updates old, after warm-up
        assert staleness[0] < expected  # the first round starts from the shared initial parameters
        assert staleness[4:].mean() == pytest.approx(expected), (workers, refresh_every, staleness[:8])


@pytest.mark.xdist_group("a3c")
def test_a2c_shared_torso_has_one_torso_and_trains():
    config = load_config(["algo=a2c", "algo.shared_torso=true", "algo.optimizer=adam"] + SMALL)
    out = jax.jit(make_train(config))(jax.random.PRNGKey(0))
    modules = set(out.agent_state.params["params"])
    assert "actor" in modules and "critic" not in modules  # the critic reads the actor's torso
    assert np.isfinite(np.asarray(out.metrics["value_loss"])).all()


def test_a3c_and_ppo_options_are_validated():
    with pytest.raises(ConfigError, match=r"algo\.num_workers=3 must .* divide algo\.num_envs=16"):
        load_config(["algo=a3c", "algo.num_workers=3"])
    with pytest.raises(ConfigError, match=r"algo\.optimizer='sgdd'"):
        load_config(["algo=a2c", "algo.optimizer=sgdd"])
    with pytest.raises(ConfigError, match=r"algo\.target_kl must be > 0"):
        load_config(["algo=ppo", "algo.target_kl=0"])
    with pytest.raises(ConfigError, match=r"algo\.n_steps must be >= 1"):
        load_config(["algo=a2c", "algo.n_steps=0"])


def ppo_update(overrides, key=0):
    config = load_config(["env=gymnax/CartPole-v1", "algo.num_envs=8", "algo.rollout_length=64",
                          "algo.num_epochs=8", "algo.num_minibatches=4"] + overrides)
    env, agent, _, _ = setup(config)
    hp = config.algo_config.hparams()
    k = jax.random.PRNGKey(key)
    state = agent.init(k, hp)
    _, batch = kernel.rollout(env, agent.policy, agent.params(state), kernel.reset(env, k), k, 64)
    return jax.jit(agent.update)(state, batch, k, hp)


@pytest.mark.xdist_group("ppo-options")
def test_ppo_kl_early_stop_skips_steps_once_kl_exceeds_target():
    _, free = ppo_update(["algo.lr=1e-2"])
    _, stopped = ppo_update(["algo.lr=1e-2", "algo.target_kl=0.002"])
    assert float(free["approx_kl"]) > 0.002  # without the stop the policy moves further
    assert 0.0 < float(stopped["skipped_steps"]) < 1.0  # some steps ran, the rest were skipped
    assert float(stopped["approx_kl"]) < float(free["approx_kl"])


@pytest.mark.xdist_group("ppo-options")
def test_ppo_asymmetric_clip_changes_the_update():
    state_sym, m_sym = ppo_update(["algo.lr=1e-2", "algo.clip_eps=0.1"])
    state_asym, m_asym = ppo_update(["algo.lr=1e-2", "algo.clip_eps=0.1", "algo.clip_eps_high=0.3"])
    diff = max(float(np.abs(x - y).max()) for x, y in zip(jax.tree.leaves(state_sym.params),
                                                           jax.tree.leaves(state_asym.params)))
    assert diff > 1e-4


@pytest.mark.xdist_group("ppo-options")
def test_ppo_penalty_adapts_its_coefficient():
    state, metrics = ppo_update(["algo=ppo_penalty", "algo.lr=1e-2", "algo.kl_target=1e-4",
                                 "algo.init_kl_coef=1.0"])
    assert float(metrics["kl"]) > 1.5e-4 and float(state.kl_coef) == 2.0  # KL above target: β doubles
    state, metrics = ppo_update(["algo=ppo_penalty", "algo.lr=1e-5", "algo.kl_target=0.5",
                                 "algo.init_kl_coef=1.0"])
    assert float(metrics["kl"]) < 0.5 / 1.5 and float(state.kl_coef) == 0.5  # below: β halves


@pytest.mark.xdist_group("ppo-options")
def test_ppo_update_layouts_update_alike_and_auto_picks_the_pytree_loop_on_cpu():
    # the minibatch loop carrying the parameters as one vector (fewest kernels, for a GPU) and carrying the
    # pytree (faster on a 2-core CPU) must give every parameter and metric alike; `auto` lowers one of them
    # per platform (lax.platform_dependent), so on the CPU it is the pytree loop's program, bit for bit
    vec_state, vec_metrics = ppo_update(["algo.lr=1e-2", "algo.update_layout=vector"])
    tree_state, tree_metrics = ppo_update(["algo.lr=1e-2", "algo.update_layout=pytree"])
    auto_state, auto_metrics = ppo_update(["algo.lr=1e-2"])
    assert jax.tree.structure(vec_state) == jax.tree.structure(tree_state) == jax.tree.structure(auto_state)
    assert jax.tree.structure(vec_metrics) == jax.tree.structure(tree_metrics)
    for a, b in zip(jax.tree.leaves((vec_state, vec_metrics)), jax.tree.leaves((tree_state, tree_metrics))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert float(vec_metrics["approx_kl"]) > 1e-4  # the policy did move
    if jax.default_backend() == "cpu":
        for a, b in zip(jax.tree.leaves((auto_state, auto_metrics)), jax.tree.leaves((tree_state, tree_metrics))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.xdist_group("ppo-options")
def test_optimizer_eps_reaches_the_optimiser_and_is_validated():
    default, _ = ppo_update(["algo.lr=1e-2"])
    small, _ = ppo_update(["algo.lr=1e-2", "algo.optimizer_eps=1e-8"])
    diff = max(float(np.abs(x - y).max()) for x, y in zip(jax.tree.leaves(default.params),
                                                           jax.tree.leaves(small.params)))
    assert diff > 1e-6  # Adam's denominator changed: some of the first steps' gradients are about 1e-5
    for algo in ("ppo", "dqn"):
        for bad in ("0", "-1e-8"):
            with pytest.raises(ConfigError, match=r"algo\.optimizer_eps must be a finite number > 0"):
                load_config([f"algo={algo}", f"algo.optimizer_eps={bad}"])


def learn(algo, env, out_dir, seeds=2):
    config = load_config([f"algo={algo}", f"env={env}", f"num_seeds={seeds}", "eval_episodes=4", "log_every=100"])
    return np.asarray(train_and_save(config, out_dir, verbose=False)["final_return_per_seed"], float)


@pytest.mark.xdist_group("learn-a2c")
@pytest.mark.parametrize("algo", ["a2c", "a3c", "ppo_penalty"])
def test_cartpole_reaches_475_over_2_seeds(algo, tmp_path):
    per_seed = learn(algo, "gymnax/CartPole-v1", tmp_path)
    assert per_seed.mean() >= 475, per_seed


@pytest.mark.xdist_group("learn-a2c")
def test_a2c_continuous_pendulum_reaches_minus_400_over_2_seeds(tmp_path):
    per_seed = learn("a2c", "gymnax/Pendulum-v1", tmp_path)
    assert per_seed.mean() >= -400, per_seed
