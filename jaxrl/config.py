"""Configs: frozen dataclasses are the source of truth; YAML under configs/ and `key=value`
overrides are merged onto them and validated before anything is compiled.

Resolution order (later wins): dataclass defaults < configs/algo/<algo>.yaml
< configs/env/<family>.yaml < configs/env/<family>-<Name>.yaml
< configs/presets/<algo>/<family>-<Name>.yaml < overrides  (env id "brax/ant" -> family "brax", file "brax-ant").
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jaxrl.agents import ALGOS
from jaxrl.agents.base import AlgoConfig

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class ConfigError(ValueError):
    """A config key, value or combination is invalid; the message names the key."""


@dataclass(frozen=True)
class TrainConfig:
    algo: str = "ppo"
    env: str = "gymnax/CartPole-v1"
    env_kwargs: dict = field(default_factory=dict)  # passed to the env adapter (e.g. brax backend)
    seed: int = 0
    num_seeds: int = 1
    total_env_steps: int = 500_000
    log_every: int = 1  # iterations between host callbacks with metrics
    eval_episodes: int = 16  # greedy-policy episodes per seed evaluated after training (0: skip)
    out_dir: str | None = None
    checkpoint: bool = True
    algo_config: AlgoConfig = field(default_factory=lambda: ALGOS["ppo"][0]())

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "algo_config"}
        out["env_kwargs"] = dict(self.env_kwargs)
        out["algo_config"] = {f.name: _plain(getattr(self.algo_config, f.name))
                              for f in dataclasses.fields(self.algo_config)}
        return out


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _close(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _coerce(key: str, value: Any, annotation) -> Any:
    """Convert a YAML/CLI value to the annotated type, or raise ConfigError naming the key."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
            return None
        return _coerce(key, value, options[0])
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if annotation is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if annotation is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if annotation is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if origin is tuple:
            if isinstance(value, str):
                value = yaml.safe_load(value if value.strip().startswith("[") else f"[{value}]")
            if not isinstance(value, (list, tuple)):
                raise ValueError
            (item_type, *_) = typing.get_args(annotation)
            return tuple(_coerce(key, v, item_type) for v in value)
        if annotation is dict or origin is dict:
            if isinstance(value, str):
                value = yaml.safe_load(value)
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError, yaml.YAMLError):
        name = getattr(annotation, "__name__", str(annotation))
        raise ConfigError(f"{key}: expected {name}, got {value!r}") from None
    return value


def _field_types(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _apply(cls, base, values: dict, prefix: str):
    types_ = _field_types(cls)
    changes = {}
    for key, value in values.items():
        if key not in types_ or key == "algo_config":
            raise ConfigError(f"unknown config key '{prefix}{key}'{_close(key, list(types_))}; "
                              f"allowed: {', '.join(k for k in types_ if k != 'algo_config')}")
        changes[key] = _coerce(prefix + key, value, types_[key])
        if key == "env_kwargs":  # layers merge key by key (configs/env/brax.yaml, then brax-ant.yaml, ...)
            changes[key] = {**base.env_kwargs, **changes[key]}
    return dataclasses.replace(base, **changes)


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return data


def _file_stem(env: str) -> str:
    return env.replace("/", "-")


def env_config_paths(env: str) -> tuple[Path, Path]:
    """configs/env/<family>.yaml (e.g. brax.yaml: every brax/* env), then configs/env/<family>-<Name>.yaml."""
    family = env.split("/", 1)[0]
    return CONFIG_DIR / "env" / f"{family}.yaml", CONFIG_DIR / "env" / f"{_file_stem(env)}.yaml"


def preset_path(algo: str, env: str) -> Path:
    """configs/presets/<algo>/<family>-<Name>.yaml: tuned hyperparameters for one pairing."""
    return CONFIG_DIR / "presets" / algo / f"{_file_stem(env)}.yaml"


def parse_overrides(overrides: list[str]) -> dict:
    out = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        out[key.strip()] = value
    return out


def _split(values: dict) -> tuple[dict, dict]:
    """Top-level keys vs algo keys ('algo.x' / 'algo_config.x', or a nested 'algo:' mapping)."""
    top, algo = {}, {}
    for key, value in values.items():
        if key in ("algo", "algo_config", "es") and isinstance(value, dict):
            algo.update(value)
        elif key.startswith(("algo.", "algo_config.", "es.")):  # es.strategy=cma_es reads as algo.strategy
            algo[key.split(".", 1)[1]] = value
        elif key.startswith("env_kwargs."):  # env_kwargs.backend=generalized
            parsed = yaml.safe_load(value) if isinstance(value, str) else value
            top.setdefault("env_kwargs", {})[key.split(".", 1)[1]] = parsed
        else:
            top[key] = value
    return top, algo


def load_config(overrides: list[str] | dict | None = None, base: TrainConfig | None = None) -> TrainConfig:
    """Build a validated TrainConfig from `key=value` strings (as on the command line) or a dict."""
    values = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides or {})
    top, algo_values = _split(values)
    algo = str(top.get("algo", base.algo if base else "ppo"))
    if algo not in ALGOS:
        raise ConfigError(f"algo={algo!r} is unknown{_close(algo, list(ALGOS))}; allowed: {', '.join(ALGOS)}")
    env = str(top.get("env", base.env if base else TrainConfig.env))
    config_cls = ALGOS[algo][0]
    config = base or TrainConfig(algo=algo, env=env, algo_config=config_cls())
    if not isinstance(config.algo_config, config_cls):
        config = dataclasses.replace(config, algo_config=config_cls())
    if base is None:  # layer the YAML files
        for path in (CONFIG_DIR / "algo" / f"{algo}.yaml", *env_config_paths(env), preset_path(algo, env)):
            file_top, file_algo = _split(_read_yaml(path))
            file_top.pop("algo", None), file_top.pop("env", None)
            config = _apply(TrainConfig, config, file_top, "")
            config = dataclasses.replace(config, algo_config=_apply(config_cls, config.algo_config,
                                                                    file_algo, "algo."))
    config = _apply(TrainConfig, config, top, "")
    config = dataclasses.replace(config, algo_config=_apply(config_cls, config.algo_config, algo_values, "algo."))
    validate(config)
    return config


def validate(config: TrainConfig, env=None) -> None:
    """Checks that need no compilation; `env` (made when omitted) checks action/obs compatibility."""
    for key in ("num_seeds", "total_env_steps", "log_every"):
        if getattr(config, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(config, key)}")
    if config.eval_episodes < 0:
        raise ConfigError(f"eval_episodes must be >= 0, got {config.eval_episodes}")
    algo = config.algo_config
    for name in algo.HPARAMS:
        if not isinstance(getattr(algo, name), (int, float)):
            raise ConfigError(f"algo.{name}: expected a number, got {getattr(algo, name)!r}")
    for f in dataclasses.fields(algo):
        value = getattr(algo, f.name)
        if f.name.startswith("num_") or f.name == "rollout_length":
            if value < 1:
                raise ConfigError(f"algo.{f.name} must be >= 1, got {value}")
    if env is None:
        from jaxrl.envs import make_base

        try:
            env = make_base(config.env, **config.env_kwargs)
        except (TypeError, ValueError) as e:  # named once: the env's own errors may begin with its id
            message = str(e)
            raise ConfigError(message if message.startswith(config.env) else f"env={config.env!r}: {message}") from None
    try:
        algo.validate(env)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if config.total_env_steps < algo.steps_per_iteration(env):
        raise ConfigError(f"total_env_steps={config.total_env_steps} is less than one iteration "
                          f"({algo.steps_per_iteration(env)} env steps)")


def to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def from_yaml_file(path: str | Path) -> TrainConfig:
    """Rebuild the exact config of a run directory's config.yaml (no preset layering)."""
    data = _read_yaml(Path(path))
    algo = data.get("algo", "ppo")
    if algo not in ALGOS:
        raise ConfigError(f"{path}: algo={algo!r} is unknown; allowed: {', '.join(ALGOS)}")
    base = TrainConfig(algo=algo, algo_config=ALGOS[algo][0]())
    return load_config(data, base=base)
