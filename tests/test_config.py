"""Config errors are raised before compilation and name the key."""
import dataclasses
import os

import pytest

from jaxrl import cli
from jaxrl.config import ConfigError, from_yaml_file, load_config, to_yaml


@pytest.mark.parametrize("overrides, message", [
    (["algo.lrr=1e-3"], r"algo\.lrr.*did you mean lr"),
    (["num_seed=2"], r"num_seed.*did you mean num_seeds"),
    (["num_seeds=abc"], r"num_seeds: expected int"),
    (["algo.lr=fast"], r"algo\.lr: expected float"),
    (["algo.anneal_lr=maybe"], r"algo\.anneal_lr: expected bool"),
    (["algo.num_envs=0"], r"algo\.num_envs must be >= 1"),
    (["algo.num_minibatches=7"], r"num_minibatches=7 does not divide"),
    (["algo.distribution=gaussian"], r"gaussian.*discrete"),
    (["env=gymnax/Pendulum-v1", "algo.distribution=categorical"], r"categorical.*continuous"),
    (["algo.update_layout=flat"], r"algo\.update_layout='flat'; allowed: \['auto', 'vector', 'pytree'\]"),
    (["algo.normalize_obs_update=batch"], r"algo\.normalize_obs_update='batch'; allowed: \['step', 'rollout'\]"),
    (["algo.normalize_obs_update=rollout"], r"algo\.normalize_obs is false: set algo\.normalize_obs=true too"),
    (["algo=dqnn"], r"algo='dqnn' is unknown"),
    (["env=gymnax/CartPol-v1"], r"unknown env id.*gymnax/CartPole-v1"),
    (["total_env_steps=100"], r"less than one iteration"),
    (["seed"], r"not of the form key=value"),
])
def test_bad_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)


def test_overrides_types_and_presets():
    config = load_config(["env=gymnax/Pendulum-v1", "algo.lr=3e-4", "num_seeds=4", "algo.hidden_sizes=32,32",
                          "seed=7"])
    assert config.algo_config.lr == pytest.approx(3e-4)
    assert config.algo_config.hidden_sizes == (32, 32)
    assert config.algo_config.normalize_obs is True  # from configs/presets/ppo/gymnax-Pendulum-v1.yaml
    assert config.num_seeds == 4 and config.seed == 7


def test_env_family_defaults_merge_with_overrides():
    # configs/env/brax.yaml (family) < configs/env/brax-inverted_pendulum.yaml < preset < overrides, key by key
    config = load_config(["env=brax/inverted_pendulum", "env_kwargs.episode_length=200"])
    assert config.env_kwargs == {"episode_length": 200}
    assert config.total_env_steps == 300_000  # the ppo preset beats configs/env/brax-inverted_pendulum.yaml (1M)
    config = load_config(["env=brax/inverted_pendulum", "env_kwargs.backend=generalized"])
    assert config.env_kwargs == {"backend": "generalized", "episode_length": 1000}
    assert load_config(["env=gymnax/CartPole-v1"]).env_kwargs == {}


def test_resolved_config_round_trips(tmp_path):
    config = load_config(["algo.lr=1e-3", "num_seeds=3", "env_kwargs={}"])
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(config))
    assert from_yaml_file(path) == config


def test_hparams_are_the_numeric_fields():
    config = load_config([])
    hp = config.algo_config.hparams()
    assert set(hp) == set(config.algo_config.HPARAMS)
    assert "num_envs" not in hp and "lr" in hp
    assert dataclasses.is_dataclass(config.algo_config)


def test_cli_reports_config_errors_before_compiling(capsys, monkeypatch):
    import jaxrl.experiment

    def never(*a, **k):
        raise AssertionError("training must not start on a bad config")

    monkeypatch.setattr(jaxrl.experiment, "train_and_save", never)
    assert cli.main(["train", "algo.lrr=1"]) == 2
    assert "algo.lrr" in capsys.readouterr().err
    assert cli.main(["train", "env=gymnax/Cartpole-v1"]) == 2
    assert "gymnax/CartPole-v1" in capsys.readouterr().err


def test_cli_config_prints_resolved_yaml(capsys):
    assert cli.main(["config", "algo.lr=0.01"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.01" in out and "env: gymnax/CartPole-v1" in out


ZEN5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nflags\t\t: fpu sse2 avx2 avx512f avx512vl\n"


def test_xla_cpu_tuning_widens_vectors_only_where_measured_and_never_over_the_users_flags(tmp_path, monkeypatch):
    from jaxrl.xla_tuning import VECTOR_WIDTH_FLAG, apply_cpu_tuning, tuned_xla_flags

    assert tuned_xla_flags("", ZEN5) == VECTOR_WIDTH_FLAG
    assert tuned_xla_flags("--xla_dump_to=/tmp/x", ZEN5) == f"--xla_dump_to=/tmp/x {VECTOR_WIDTH_FLAG}"
    assert tuned_xla_flags("--xla_cpu_prefer_vector_width=256", ZEN5) == "--xla_cpu_prefer_vector_width=256"
    for other in (ZEN5.replace("AuthenticAMD", "GenuineIntel"),  # older Intel cores clock down on 512 bits
                  ZEN5.replace("26", "25"),  # Zen 3 and Zen 4: not measured
                  ZEN5.replace(" avx512f", ""), "", None):
        assert tuned_xla_flags("", other) == ""
    info = tmp_path / "cpuinfo"
    info.write_text(ZEN5)
    import jax

    from jaxrl import xla_tuning

    jax.devices()
    assert apply_cpu_tuning({}, str(info)) == ""  # this process's JAX has read XLA_FLAGS already: too late
    monkeypatch.setattr(xla_tuning, "_jax_started", lambda: False)  # as in a fresh `jaxrl` process
    environ = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    assert apply_cpu_tuning(environ, str(info)) == VECTOR_WIDTH_FLAG
    assert environ["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {VECTOR_WIDTH_FLAG}"
    assert apply_cpu_tuning(environ, str(info)) == "" and environ["XLA_FLAGS"].count(VECTOR_WIDTH_FLAG) == 1
    for environ in ({"JAXRL_XLA_CPU_TUNING": "0"}, {}):
        path = str(info) if environ else str(tmp_path / "missing")
        assert apply_cpu_tuning(environ, path) == "" and "XLA_FLAGS" not in environ


def test_cli_applies_the_xla_cpu_tuning_and_the_test_suite_runs_without_it(monkeypatch, capsys):
    from jaxrl import xla_tuning

    assert os.environ["JAXRL_XLA_CPU_TUNING"] == "0"  # tests/conftest.py: XLA's defaults in every test
    calls = []
    monkeypatch.setattr(xla_tuning, "apply_cpu_tuning", lambda: calls.append(1))
    assert cli.main(["help"]) == 0 and calls == [1]


def test_cli_makes_openblas_single_threaded_unless_the_user_chose(monkeypatch, capsys):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert cli.main(["help"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert cli.main(["help"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
