"""The off-policy family: replay, target updates, exploration, DQN and SAC on probe environments,
their contracts (jit, vmap over seeds, determinism, errors, checkpoints) and learning."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.dqn import DQNConfig
from jaxrl.agents.dqn import make_agent as make_dqn
from jaxrl.agents.sac import SACConfig
from jaxrl.agents.sac import make_agent as make_sac
from jaxrl.config import ConfigError, load_config
from jaxrl.core import replay
from jaxrl.core import rollout as kernel
from jaxrl.core.exploration import epsilon_greedy, linear_schedule
from jaxrl.core.networks import CriticEnsemble, QNetwork
from jaxrl.core.optim import periodic_polyak, polyak
from jaxrl.core.train import make_train, make_train_many
from jaxrl.envs import AutoReset, EpisodeStatistics, VecEnv
from jaxrl.experiment import evaluate_run, train_and_save
from probe_envs import ConstantRewardEnv, CountingEnv, RewardByActionEnv


def test_replay_ring_buffer_wraps_and_samples_only_what_is_stored():
    buf = replay.init({"x": jnp.zeros((2,)), "a": jnp.int32(0)}, capacity=5)
    buf = replay.add(buf, {"x": jnp.ones((3, 2)), "a": jnp.arange(3)})
    assert int(buf.size) == 3 and int(buf.index) == 3
    drawn = replay.sample(buf, jax.random.PRNGKey(0), 200)["a"]
    assert set(np.unique(drawn)) == {0, 1, 2}  # never the empty slots
    buf = replay.add(buf, {"x": jnp.ones((4, 2)), "a": jnp.arange(10, 14)})
    assert int(buf.size) == 5 and int(buf.index) == 2
    np.testing.assert_array_equal(buf.data["a"], [12, 13, 2, 10, 11])  # the two oldest overwritten
    with pytest.raises(ValueError, match="capacity 5"):
        replay.add(buf, {"x": jnp.ones((6, 2)), "a": jnp.arange(6)})


def test_replay_items_keep_the_final_observation_of_truncated_episodes():
    env = VecEnv(AutoReset(EpisodeStatistics(CountingEnv(limit=3))), 2)
    key = jax.random.PRNGKey(0)
    policy = kernel.random_policy(env.action_space)
    _, batch = kernel.rollout(env, policy, None, kernel.reset(env, key), key, 4)
    items = replay.from_rollout(batch)
    assert items["obs"].shape == (8, 1)
    # step t=2 of each env ends the episode by truncation: next_obs is the final [3], not the reset [0]
    np.testing.assert_array_equal(items["next_obs"][4:6, 0], [3.0, 3.0])
    np.testing.assert_array_equal(items["terminated"], np.zeros(8))


def test_target_updates_and_exploration_by_hand():
    target, online = {"w": jnp.array([0.0, 4.0])}, {"w": jnp.array([2.0, 0.0])}
    np.testing.assert_allclose(polyak(target, online, 0.25)["w"], [0.5, 3.0])
    np.testing.assert_allclose(periodic_polyak(target, online, 1.0, jnp.int32(3), 4)["w"], [0.0, 4.0])
    np.testing.assert_allclose(periodic_polyak(target, online, 1.0, jnp.int32(8), 4)["w"], [2.0, 0.0])
    assert float(linear_schedule(1.0, 0.1, 100.0, 50)) == pytest.approx(0.55)
    assert float(linear_schedule(1.0, 0.1, 100.0, 500)) == pytest.approx(0.1)
    q = jnp.tile(jnp.array([0.0, 1.0, 0.0]), (4000, 1))
    np.testing.assert_array_equal(epsilon_greedy(jax.random.PRNGKey(0), q, 0.0), 1)
    counts = np.bincount(np.asarray(epsilon_greedy(jax.random.PRNGKey(1), q, 1.0)), minlength=3)
    assert counts.min() > 1200  # uniform when ε = 1


def train_probe(make_agent, config, base_env, iterations, seed=0):
    """The jaxrl loop (kernel rollout, then update) on a probe env; returns (agent, env, final state)."""
    env = VecEnv(AutoReset(EpisodeStatistics(base_env)), config.num_envs)
    agent = make_agent(config, env, iterations)
    hp = config.hparams()

    def body(carry, _):
        state, rollout_state, key = carry
        key, rollout_key, update_key = jax.random.split(key, 3)
        rollout_state, batch = kernel.rollout(env, agent.policy, agent.params(state), rollout_state,
                                              rollout_key, config.rollout_length)
        state, _ = agent.update(state, batch, update_key, hp)
        return (state, rollout_state, key), None

    @jax.jit
    def run(key):
        init_key, reset_key, loop_key = jax.random.split(key, 3)
        carry = (agent.init(init_key, hp), kernel.reset(env, reset_key), loop_key)
        return jax.lax.scan(body, carry, None, iterations)[0][0]

    return agent, env, run(jax.random.PRNGKey(seed))


PROBE = dict(num_envs=4, batch_size=64, buffer_size=2000, learning_starts=64, hidden_sizes=(32, 32))


@pytest.mark.xdist_group("offpolicy-probe")
@pytest.mark.parametrize("terminate, expected", [(False, 2.0), (True, 1.5)])
def test_dqn_bootstraps_through_truncation_but_not_termination(terminate, expected):
    # γ = 0.5, reward 1 forever from one observation: Q = 2 when the time limit is bootstrapped through;
    # when every 3rd step is terminal instead, Q = 1 + 0.5 * (2/3) Q = 1.5
    config = DQNConfig(**PROBE, gamma=0.5, lr=3e-3, target_update_interval=20)
    _, _, state = train_probe(make_dqn, config, ConstantRewardEnv(3, terminate), 600)
    q = QNetwork(2, config.hidden_sizes, config.activation).apply(state.learner.params, jnp.ones((1, 1)))
    np.testing.assert_allclose(q[0], [expected, expected], atol=0.1)


@pytest.mark.xdist_group("offpolicy-probe")
def test_dqn_and_sac_find_the_rewarded_action():
    for dueling in (False, True):
        config = DQNConfig(**PROBE, lr=3e-3, exploration_fraction=0.3, dueling=dueling)
        agent, env, state = train_probe(make_dqn, config, RewardByActionEnv(), 400)
        action, _ = agent.greedy_policy(agent.params(state), jnp.ones((4, 1)), jax.random.PRNGKey(0))
        np.testing.assert_array_equal(action, 1)
        q = QNetwork(2, config.hidden_sizes, config.activation, dueling=dueling).apply(
            state.learner.params, jnp.ones((1, 1)))
        np.testing.assert_allclose(q[0], [0.0, 1.0], atol=0.1)  # one-step episodes: Q(s, a) = r(a)
    config = SACConfig(**PROBE, lr=3e-3)
    agent, env, state = train_probe(make_sac, config, RewardByActionEnv(continuous=True, target=0.5), 400)
    action, _ = agent.greedy_policy(agent.params(state), jnp.ones((4, 1)), jax.random.PRNGKey(0))
    np.testing.assert_allclose(action[:, 0], 0.5, atol=0.1)


@pytest.mark.xdist_group("offpolicy-probe")
def test_sac_soft_q_bootstraps_through_truncation():
    # α ≈ 0: the soft target is the plain one, Q = 1 / (1 - γ) = 2 for every action
    config = SACConfig(**PROBE, gamma=0.5, lr=3e-3, tau=0.05, autotune=False, init_alpha=1e-6)
    _, _, state = train_probe(make_sac, config, ConstantRewardEnv(3, continuous=True), 600)
    critic = CriticEnsemble(2, config.hidden_sizes, config.activation)
    q = critic.apply(state.learner.critic, jnp.ones((3, 1)), jnp.array([[-0.8], [0.0], [0.8]]))
    np.testing.assert_allclose(q, 2.0, atol=0.15)


SMALL = {"dqn": ["algo=dqn", "env=gymnax/CartPole-v1"],
         "sac": ["algo=sac", "env=gymnax/Pendulum-v1", "algo.hidden_sizes=[32,32]"]}
TINY = ["total_env_steps=600", "algo.learning_starts=200", "algo.batch_size=32", "algo.buffer_size=1000",
        "log_every=50"]


@pytest.mark.xdist_group("offpolicy-contract")
@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_train_jits_vmaps_over_seeds_and_is_deterministic(algo):
    config = load_config(SMALL[algo] + TINY + ["algo.learning_starts=560"])  # 41 gradient steps
    train = jax.jit(make_train(config))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    a, b = train(keys[0]), train(keys[0])
    for x, y in zip(jax.tree.leaves(a.agent_state), jax.tree.leaves(b.agent_state)):
        np.testing.assert_array_equal(x, y)
    many = jax.jit(jax.vmap(make_train(config)))(keys)
    first = jax.tree.map(lambda x: x[0], many.agent_state)
    # seed 0 of the vmapped run is the single run, up to float32 rounding that XLA's different fusion of
    # the batched program introduces and Adam steps amplify (mixed-up seeds differ by O(1))
    for x, y in zip(jax.tree.leaves(first.learner), jax.tree.leaves(a.agent_state.learner)):
        np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-4)
    weights = max(jax.tree.leaves(many.agent_state.learner), key=np.size)
    assert not np.allclose(weights[0], weights[1])  # two seeds, two different runs
    assert int(many.agent_state.env_steps[1]) == 600
    # nothing is learned before learning_starts env steps are stored; then one step per iteration
    updates = np.asarray(a.agent_state.learner.updates)
    per_iteration = config.algo_config.steps_per_iteration()
    assert updates == 600 // per_iteration - 560 // per_iteration + 1


@pytest.mark.xdist_group("offpolicy-contract")
@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_run_directory_checkpoint_and_evaluation(algo, tmp_path):
    config = load_config(SMALL[algo] + TINY + ["num_seeds=2", "eval_episodes=2"])
    summary = train_and_save(config, tmp_path, verbose=False)
    assert summary["env_steps"] == 600 and len(summary["eval_return_per_seed"]) == 2
    result = evaluate_run(tmp_path, episodes=2)
    assert np.isfinite(result["mean_return"])


def test_offpolicy_configs_are_validated():
    with pytest.raises(ConfigError, match=r"algo=dqn needs discrete actions.*Pendulum"):
        load_config(["algo=dqn", "env=gymnax/Pendulum-v1"])
    with pytest.raises(ConfigError, match=r"algo=sac needs continuous actions.*CartPole"):
        load_config(["algo=sac", "env=gymnax/CartPole-v1"])
    with pytest.raises(ConfigError, match=r"algo\.buffer_size=100 must hold"):
        load_config(["algo=dqn", "algo.buffer_size=100", "algo.batch_size=128"])
    with pytest.raises(ConfigError, match=r"algo\.loss='l1'"):
        load_config(["algo=dqn", "algo.loss=l1"])
    with pytest.raises(ConfigError, match=r"unknown config key 'algo\.num_epochs'"):
        load_config(["algo=sac", "env=gymnax/Pendulum-v1", "algo.num_epochs=4"])
    assert dataclasses.is_dataclass(load_config(["algo=sac", "env=gymnax/Pendulum-v1"]).algo_config)


@pytest.mark.xdist_group("offpolicy-contract")
def test_warm_up_stays_a_branch_when_seeds_are_vmapped():
    # make_train_many batches every seed's state, so a test on each seed's step count would become a select
    # that computes the warm-up's gradient steps and discards them; the loop index keeps lax.cond a branch.
    # Counted in the compiled program: the jaxpr also has the `lax.platform_dependent` conds of Dense layers'
    # derivative rule (networks.dense_matmul), which lowering resolves for the one platform compiled for.
    config = load_config(SMALL["dqn"] + TINY)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    assert jax.jit(make_train_many(config)).lower(keys).compile().as_text().count(" conditional(") == 1


def _copies_inside_loops(hlo: str, size: int) -> list[str]:
    """Lines of the optimised HLO, outside the entry computation, that copy an array with a `size` axis."""
    out, entry = [], False
    for line in hlo.splitlines():
        if line and not line[0].isspace():
            entry = line.startswith("ENTRY")
        elif not entry and " copy(" in line and f"[{size}" in line.split(" copy(")[0].replace("[1,", "["):
            out.append(line.strip())
    return out


class _NoLogger:
    def log(self, it, metrics):
        pass


@pytest.mark.xdist_group("offpolicy-contract")
@pytest.mark.parametrize("algo", ["dqn", "sac"])
@pytest.mark.parametrize("logger", [None, _NoLogger()], ids=["no-logger", "logger"])
def test_one_seed_loop_does_not_copy_the_replay_buffer(algo, logger):
    # One seed runs without a vmap (make_train_many); when each iteration took the seed axis off the carry and
    # put it back, XLA copied the whole replay buffer several times per iteration (SAC at half speed)
    config = load_config(SMALL[algo] + TINY + ["algo.buffer_size=1237"])
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    hlo = jax.jit(make_train_many(config, logger)).lower(keys).compile().as_text()
    assert "1237" in hlo  # the buffer is in the program
    assert _copies_inside_loops(hlo, 1237) == []
