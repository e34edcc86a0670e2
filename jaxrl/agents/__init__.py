"""Algorithm registry: name -> (config class, make_agent), imported on first use.

Each agent module defines its config dataclass and `make_agent(config, env, num_iterations) -> Agent`.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping

# name -> (module, config class name); make_agent is the module's `make_agent`
_ALGOS = {
    "ppo": ("jaxrl.agents.ppo", "PPOConfig"),
    "ppo_penalty": ("jaxrl.agents.ppo", "PPOPenaltyConfig"),
    "a2c": ("jaxrl.agents.a2c", "A2CConfig"),
    "a3c": ("jaxrl.agents.a2c", "A3CConfig"),
    "reinforce": ("jaxrl.agents.reinforce", "ReinforceConfig"),
    "vpg": ("jaxrl.agents.vpg", "VPGConfig"),
    "trpo": ("jaxrl.agents.trpo", "TRPOConfig"),
    "dqn": ("jaxrl.agents.dqn", "DQNConfig"),
    "sac": ("jaxrl.agents.sac", "SACConfig"),
    "es": ("jaxrl.es.trainer", "ESConfig"),
}


class _Registry(Mapping):
    def __getitem__(self, name):
        module_name, config_name = _ALGOS[name]
        module = importlib.import_module(module_name)
        config_cls = getattr(module, config_name)
        return config_cls, getattr(module, getattr(config_cls, "MAKE_AGENT", "make_agent"))

    def __iter__(self):
        return iter(_ALGOS)

    def __len__(self):
        return len(_ALGOS)


ALGOS = _Registry()

__all__ = ["ALGOS"]
