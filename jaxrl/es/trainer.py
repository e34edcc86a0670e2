"""ES on the shared rollout kernel: `jaxrl train algo=es es.strategy=<name>`.

A generation is ask -> fitness -> tell. Fitness runs the population through `population_rollout` (params
with a population axis, `num_envs` episodes per member, optionally on several env parameterisations
aggregated by mean or worst case). The loop plugs into the common driver (`jaxrl.core.train`), so seeds,
logging, checkpoints, evaluation and the CLI are the ones every agent uses; `make_sharded_train` runs the
same generation with the population split over a device mesh (see `jaxrl.es.distributed`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import flatten_util

from jaxrl.agents.base import Agent, AlgoConfig
from jaxrl.core import rollout as kernel
from jaxrl.core.networks import MLP, _dense, init_params
from jaxrl.envs import make
from jaxrl.envs.spaces import Box, Discrete
from jaxrl.es import strategies

ROBUST = ("mean", "min")


@dataclass(frozen=True)
class ESConfig(AlgoConfig):
    """Keys are set as `es.<key>=...` (or `algo.<key>=...`) on the command line."""

    LOOP: ClassVar[str] = "jaxrl.es.trainer:make_loop"

    strategy: str = "openai_es"  # openai_es | cem | any evosax name (CMA_ES, Sep_CMA_ES, SNES, xNES, PGPE, ...)
    population_size: int = 64
    num_envs: int = 1  # episodes per member (per env variant) in a generation
    episode_steps: int = 0  # steps per fitness episode; 0: the env's own time limit
    hidden_sizes: tuple[int, ...] = (32,)
    activation: str = "tanh"
    lr: float = 0.03  # Adam on the mean (openai_es and evosax's OpenAI-ES family)
    sigma_init: float = 0.1
    sigma_decay: float = 1.0  # sigma(g) = max(sigma_init * sigma_decay**g, sigma_min)
    sigma_min: float = 0.0
    weight_decay: float = 0.0  # L2 on the mean (openai_es)
    antithetic: bool = True  # mirrored pairs (openai_es, cem)
    elite_fraction: float = 0.1  # cem
    extra_noise: float = 0.0  # cem: extra variance, decayed by extra_noise_decay per generation
    extra_noise_decay: float = 1.0
    noise_chunk: int = 256  # noise vectors regenerated at a time when rebuilding the update
    common_random_numbers: bool = True  # every member of a generation meets the same starts and env noise
    env_variants: tuple[dict, ...] = ()  # env parameterisations for robust fitness (gymnax env params)
    robust: str = "mean"  # aggregate over env_variants: mean | min (worst case)

    def horizon(self, env) -> int:
        return self.episode_steps or env.max_episode_steps or 1000

    def steps_per_iteration(self, env=None) -> int:
        """The population's env steps per generation (the mean's evaluation episodes not counted)."""
        horizon = self.horizon(env) if env is not None else (self.episode_steps or 1)
        return self.population_size * self.num_envs * max(1, len(self.env_variants)) * horizon

    def validate(self, env) -> None:
        if strategies.lookup_evosax(self.strategy) is None and self.strategy not in strategies.OWN:
            raise ValueError(f"es.strategy={self.strategy!r} is unknown; allowed: "
                             f"{', '.join(strategies.strategy_names())}")
        if self.strategy.lower().startswith("sv_"):
            raise ValueError(f"es.strategy={self.strategy!r}: evosax's multi-population (Stein variational) "
                             f"strategies are not supported by the adapter")
        if self.robust not in ROBUST:
            raise ValueError(f"es.robust={self.robust!r}; allowed: {list(ROBUST)}")
        if self.population_size < 2:
            raise ValueError(f"es.population_size must be >= 2, got {self.population_size}")
        if self.antithetic and self.strategy in strategies.OWN and self.population_size % 2:
            raise ValueError(f"es.population_size={self.population_size} must be even with es.antithetic=true")
        if self.sigma_init <= 0 or self.sigma_min < 0 or self.sigma_decay <= 0:
            raise ValueError("es.sigma_init must be > 0, es.sigma_min >= 0 and es.sigma_decay > 0")
        if not 0.0 < self.elite_fraction <= 1.0:
            raise ValueError(f"es.elite_fraction must be in (0, 1], got {self.elite_fraction}")
        if self.episode_steps < 0:
            raise ValueError(f"es.episode_steps must be >= 0 (0: the env's time limit), got {self.episode_steps}")
        from jaxrl.envs import make_base

        for i, variant in enumerate(self.env_variants):
            try:
                make_base(env.id, **variant)
            except (TypeError, ValueError) as e:
                raise ValueError(f"es.env_variants[{i}]={variant!r}: {e}") from None
        if not isinstance(env.action_space, (Box, Discrete)):
            raise ValueError(f"es: unsupported action space {env.action_space!r} of {env.id}")


class DeterministicPolicy(nn.Module):
    """MLP torso and a linear head: logits (argmax) for discrete actions, tanh means for boxes."""

    num_outputs: int
    hidden_sizes: tuple[int, ...]
    activation: str
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs):
        return _dense(self.num_outputs, 0.01)(MLP(self.hidden_sizes, self.activation, self.obs_ndim)(obs))


class Pieces(NamedTuple):
    """Everything a generation needs, built once per config."""

    strategy: strategies.Strategy
    agent: Agent
    init_flat: Callable[[jax.Array], jax.Array]  # key -> initial flat parameters
    fitness: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]  # (members[M, D], indices[M], key) -> [M]
    fitness_per_variant: Callable  # (members, indices, key) -> (returns, lengths) per env variant: [variants, M]
    fitness_from_variants: Callable  # [variants, M] -> [M]: mean or worst case (es.robust)


def _policy(env, config: ESConfig):
    discrete = isinstance(env.action_space, Discrete)
    outputs = env.action_space.n if discrete else int(jnp.prod(jnp.array(env.action_space.shape)))
    net = DeterministicPolicy(outputs, tuple(config.hidden_sizes), config.activation,
                              len(env.observation_space.shape))

    def act(params, obs, key):
        out = net.apply(params, obs)
        if discrete:
            return jnp.argmax(out, axis=-1), {}
        return jnp.tanh(out).reshape(out.shape[:1] + env.action_space.shape), {}

    return net, act


def build(config: ESConfig, env_id: str, env_kwargs: dict, num_generations: int = 100) -> Pieces:
    """Strategy, policy, fitness and evaluation functions for one ES config (no compilation)."""
    variants = tuple(config.env_variants) or ({},)
    envs = [make(env_id, num_envs=config.num_envs, **{**env_kwargs, **v}) for v in variants]
    base = envs[0]
    horizon = config.horizon(base)
    net, act = _policy(base, config)
    shapes = jax.eval_shape(net.init, jax.random.PRNGKey(0), jnp.zeros((1,) + base.observation_space.shape, jnp.float32))
    template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)  # only its structure is used
    _, unravel = flatten_util.ravel_pytree(template)

    def init_flat(key):
        params = init_params(net, key, jnp.zeros((1,) + base.observation_space.shape, jnp.float32))
        return flatten_util.ravel_pytree(params)[0]

    strategy = strategies.make_strategy(
        config.strategy, config.population_size, init_flat(jax.random.PRNGKey(0)), lr=config.lr,
        sigma_init=config.sigma_init, sigma_decay=config.sigma_decay, sigma_min=config.sigma_min,
        weight_decay=config.weight_decay, antithetic=config.antithetic, elite_fraction=config.elite_fraction,
        extra_noise=config.extra_noise, extra_noise_decay=config.extra_noise_decay,
        noise_chunk=config.noise_chunk, num_generations=num_generations)

    def fitness_per_variant(members, indices, key):
        """[variants, M]: mean first-episode return of each member on each env variant. A member's
        randomness depends on its population index only, so any split over devices gives the same numbers."""
        params = jax.vmap(unravel)(members)
        step_root, reset_root = jax.random.split(key)
        crn = config.common_random_numbers
        returns, lengths = [], []
        for v, env in enumerate(envs):
            reset_key, step_key = jax.random.fold_in(reset_root, v), jax.random.fold_in(step_root, v)
            if crn:  # the same starts and the same env randomness for every member, drawn once
                state = kernel.reset(env, reset_key)
                states = jax.tree.map(lambda x: jnp.broadcast_to(x, indices.shape + x.shape), state)
            else:
                states = jax.vmap(lambda i: kernel.reset(env, jax.random.fold_in(reset_key, i)))(indices)
                step_key = jax.vmap(lambda i: jax.random.fold_in(step_key, i))(indices)
            _, (ret, length) = kernel.population_rollout(env, act, params, states, step_key, horizon,
                                                         shared_key=crn, fold=kernel.FIRST_EPISODE)
            returns.append(ret.mean(-1))
            lengths.append(length.mean(-1).astype(jnp.float32))
        return jnp.stack(returns), jnp.stack(lengths)

    def fitness_from_variants(per_variant):
        return per_variant.min(0) if config.robust == "min" else per_variant.mean(0)

    def fitness(members, indices, key):
        return fitness_from_variants(fitness_per_variant(members, indices, key)[0])

    def init(key, hp=None):
        return strategy.init(key, init_flat(key), _initial_evaluator(strategy, fitness, key))

    agent = Agent(init=init, policy=act, greedy_policy=act, update=None,
                  params=lambda state: unravel(strategy.mean(state)))
    return Pieces(strategy, agent, init_flat, fitness, fitness_per_variant, fitness_from_variants)


def _initial_evaluator(strategy, fitness, key):
    if not strategy.needs_initial_fitness:
        return None
    eval_key = jax.random.fold_in(key, 7)
    return lambda population: fitness(population, jnp.arange(population.shape[0]), eval_key)


def make_agent(config: ESConfig, env, num_iterations: int, env_kwargs: dict | None = None) -> Agent:
    """Registry hook: the ES 'agent' (init, greedy policy, deployable params) for driver and evaluation."""
    return build(config, env.id, dict(env_kwargs or {}), num_iterations).agent


def generation(pieces: Pieces, state, key, evaluate_population: Callable | None = None):
    """One generation: -> (state, metrics). `evaluate_population(state, gen_key, eval_key, cache)` returns
    the population's fitness [P] and the per-variant (returns, lengths) of the current mean, which is scored
    as member P (zero noise) on the same episodes; the default evaluates all P + 1 in one kernel call, the
    sharded trainer passes its shard_map'd version. `cache` is the strategy's per-generation work (evosax's
    ask), done once and shared by ask and tell."""
    gen_key, eval_key = jax.random.split(key)
    if evaluate_population is None:
        evaluate_population = whole_population(pieces)
    cache = pieces.strategy.prepare(state, gen_key)
    fitness, (mean_returns, mean_lengths) = evaluate_population(state, gen_key, eval_key, cache)
    state, metrics = pieces.strategy.tell(state, gen_key, fitness, cache)
    count = jnp.asarray(mean_returns.shape[0], jnp.float32)  # one (averaged) entry per env variant
    metrics = dict(metrics, fitness_mean=jnp.nanmean(fitness), fitness_max=jnp.nanmax(fitness),
                   mean_return=mean_returns.mean(), episode_return_sum=mean_returns.sum(),
                   episode_length_sum=mean_lengths.sum(), episode_count=count)
    return state, metrics


def whole_population(pieces: Pieces) -> Callable:
    """Population and current mean through one `population_rollout` of P + 1 members."""
    size = pieces.strategy.population_size
    indices = jnp.arange(size + 1)

    def evaluate_population(state, gen_key, eval_key, cache=None):
        members = jnp.concatenate([pieces.strategy.ask(state, gen_key, indices[:size], cache),
                                   pieces.strategy.mean(state)[None]])
        returns, lengths = pieces.fitness_per_variant(members, indices, eval_key)
        return pieces.fitness_from_variants(returns)[:size], (returns[:, size], lengths[:, size])

    return evaluate_population


def evaluate_mean(pieces: Pieces, state, eval_key):
    """Per-variant (returns, lengths) of the current mean, scored as member P: the same numbers
    `whole_population` gives it (randomness follows the member index)."""
    size = pieces.strategy.population_size
    returns, lengths = pieces.fitness_per_variant(pieces.strategy.mean(state)[None], jnp.array([size]), eval_key)
    return returns[:, 0], lengths[:, 0]


def make_loop(config, env, agent, num_iterations):
    """The driver's per-seed loop for ES (see jaxrl.core.train.make_loop): one iteration = one generation;
    the logged episode_return is the return of the distribution's mean on the generation's episodes."""
    from jaxrl.core.train import Carry

    pieces = build(config.algo_config, config.env, config.env_kwargs, num_iterations)

    def init(key, hp):
        init_key, loop_key = jax.random.split(key)
        return Carry(pieces.agent.init(init_key), None, jnp.zeros(3, jnp.float32), loop_key)

    def iteration(carry, it, hp):
        key, gen_key = jax.random.split(carry.key)
        state, metrics = generation(pieces, carry.agent_state, gen_key)
        ep = jnp.stack([metrics["episode_return_sum"], metrics.pop("episode_length_sum"), metrics["episode_count"]])
        return Carry(state, None, carry.since_log + ep, key), metrics

    return init, iteration, num_iterations
