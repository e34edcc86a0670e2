"""ES strategies as pure-function bundles over explicit state, all maximising fitness:

    init(key, mean[D], evaluate=None)       -> state
    prepare(state, gen_key)                 -> cache: per-generation work shared by ask and tell (or None)
    ask(state, gen_key, indices[M], cache)  -> member parameters [M, D]  (any subset: a device's slice)
    tell(state, gen_key, fitness[P], cache) -> (state, metrics)
    mean(state)                             -> the parameters to deploy [D]

OpenAI-ES and CEM are our own because they are seed-based: `ask` regenerates each member from
(gen_key, index) and `tell` rebuilds the update from seeds and fitness alone, which evosax's `ask`
(one [P, D] matrix) cannot do. Every other strategy, CMA-ES included, is evosax's through `evosax_strategy`,
a thin adapter: there each device runs evosax's `ask` with the same key, so only fitness still crosses devices.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.es import noise

OWN = ("openai_es", "cem")


class Strategy(NamedTuple):
    name: str
    population_size: int
    init: Callable[..., Any]
    ask: Callable[..., jax.Array]
    tell: Callable[..., tuple[Any, dict]]
    mean: Callable[[Any], jax.Array]
    needs_initial_fitness: bool = False  # evosax population-based strategies evaluate their first population
    prepare: Callable[..., Any] = lambda state, gen_key: None


def sigma_schedule(sigma_init: float, sigma_decay: float, sigma_min: float) -> Callable:
    """sigma(generation) = max(sigma_init * sigma_decay**generation, sigma_min)."""
    return lambda gen: jnp.maximum(sigma_init * jnp.asarray(sigma_decay, jnp.float32) ** gen, sigma_min)


@struct.dataclass
class OpenAIESState:
    mean: jax.Array
    opt_state: Any
    generation: jax.Array


def openai_es(population_size: int, dim: int, *, lr: float = 0.03, sigma_init: float = 0.1,
              sigma_decay: float = 1.0, sigma_min: float = 0.0, weight_decay: float = 0.0,
              antithetic: bool = True, noise_chunk: int = 256) -> Strategy:
    """OpenAI-ES (Salimans et al. 2017): Gaussian perturbations of the flat parameters, mirrored pairs,
    centred-rank fitness shaping, L2 weight decay and Adam on the mean, a decaying sigma."""
    if antithetic and population_size % 2:
        raise ValueError(f"es.population_size={population_size} must be even with es.antithetic=true")
    sigma = sigma_schedule(sigma_init, sigma_decay, sigma_min)
    tx = optax.chain(optax.add_decayed_weights(weight_decay), optax.adam(lr))

    def init(key, mean, evaluate=None):
        return OpenAIESState(mean, tx.init(mean), jnp.zeros((), jnp.int32))

    def ask(state, gen_key, indices, cache=None):
        return state.mean + sigma(state.generation) * noise.population_noise(gen_key, indices, dim, antithetic)

    def tell(state, gen_key, fitness, cache=None):
        s = sigma(state.generation)
        shaped = noise.centered_ranks(fitness)
        coefs = shaped[0::2] - shaped[1::2] if antithetic else shaped
        grad = noise.weighted_noise_sum(gen_key, coefs, dim, noise_chunk) / (population_size * s)
        updates, opt_state = tx.update(-grad, state.opt_state, state.mean)  # optax descends: ascend fitness
        mean = optax.apply_updates(state.mean, updates)
        metrics = {"sigma": s, "grad_norm": jnp.linalg.norm(grad)}
        return OpenAIESState(mean, opt_state, state.generation + 1), metrics

    return Strategy("openai_es", population_size, init, ask, tell, lambda s: s.mean)


@struct.dataclass
class CEMState:
    mean: jax.Array
    std: jax.Array
    generation: jax.Array


def cem(population_size: int, dim: int, *, sigma_init: float = 0.1, sigma_min: float = 0.0,
        elite_fraction: float = 0.1, extra_noise: float = 0.0, extra_noise_decay: float = 1.0,
        antithetic: bool = False) -> Strategy:
    """Cross-entropy method with a diagonal Gaussian: keep the top `elite_fraction`, refit mean and
    variance to them, and add extra variance extra_noise * extra_noise_decay**generation (Szita and
    Lorincz 2006) so the search does not collapse early. Elites are regenerated from their seeds."""
    if not 0.0 < elite_fraction <= 1.0:
        raise ValueError(f"es.elite_fraction must be in (0, 1], got {elite_fraction}")
    if antithetic and population_size % 2:
        raise ValueError(f"es.population_size={population_size} must be even with es.antithetic=true")
    num_elites = max(1, int(round(elite_fraction * population_size)))

    def init(key, mean, evaluate=None):
        return CEMState(mean, jnp.full_like(mean, sigma_init), jnp.zeros((), jnp.int32))

    def ask(state, gen_key, indices, cache=None):
        return state.mean + state.std * noise.population_noise(gen_key, indices, dim, antithetic)

    def tell(state, gen_key, fitness, cache=None):
        _, elite_idx = jax.lax.top_k(jnp.where(jnp.isnan(fitness), -jnp.inf, fitness), num_elites)
        elites = ask(state, gen_key, elite_idx)
        extra = extra_noise * jnp.asarray(extra_noise_decay, jnp.float32) ** state.generation
        std = jnp.maximum(jnp.sqrt(elites.var(axis=0) + extra), sigma_min)
        metrics = {"sigma": std.mean(), "elite_fitness": fitness[elite_idx].mean()}
        return CEMState(elites.mean(axis=0), std, state.generation + 1), metrics

    return Strategy("cem", population_size, init, ask, tell, lambda s: s.mean)


# ---- evosax -----------------------------------------------------------------------------------

def sequential_under_vmap(fn: Callable) -> Callable:
    """`fn`, but under `vmap` (seeds, sweeps) the batch runs one element after another with lax.map.
    Our own because jaxlib 0.10.2's batched CPU LAPACK kernels (the eigh in CMA-ES and its kin) hang or
    crawl when vmapped on few cores; one unbatched call per element is fast and safe."""
    wrapped = jax.custom_batching.custom_vmap(fn)

    @wrapped.def_vmap
    def rule(axis_size, in_batched, *args):
        args = tuple(jax.tree.map(lambda x, b: x if b else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x)),
                                  arg, batched) for arg, batched in zip(args, in_batched))
        out = jax.lax.map(lambda xs: wrapped(*xs), args)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


def _canonical(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def evosax_names() -> list[str]:
    import evosax.algorithms as algorithms

    return list(algorithms.algorithms)


def lookup_evosax(name: str):
    """evosax's class for a strategy name, matched ignoring case, '_' and '-' (cma_es, CMA-ES, sep_cma_es)."""
    import evosax.algorithms as algorithms

    table = {_canonical(k): v for k, v in algorithms.algorithms.items()}
    table.update({_canonical(v.__name__): v for v in algorithms.algorithms.values()})
    return table.get(_canonical(name))


def strategy_names() -> list[str]:
    return list(OWN) + evosax_names()


def evosax_strategy(name: str, population_size: int, init_mean: jax.Array, *, lr: float = 0.03,
                    sigma_init: float = 0.1, sigma_decay: float = 1.0, sigma_min: float = 0.0,
                    num_generations: int = 100) -> Strategy:
    """Any evosax strategy behind our interface. evosax minimises, so fitness is negated on the way in.
    Gradient-estimating strategies that take both an optimizer and a std schedule (the OpenAI-ES family)
    get Adam(lr); every strategy that takes a std schedule or `std_init` gets our sigma settings;
    the rest keep evosax's defaults."""
    cls = lookup_evosax(name)
    if cls is None:
        raise ValueError(f"unknown ES strategy {name!r}; allowed: {', '.join(strategy_names())}")
    dim = init_mean.shape[0]
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {}
    if "std_schedule" in accepted:
        kwargs["std_schedule"] = sigma_schedule(sigma_init, sigma_decay, sigma_min)
        if "optimizer" in accepted:
            kwargs["optimizer"] = optax.adam(lr)
    if "num_generations" in accepted:
        kwargs["num_generations"] = num_generations
    if "num_populations" in accepted:
        kwargs["num_populations"] = 1
    if "sampling_fn" in accepted:  # RandomSearch: samples around the initial parameters
        kwargs["sampling_fn"] = lambda key: init_mean + sigma_init * jax.random.normal(key, init_mean.shape)
    algo = cls(population_size=population_size, solution=jnp.zeros(dim, jnp.float32), **kwargs)
    params = algo.default_params
    if hasattr(params, "std_init"):
        params = params.replace(std_init=jnp.asarray(sigma_init, jnp.float32))
    population_based = "population" in inspect.signature(algo.init).parameters

    def init(key, mean, evaluate=None):
        if not population_based:
            return algo.init(key, mean, params)
        if evaluate is None:
            raise ValueError(f"evosax {cls.__name__} is population-based: init needs `evaluate`")
        population = mean + sigma_init * jax.random.normal(key, (population_size, dim))
        population = population.at[0].set(mean)
        return algo.init(key, population, -evaluate(population), params)

    @sequential_under_vmap
    def prepare(state, gen_key):
        """evosax's ask, once per generation: (population [P, D], the state ask returns)."""
        return algo.ask(gen_key, state, params)

    @sequential_under_vmap
    def full_tell(asked_state, population, gen_key, fitness):
        return algo.tell(jax.random.fold_in(gen_key, 1), population, -fitness, asked_state, params)[0]

    def ask(state, gen_key, indices, cache=None):
        population, _ = prepare(state, gen_key) if cache is None else cache
        return population[indices]

    def tell(state, gen_key, fitness, cache=None):
        population, asked_state = prepare(state, gen_key) if cache is None else cache
        state = full_tell(asked_state, population, gen_key, fitness)
        metrics = {"sigma": jnp.mean(state.std)} if hasattr(state, "std") else {}
        return state, metrics

    def mean(state):
        return state.best_solution if population_based else state.mean

    return Strategy(cls.__name__, population_size, init, ask, tell, mean,
                    needs_initial_fitness=population_based, prepare=prepare)


def make_strategy(name: str, population_size: int, init_mean: jax.Array, *, lr: float = 0.03,
                  sigma_init: float = 0.1, sigma_decay: float = 1.0, sigma_min: float = 0.0,
                  weight_decay: float = 0.0, antithetic: bool = True, elite_fraction: float = 0.1,
                  extra_noise: float = 0.0, extra_noise_decay: float = 1.0, noise_chunk: int = 256,
                  num_generations: int = 100) -> Strategy:
    """Strategy by name: 'openai_es', 'cem', or any evosax name (see `strategy_names()`)."""
    dim = int(init_mean.shape[0])
    if name == "openai_es":
        return openai_es(population_size, dim, lr=lr, sigma_init=sigma_init, sigma_decay=sigma_decay,
                         sigma_min=sigma_min, weight_decay=weight_decay, antithetic=antithetic,
                         noise_chunk=noise_chunk)
    if name == "cem":
        return cem(population_size, dim, sigma_init=sigma_init, sigma_min=sigma_min,
                   elite_fraction=elite_fraction, extra_noise=extra_noise,
                   extra_noise_decay=extra_noise_decay, antithetic=antithetic)
    return evosax_strategy(name, population_size, init_mean, lr=lr, sigma_init=sigma_init,
                           sigma_decay=sigma_decay, sigma_min=sigma_min, num_generations=num_generations)
