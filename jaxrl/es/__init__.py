"""Evolution strategies on the shared rollout kernel: seed-based OpenAI-ES and CEM, every evosax strategy
through one adapter, robust fitness over env variants, sharded/multi-process runs, and MPC planning."""
from jaxrl.es.strategies import Strategy, make_strategy, strategy_names
from jaxrl.es.trainer import ESConfig

__all__ = ["ESConfig", "Strategy", "make_strategy", "strategy_names"]
