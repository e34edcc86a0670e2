"""`jaxrl train key=value ...`, `jaxrl eval RUN_DIR --episodes N`, `jaxrl envs`."""
from __future__ import annotations

import argparse
import json
import os
import sys

USAGE = """jaxrl train [algo=ppo] [env=gymnax/CartPole-v1] [seed=0] [num_seeds=4] [algo.lr=3e-4] [out_dir=runs/x] ...
jaxrl eval RUN_DIR [--episodes 100] [--seed 0]
jaxrl train algo=es [es.strategy=openai_es|cem|CMA_ES|<any evosax name>] [es.population_size=64] ...
jaxrl envs
jaxrl strategies                  ES strategy names for es.strategy=
jaxrl config [key=value ...]      print the resolved config without training"""


def main(argv: list[str] | None = None) -> int:
    # One OpenBLAS thread unless the user set it. On CPU, XLA runs LAPACK (the eigh of CMA-ES and its
    # kin) through scipy's OpenBLAS, whose thread pool competes with XLA's own: a CMA-ES generation took
    # 1.5x as long with it on 2 cores (bench/README.md). OpenBLAS reads this when scipy is first
    # imported (gymnax imports it), so it is set before anything else is imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # XLA CPU flags measured to help on this CPU (jaxrl/xla_tuning.py), before anything imports jax
    from jaxrl.xla_tuning import apply_cpu_tuning

    apply_cpu_tuning()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    from jaxrl.config import ConfigError, load_config, to_yaml

    try:
        if command in ("train", "config"):
            if any(a in ("-h", "--help") for a in rest):
                print(USAGE)
                return 0
            config = load_config(rest)  # validated before anything compiles
            if command == "config":
                print(to_yaml(config), end="")
                return 0
            from jaxrl.experiment import enable_compilation_cache, train_and_save

            enable_compilation_cache()
            train_and_save(config)
            return 0
        if command == "eval":
            parser = argparse.ArgumentParser(prog="jaxrl eval")
            parser.add_argument("run_dir")
            parser.add_argument("--episodes", type=int, default=100)
            parser.add_argument("--seed", type=int, default=0)
            args = parser.parse_args(rest)
            from jaxrl.experiment import enable_compilation_cache, evaluate_run

            enable_compilation_cache()
            print(json.dumps(evaluate_run(args.run_dir, args.episodes, args.seed), indent=2))
            return 0
        if command == "strategies":
            from jaxrl.es.strategies import strategy_names

            print("\n".join(strategy_names()))
            return 0
        if command == "envs":
            from jaxrl.envs import list_envs

            print("\n".join(list_envs()))
            return 0
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # clear one-line cause for expected failures; tracebacks for bugs
        from jaxrl.core.checkpoint import CheckpointError
        from jaxrl.experiment import TrainingDiverged

        if isinstance(e, (CheckpointError, TrainingDiverged, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise
    print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
