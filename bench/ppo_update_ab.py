"""PPO's minibatch loop carrying the parameter pytree vs one parameter vector (a diagnostic, not a peer
comparison).

    .venv/bin/python bench/ppo_update_ab.py [--cases ...] [--repeats 7] [--quick] [--out F]

At the settings of ppo_peers.py (16 envs, one seed) a GPU is bound by kernel launches, and every gradient
step of PPO's minibatch loop is a few dozen kernels. PPO's `update_layout` chooses what the loop carries;
this script compiles PPO three ways in one process and counts and times each program:

- `pytree` (`update_layout=pytree`): the loop carries the parameter pytree, and the scan writes each
  training metric as an output of its own. After Adam's one pass over the flat update (`make_optimizer` is
  `optax.flatten`), the update is split back into one addition per layer, and each metric write is one
  more kernel.
- `stacked`: the same, with the scalar metrics written as one vector per step.
- `vector` (`update_layout=vector`): the loop also carries the parameters as one vector
  (`optim.flat_params`): the gradient is taken with respect to it, and the update is one elementwise pass.

`update_layout=auto`, the default, is `pytree` on CPU and `vector` elsewhere (`auto_layout` in the JSON); the
script also compiles it and records which of the two programs it matches, by their kernel counts
(`auto_compiled`).
The three compute the same values up to float rounding (tests/test_onpolicy.py compares the parameters and
metrics; this script reports whether the outputs are equal bit for bit). Kernels per call are counted from
XLA's optimized program as in launches.py, with the kernels of one gradient step (the body of the loop over
minibatches). Writes bench/results/ppo-update-ab-<platform>.json.
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

CASES = ["PPO CartPole-v1", "PPO Pendulum-v1"]
VARIANTS = ("pytree", "stacked", "vector")


def compiled(case: str, quick: bool, variant: str):
    import launches
    import ppo_peers

    from jaxrl.agents import ppo
    from jaxrl.config import load_config
    from jaxrl.core.train import make_train_many

    algo, env_id = case.split()
    s = ppo_peers.CASES[case]
    steps = ppo_peers.env_steps(case, quick)
    layout = {"vector": "vector", "auto": "auto"}.get(variant, "pytree")
    config = load_config([*ppo_peers.ours(algo.lower(), env_id, s), f"total_env_steps={steps}", "num_seeds=1",
                          f"algo.update_layout={layout}"])
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    saved = ppo.minibatch_epochs
    try:  # a trace-time switch: it must hold while lowering
        if variant == "stacked":
            ppo.minibatch_epochs = lambda *a, stack_metrics, **k: saved(*a, stack_metrics=True, **k)
        call, info = compile_timed(make_train_many(config), keys, hlo=True)
    finally:
        ppo.minibatch_epochs = saved
    counts = launches.count(info.pop("hlo"))
    # the minibatch loop: num_minibatches iterations, no loop inside (the epoch loop holds the shuffle's)
    step_loop = max((loop for loop in counts["loops"] if loop["trip_count"] == s["num_minibatches"]
                     and loop["loop_iterations_per_iteration"] == 0), key=lambda loop: loop["kernels_per_iteration"])
    return call, dict(info, kernels_per_call=counts["kernels_per_call"],
                      kernels_per_gradient_step=step_loop["kernels_per_iteration"]), steps


def main(argv=None) -> None:
    args = ab_diagnostic_args(__doc__, CASES, argv)
    rows = {}
    for case in args.cases:
        calls, infos = {}, {}
        for variant in VARIANTS:
            calls[variant], infos[variant], steps = compiled(case, args.quick, variant)
        # what update_layout=auto compiled here: the layout whose optimized program has as many kernels
        _, auto_info, _ = compiled(case, args.quick, "auto")
        auto_matches = [v for v in ("pytree", "vector")
                        if infos[v]["kernels_per_call"] == auto_info["kernels_per_call"]]
        outputs = {v: jax.tree.leaves(call()) for v, call in calls.items()}
        equal = all(np.array_equal(np.asarray(a), np.asarray(b)) for v in VARIANTS[:-1]
                    for a, b in zip(outputs[v], outputs["vector"]))
        times = interleaved_medians(calls, args.repeats)
        row = {"env_steps": steps, "identical_outputs": equal, "speedup": times["pytree"][0] / times["vector"][0],
               "auto_kernels_per_call": auto_info["kernels_per_call"],
               "auto_compiled": auto_matches[0] if len(auto_matches) == 1 else "unclear"}
        for v in VARIANTS:
            row.update({f"{v}_seconds": times[v][0], f"{v}_seconds_per_round": times[v][1],
                        f"{v}_compile_seconds": infos[v]["compile_seconds"],
                        f"{v}_kernels_per_call": infos[v]["kernels_per_call"],
                        f"{v}_kernels_per_gradient_step": infos[v]["kernels_per_gradient_step"]})
        rows[case] = row
        print(f"{case:16s} " + " | ".join(
            f"{v} {row[v + '_seconds']:.3f}s, {row[v + '_kernels_per_call']:,} kernels "
            f"({row[v + '_kernels_per_gradient_step']} per gradient step)" for v in VARIANTS)
            + f" | speed-up {row['speedup']:.2f} | identical outputs: {equal} | auto compiled {row['auto_compiled']}",
            flush=True)
    from jaxrl.agents import ppo

    auto = ppo.AUTO_LAYOUT.get(jax.default_backend(), ppo.AUTO_LAYOUT_DEFAULT)  # what auto should compile here
    path = write_result("ppo-update-ab", provenance(benchmark="ppo_update_ab", repeats=args.repeats, quick=args.quick,
                                                    auto_layout=auto, results=rows), args.out, quick=args.quick)
    speedup_plot(json.loads(path.read_text()), path.with_suffix(".png"),
                 "speed-up of the one-vector loop over the pytree loop", "PPO's minibatch loop")


if __name__ == "__main__":
    main()
