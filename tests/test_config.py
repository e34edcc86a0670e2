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


def test_cli_makes_openblas_single_threaded_unless_the_user_chose(monkeypatch, capsys):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert cli.main(["help"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert cli.main(["help"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
