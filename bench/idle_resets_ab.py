"""The training loops' env with and without skipping idle resets (a diagnostic, not a peer comparison).

    .venv/bin/python bench/idle_resets_ab.py [--cases ...] [--repeats 9] [--quick] [--out F]

`AutoReset` computes a fresh initial state for every env at every step and keeps it where an episode
ended. The training loops build their env with `skip_idle_resets=True`: on the CPU a step where no env of
the batch finished skips that work (one `lax.cond` on the whole batch; on a GPU every step still computes
it, since there a conditional waits for a round trip to the host). This script compiles each case's
`make_train_many` program both ways in one process, checks that the outputs are equal bit for bit, and
times the two interleaved (median of --repeats rounds): `speedup` is the time of resetting at every step
over the time with the skip. How much the skip saves follows how often a step has no finished env
(CartPole's pole falls often at first; Pendulum's episodes all end together at step 200) and what a reset
costs (a brax reset runs MJX's forward pass). Writes bench/results/idle-resets-ab-<platform>.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (ab_diagnostic_args, compile_timed, interleaved_medians, provenance, speedup_plot,  # noqa: E402
                    write_result)

# case: env steps per call (None: the peer script's own count); --quick runs a fraction
CASES = {
    "PPO CartPole-v1": None,  # ppo_peers.py's settings
    "PPO Pendulum-v1": None,
    "DQN CartPole-v1": 20_000,  # offpolicy_peers.py's settings
    "SAC Pendulum-v1": 4_000,
    "PPO brax/inverted_pendulum": 40_960,  # brax_ppo.py's settings: 32 envs x 64 steps x 20 iterations
}


def config_of(case: str, quick: bool):
    import offpolicy_peers
    import ppo_peers

    from jaxrl.config import load_config

    algo, env_id = case.split()
    if case in ppo_peers.CASES:
        overrides, steps = ppo_peers.ours(algo.lower(), env_id, ppo_peers.CASES[case]), ppo_peers.env_steps(case, quick)
    elif case in offpolicy_peers.CASES:
        overrides, steps = offpolicy_peers.ours(case), CASES[case] // (4 if quick else 1)
    else:
        overrides = ["algo=ppo", f"env={env_id}", "algo.normalize_obs=true", "algo.anneal_lr=false"]
        steps = CASES[case] // (10 if quick else 1)
    return load_config([*overrides, f"total_env_steps={steps}", "num_seeds=1"]), steps


def compiled(config, skip: bool):
    """make_train_many(config) compiled with the training env's `skip_idle_resets` set to `skip` (a
    trace-time switch on `train.make`, restored afterwards)."""
    from jaxrl.core import train

    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    saved = train.make
    try:
        train.make = lambda *a, **k: saved(*a, **{**k, "skip_idle_resets": skip})
        call, info = compile_timed(train.make_train_many(config), keys, hlo=True)
    finally:
        train.make = saved
    info["conditionals_in_program"] = info.pop("hlo").count(" conditional(")
    return call, info


def main(argv=None) -> None:
    args = ab_diagnostic_args(__doc__, list(CASES), argv)
    rows = {}
    for case in args.cases:
        config, steps = config_of(case, args.quick)
        calls, infos = {}, {}
        for name, skip in (("skip", True), ("every step", False)):
            calls[name], infos[name] = compiled(config, skip)
        outs = {name: jax.tree.leaves(call()) for name, call in calls.items()}
        equal = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(*outs.values()))
        times = interleaved_medians(calls, args.repeats)
        row = {"env_steps": steps, "identical_outputs": equal,
               "speedup": times["every step"][0] / times["skip"][0],
               "speedup_per_round": [b / a for a, b in zip(times["skip"][1], times["every step"][1])]}
        for name in calls:
            row.update({f"{name}_seconds": times[name][0], f"{name}_seconds_per_round": times[name][1],
                        f"{name}_compile_seconds": infos[name]["compile_seconds"],
                        f"{name}_conditionals_in_program": infos[name]["conditionals_in_program"]})
        rows[case] = row
        r = row["speedup_per_round"]
        print(f"{case:27s} skip {row['skip_seconds']:.3f}s | every step {row['every step_seconds']:.3f}s | "
              f"speed-up {row['speedup']:.3f} (rounds {min(r):.3f}-{max(r):.3f}) | identical outputs: {equal} | "
              f"conditionals in the program {row['skip_conditionals_in_program']} / "
              f"{row['every step_conditionals_in_program']}", flush=True)
    path = write_result("idle-resets-ab", provenance(benchmark="idle_resets_ab", repeats=args.repeats,
                                                     quick=args.quick, results=rows), args.out, quick=args.quick)
    speedup_plot(json.loads(path.read_text()), path.with_suffix(".png"),
                 "speed-up of skipping idle resets over resetting at every step", "The training env's resets")


if __name__ == "__main__":
    main()
