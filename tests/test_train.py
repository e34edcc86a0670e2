"""The driver: one jitted program, deterministic per key, vmappable over seeds and hyperparameters;
run directories, evaluation, checkpoints and failures."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import cli
from jaxrl.config import load_config
from jaxrl.core.checkpoint import CheckpointError
from jaxrl.core.train import make_train
from jaxrl.experiment import TrainingDiverged, evaluate_run, load_run, train_and_save

pytestmark = pytest.mark.xdist_group("train")

TINY = ["algo.num_envs=4", "algo.rollout_length=16", "algo.num_minibatches=2", "algo.num_epochs=1",
        "total_env_steps=192", "eval_episodes=2", "algo.hidden_sizes=16,16"]


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.fixture(scope="module")
def tiny():
    config = load_config(TINY)
    train = make_train(config)
    return config, train, jax.jit(jax.vmap(train)), jax.jit(train)


def test_same_key_is_bit_identical_and_seeds_differ(tiny):
    _, _, train_many, _ = tiny
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    a = train_many(keys).agent_state.params
    b = train_many(keys).agent_state.params
    assert leaves_equal(a, b)
    first = jax.tree.leaves(a)[0]
    assert not np.array_equal(first[0], first[1])


def test_vmap_over_seeds_matches_single_runs(tiny):
    _, _, train_many, train_one = tiny
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    many = train_many(keys)
    for i in (0, 3):
        one = train_one(keys[i])
        for x, y in zip(jax.tree.leaves(one.agent_state.params), jax.tree.leaves(many.agent_state.params)):
            np.testing.assert_allclose(x, y[i], rtol=1e-4, atol=1e-5)
    assert many.metrics["policy_loss"].shape == (4, 3)


def test_sweep_over_hyperparameters_in_one_call(tiny):
    config, train, _, _ = tiny
    hp = config.algo_config.hparams()
    lrs = jnp.asarray([0.0, 1e-2])
    sweep = jax.tree.map(lambda x: jnp.broadcast_to(x, (2,)), hp) | {"lr": lrs}
    key = jax.random.PRNGKey(0)
    out = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key, sweep)
    start = jax.tree.leaves(out.agent_state.params)
    # lr=0 leaves the parameters at their (shared) initial values; lr=1e-2 moves them
    init = make_agent_init(config, key)
    for x, x0 in zip(start, jax.tree.leaves(init)):
        np.testing.assert_allclose(x[0], x0, atol=1e-6)  # batched vs unbatched init: rounding only
    assert max(float(np.abs(x[1] - x0).max()) for x, x0 in zip(start, jax.tree.leaves(init))) > 1e-3


def make_agent_init(config, key):
    from jaxrl.core.train import setup

    agent = setup(config).agent
    init_key = jax.random.split(key, 3)[0]
    return agent.init(init_key, config.algo_config.hparams()).params


def test_run_directory_eval_and_checkpoint(tmp_path, capsys, monkeypatch):
    # XLA reads XLA_FLAGS only when JAX starts, so a flag set now changes nothing but what the run records
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    config = load_config(TINY + ["num_seeds=2", "log_every=2"])
    summary = train_and_save(config, tmp_path / "run", verbose=True)
    out = capsys.readouterr().out
    assert "env_steps" in out and "run directory" in out
    assert "XLA_FLAGS --xla_cpu_enable_fast_math=false; compiling" in out
    assert summary["xla_flags"] == "--xla_cpu_enable_fast_math=false"
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.csv", "summary.json", "curve.png", "checkpoints/checkpoint.msgpack"):
        assert (run / name).exists(), name
    saved = json.loads((run / "summary.json").read_text())
    for key in ("algo", "env", "num_seeds", "env_steps", "final_return_mean", "final_return_per_seed",
                "wall_seconds", "compile_seconds", "steps_per_second", "device"):
        assert key in saved, key
    assert saved == json.loads(json.dumps(summary))
    assert len(saved["final_return_per_seed"]) == 2
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    for col in ("seed", "env_steps", "episode_return", "episode_length", "policy_loss", "steps_per_second"):
        assert col in header
    seeds = {r.split(",")[0] for r in rows[1:]}
    assert seeds == {"0", "1"}  # one row per logged iteration and seed
    assert len(rows) - 1 == 2 * 2  # iterations 0 and 2 (the last) for each seed

    # the checkpoint restores the trained parameters exactly
    _, _, agent_state, _ = load_run(run)
    assert jax.tree.leaves(agent_state)[0].shape[0] == 2
    result = evaluate_run(run, episodes=3)
    assert len(result["mean_return_per_seed"]) == 2 and result["mean_return"] > 0
    assert cli.main(["eval", str(run), "--episodes", "2"]) == 0
    assert '"mean_return"' in capsys.readouterr().out

    # a corrupt checkpoint is reported as such, naming the file
    ckpt = run / "checkpoints" / "checkpoint.msgpack"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(run)
    assert cli.main(["eval", str(run)]) == 1
    assert "corrupt" in capsys.readouterr().err
    ckpt.write_bytes(bytes(data[:100]))
    (run / "checkpoints" / "checkpoint.json").unlink()
    with pytest.raises(CheckpointError, match="cannot be restored"):
        load_run(run)


def test_a_checkpoint_of_another_layout_is_refused_by_name(tmp_path):
    """flax restores by keys and would leave a per-layer optimiser state (jaxrl before its optimiser was
    flattened) where one vector belongs, or an array of another shape: both are refused, naming the place."""
    from jaxrl.core import checkpoint
    from jaxrl.core.optim import make_optimizer, per_leaf_chain

    params = {"dense": {"kernel": jnp.ones((4, 3)), "bias": jnp.zeros(3)}, "log_std": jnp.ones(2)}
    per_leaf = per_leaf_chain(1e-3, 0.5)
    checkpoint.save(tmp_path, {"params": params, "opt": per_leaf.init(params)})
    with pytest.raises(CheckpointError, match=r"does not fit.*first differing at \['opt'\]"):
        checkpoint.load(tmp_path, {"params": params, "opt": make_optimizer(1e-3, 0.5).init(params)})
    wider = dict(params, log_std=jnp.ones(3))
    with pytest.raises(CheckpointError, match=r"\['params'\]\['log_std'\] is float32\[2\] in the checkpoint, "
                                              r"float32\[3\] expected"):
        checkpoint.load(tmp_path, {"params": wider, "opt": per_leaf.init(params)})
    restored = checkpoint.load(tmp_path, {"params": params, "opt": per_leaf.init(params)})
    assert jax.tree.structure(restored) == jax.tree.structure({"params": params, "opt": per_leaf.init(params)})


def test_nan_in_training_is_reported_and_outputs_kept(tmp_path):
    config = load_config(TINY + ["algo.reward_scale=nan", "eval_episodes=0"])
    with pytest.raises(TrainingDiverged, match="NaN"):
        train_and_save(config, tmp_path / "nan", verbose=False)
    assert (tmp_path / "nan" / "metrics.csv").exists()
    assert json.loads((tmp_path / "nan" / "summary.json").read_text())["diverged"] is True


def test_one_seed_runs_unbatched_with_the_same_values(tiny):
    # make_train_many runs one seed's loop without a seed axis instead of vmapping over a size-1 axis: the
    # program then has no batch dimension of 1 on every op, and must give what the per-seed program gives
    from jaxrl.core.train import make_train_many

    config, _, _, train_one = tiny
    key = jax.random.PRNGKey(5)
    one = make_train_many(config)
    out = jax.jit(one)(key[None])
    ref = train_one(key)
    for x, y in zip(jax.tree.leaves(ref), jax.tree.leaves(out)):
        assert y.shape == (1,) + x.shape
        np.testing.assert_allclose(y[0], x, rtol=1e-5, atol=1e-6)
    # no batched matmul (a dot_general with batch dimensions) beyond the per-seed program's own (the
    # initialisation's batched Gram-Schmidt over kernels); the vmapped program batches every matmul
    batched = lambda f: str(jax.make_jaxpr(f)(key[None])).count("([0], [0]))")
    per_seed = make_train(config)
    assert batched(one) == batched(lambda k: per_seed(k[0])) < batched(jax.vmap(per_seed))
    # a one-point sweep (hyperparameters with a seed axis of 1) takes the same path
    hp = jax.tree.map(lambda x: jnp.asarray(x)[None], config.algo_config.hparams())
    swept = jax.jit(one)(key[None], hp)
    for x, y in zip(jax.tree.leaves(ref.agent_state), jax.tree.leaves(swept.agent_state)):
        np.testing.assert_allclose(y[0], x, rtol=1e-5, atol=1e-6)


def test_observation_statistics_once_per_rollout_take_in_every_observation():
    # algo.normalize_obs_update=rollout: the statistics change once per rollout; at the end of training they
    # have taken in every observation (the reset's and each step's), as the per-step statistics have
    from jaxrl.core.train import obs_stats_of

    config = load_config(TINY + ["algo.normalize_obs=true", "algo.normalize_obs_update=rollout"])
    algo = config.algo_config
    out = jax.jit(make_train(config, keep_rollout_state=True))(jax.random.PRNGKey(3))
    steps = config.total_env_steps // (algo.num_envs * algo.rollout_length) * algo.rollout_length
    state = obs_stats_of(out.rollout_state)
    np.testing.assert_allclose(state.count, (steps + 1) * algo.num_envs + 1e-4, rtol=1e-6)
    from jaxrl.envs.wrappers import NormalizeState, find_wrapper_state

    assert int(find_wrapper_state(out.rollout_state.env_state, NormalizeState).steps) == steps
    assert bool(jnp.all(jnp.isfinite(out.metrics["policy_loss"])))


def test_final_env_states_are_returned_only_on_request():
    # by default the output holds no env state (so XLA can drop work on env-state fields nothing reads);
    # the observation statistics come back either way, and training is the same
    from jaxrl.core.rollout import RolloutState
    from jaxrl.core.running_stats import RunningStats
    from jaxrl.core.train import obs_stats_of

    config = load_config(TINY + ["algo.normalize_obs=true"])
    key = jax.random.PRNGKey(2)
    slim = jax.jit(make_train(config))(key)
    full = jax.jit(make_train(config, keep_rollout_state=True))(key)
    assert slim.rollout_state is None and isinstance(full.rollout_state, RolloutState)
    assert isinstance(slim.obs_stats, RunningStats)
    assert leaves_equal(full.obs_stats, obs_stats_of(full.rollout_state))
    for a, b in [(slim.agent_state, full.agent_state), (slim.obs_stats, full.obs_stats), (slim.metrics, full.metrics)]:
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # what is returned is structure: traced output shapes (jax.eval_shape), without three more compiles
    assert jax.eval_shape(make_train(load_config(TINY)), key).obs_stats is None  # no normalisation, no statistics
    from jaxrl.core.train import make_train_many

    many = jax.eval_shape(make_train_many(config, keep_rollout_state=True), key[None])
    assert many.rollout_state.obs.shape == (1,) + full.rollout_state.obs.shape
    assert jax.eval_shape(make_train_many(config), key[None]).rollout_state is None
