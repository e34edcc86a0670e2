"""The same ES generation, with the population split over a device mesh.

Each device evaluates its slice of members (regenerated from seeds by population index), the fitness
scalars are all-gathered, and the update is computed by every device from (generation key, fitness)
alone: the strategy state is replicated, so no parameter, noise or gradient array crosses devices.
Across hosts this is the same program under `jax.distributed` (one process per host, or several
processes on one host with the CPU backend's gloo collectives):

    python -m jaxrl.es.distributed --coordinator localhost:12355 --num-processes 2 --process-id 0 \\
        algo=es env=gymnax/CartPole-v1 es.population_size=64 total_env_steps=200000
"""
from __future__ import annotations

import argparse
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl.es.trainer import build, evaluate_mean, generation

AXIS = "population"


def population_mesh(devices=None) -> Mesh:
    """A 1-D mesh over `devices` (default: every device of every process)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (AXIS,))


def make_sharded_train(config, mesh: Mesh | None = None):
    """`train(key) -> (strategy_state, metrics[generations])`, jitted, population sharded over `mesh`.
    Same keys and same arithmetic as `jaxrl.core.train.make_train` for algo=es: results agree with the
    single-device run to float tolerance."""
    from jaxrl.core.train import setup

    mesh = mesh or population_mesh()
    _, _, num_generations, _ = setup(config)
    pieces = build(config.algo_config, config.env, config.env_kwargs, num_generations)
    population = pieces.strategy.population_size
    if population % mesh.size:
        raise ValueError(f"es.population_size={population} must be divisible by the {mesh.size} devices "
                         f"of the mesh")
    local = population // mesh.size
    replicated = PartitionSpec()

    def evaluate_slice(state, gen_key, eval_key, cache):
        start = jax.lax.axis_index(AXIS) * local
        indices = start + jnp.arange(local)
        fitness = pieces.fitness(pieces.strategy.ask(state, gen_key, indices, cache), indices, eval_key)
        return jax.lax.all_gather(fitness, AXIS, tiled=True)  # the only cross-device traffic: P scalars

    # check_vma=False: the kernel's scan carries device-varying env state from replicated inputs
    evaluate_slices = jax.shard_map(evaluate_slice, mesh=mesh, in_specs=(replicated,) * 4,
                                    out_specs=replicated, check_vma=False)

    def evaluate_population(state, gen_key, eval_key, cache):  # the mean (member P) is scored on every device
        return evaluate_slices(state, gen_key, eval_key, cache), evaluate_mean(pieces, state, eval_key)

    def train(key):
        init_key, loop_key = jax.random.split(key)  # as the driver's ES loop does

        def body(carry, _):
            state, key = carry
            key, gen_key = jax.random.split(key)
            state, metrics = generation(pieces, state, gen_key, evaluate_population)
            return (state, key), metrics

        (state, _), metrics = jax.lax.scan(body, (pieces.agent.init(init_key), loop_key), None,
                                           length=num_generations)
        return state, metrics

    sharding = NamedSharding(mesh, replicated)
    return jax.jit(train, in_shardings=sharding, out_shardings=sharding)


def global_key(seed: int, mesh: Mesh) -> jax.Array:
    """A PRNG key replicated over every device of `mesh` (the input a multi-process jit needs)."""
    key = np.asarray(jax.random.PRNGKey(seed))
    return jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec()), key)


def to_host(tree):
    """Numpy copies of replicated (possibly not fully addressable) arrays."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxrl.es.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coordinator", help="host:port of process 0 (omit for a single process)")
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--out", help="process 0 writes the final mean parameters and metrics here (.npz)")
    parser.add_argument("overrides", nargs="*", help="config key=value, as for `jaxrl train`")
    args = parser.parse_args(argv)
    if args.coordinator:
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    from jaxrl.config import load_config

    config = load_config(["algo=es", *args.overrides])
    mesh = population_mesh()
    train = make_sharded_train(config, mesh)
    state, metrics = to_host(train(global_key(config.seed, mesh)))
    if jax.process_index() == 0:
        pieces = build(config.algo_config, config.env, config.env_kwargs)
        mean = np.asarray(pieces.strategy.mean(state))
        print(json.dumps({"processes": jax.process_count(), "devices": mesh.size,
                          "final_mean_return": float(metrics["mean_return"][-1]),
                          "generations": int(metrics["mean_return"].shape[0])}))
        if args.out:
            np.savez(args.out, mean=mean, **{k: v for k, v in metrics.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
