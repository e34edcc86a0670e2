"""Algorithm registry: name -> (config class, make_agent)."""
from jaxrl.agents import ppo

ALGOS = {
    "ppo": (ppo.PPOConfig, ppo.make_agent),
}

__all__ = ["ALGOS"]
