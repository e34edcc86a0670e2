"""One environment interface: `make("gymnax/CartPole-v1")`, `make("brax/ant")`, ..."""
from jaxrl.envs.core import Env, StepResult, Wrapper
from jaxrl.envs.registry import UnknownEnvError, list_envs, make, make_base
from jaxrl.envs.spaces import Box, Discrete
from jaxrl.envs.wrappers import (AutoReset, EpisodeStatistics, NormalizeObservation, RescaleAction,
                                 VecEnv)

__all__ = ["Env", "StepResult", "Wrapper", "make", "make_base", "list_envs", "UnknownEnvError",
           "Box", "Discrete", "AutoReset", "EpisodeStatistics", "NormalizeObservation", "RescaleAction",
           "VecEnv"]
