"""How many iterations MJX's constraint solver runs per env step along jaxrl's PPO run and brax's PPO
trainer's run, on the same brax env at `brax_ppo.py`'s settings.

    .venv/bin/python bench/solver_iterations.py                    # brax/inverted_pendulum, seeds 0 1 2
    .venv/bin/python bench/solver_iterations.py --seeds 0 --iterations 4 --out /tmp/s.json   # a short look

Why: on brax/inverted_pendulum jaxrl's PPO runs at about 0.9x brax's trainer on the CPU, and MJX's physics
cost follows the states of the envs. Each physics step solves the envs' constraints (the cart's rail and
the hinge's limits) with a `lax.while_loop` that stops once the cost improves by less than the model's
tolerance. Under `vmap` that loop runs until the slowest env of the batch is done, so one batched solve
costs max-over-the-batch iterations ("trips" below). This script counts them; `brax_ppo.py --mjx-opt
'{iterations: 2, tolerance: -1}'` times both trainers with that count fixed (the solver then runs exactly
2 iterations at every step whatever the states), which takes the states out of the comparison.

How: a bench-only instrument. MJX's solver module gets a `jax` whose `lax.while_loop` runs the real loop and
then hands the loop's `solver_niter` (one per env, the whole batch at once) to a host callback; the result
feeds back into `qacc` times zero so that XLA keeps it. Solves traced under brax's `pipeline_init` (resets)
are told apart from the step's; jaxrl's fresh resets record nothing (the next step recomputes what their
solve produced before anything reads it, so XLA drops that solve and its callback), and brax's one initial
reset is outside its training loop. Only the training
envs' batched step solves (num_envs wide) are counted. The env class's `step` is instrumented the same way,
to say which states the envs were in: the share of env steps that terminated an episode, and that left an
env with a limited slide or hinge joint at the end of its range (within 1% of it), where MJX's limit
constraint is active and the solver has work to do (on inverted_pendulum: the cart at the end of its rail).
The callbacks slow both programs down: this script times nothing.

Each seed runs jaxrl's program for 3K iterations (`make_train_many`, one seed) and brax's `ppo.train` for 3
epochs of K iterations, and reports iterations 1..K, K+1..2K and 2K+1..3K of each: `brax_ppo.py` times
jaxrl's iterations 1..K (from scratch) and K+1..2K (same stage) against brax's iterations K+1.. on.
`--no-normalize-obs` turns observation normalisation off on both sides (as `brax_ppo.py`'s option does).
`--brax-loss-on-acting-statistics` moves brax's normaliser update after its SGD steps (a bench-only patch,
`brax_ppo.BraxLossOnActingStatistics`), so that brax's loss sees each batch as its policy did; with
`--override algo.normalize_obs_update=rollout` both sides then use their statistics alike.
Writes bench/results/solver-iterations-<platform>.json (or --out).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
import traceback
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import namespace, provenance, write_result  # noqa: E402

STAGES = 3


class SolverCounter:
    """While installed, every MJX solve records (tag, per-env iterations) on the host, tagged "init" when
    traced under `pipeline_init` (a reset) and "step" otherwise."""

    def __init__(self):
        self.records: list[tuple[str, str, np.ndarray]] = []  # (side, tag, iterations per env)
        self.side = "?"

    def _record(self, tag, niter):
        n = np.asarray(niter)
        self.records.append((self.side, tag, n.reshape(-1).copy()))
        return n

    def _while_loop(self, real, cond, body, init):
        out = real(cond, body, init)
        tag = "init" if any(f.name == "pipeline_init" for f in traceback.extract_stack()) else "step"
        niter = out.solver_niter
        seen = jax.pure_callback(functools.partial(self._record, tag),
                                 jax.ShapeDtypeStruct(niter.shape, niter.dtype), niter, vmap_method="expand_dims")
        return out.replace(qacc=out.qacc + 0.0 * seen.astype(out.qacc.dtype))

    def install(self):
        from mujoco.mjx._src import solver

        lax = namespace(jax.lax, while_loop=functools.partial(self._while_loop, jax.lax.while_loop))
        self._solver, self._jax = solver, solver.jax
        solver.jax = namespace(jax, lax=lax)
        return self

    def uninstall(self):
        self._solver.jax = self._jax

    def steps(self, side: str, width: int) -> list[np.ndarray]:
        return [n for s, tag, n in self.records if s == side and tag == "step" and n.size == width]


class EnvStepCounter:
    """While installed, every step of the brax env class `cls` records, per env of the batch, whether its
    episode ended and whether a limited slide or hinge joint is at the end of its range (within 1% of the
    range: where MJX's limit constraint is active and its solver has work to do)."""

    def __init__(self, cls):
        self.cls, self.real = cls, cls.step
        self.records: list[tuple[str, np.ndarray, np.ndarray]] = []  # (side, episode ended, at a joint limit)
        self.side = "?"

    def _record(self, done, at_limit):
        done, at_limit = np.asarray(done), np.asarray(at_limit)
        self.records.append((self.side, done.reshape(-1) > 0.5, at_limit.reshape(-1)))
        return np.zeros(done.shape, np.float32)

    def _step(self, env, state, action):
        import jax.numpy as jnp

        nxt = self.real(env, state, action)
        m = env.sys
        joints = [j for j in range(m.njnt) if bool(m.jnt_limited[j]) and int(m.jnt_type[j]) in (2, 3)]
        at_limit = jnp.zeros((), bool)
        for j in joints:  # slide (2) and hinge (3) joints have one qpos each
            lo, hi = m.jnt_range[j, 0], m.jnt_range[j, 1]  # may be traced (jaxrl's program closes over them)
            q, margin = nxt.pipeline_state.qpos[int(m.jnt_qposadr[j])], 0.01 * (hi - lo)
            at_limit = at_limit | (q <= lo + margin) | (q >= hi - margin)
        done, reward = jnp.asarray(nxt.done), jnp.asarray(nxt.reward, jnp.float32)  # brax may give floats
        seen = jax.pure_callback(self._record, jax.ShapeDtypeStruct(done.shape, jnp.float32), done, at_limit,
                                 vmap_method="expand_dims")
        return nxt.replace(reward=reward + seen)

    def install(self):
        real = self.real
        counter = self

        def step(env, state, action):
            return counter._step(env, state, action) if type(env) is counter.cls else real(env, state, action)

        self.cls.step = step
        return self

    def uninstall(self):
        self.cls.step = self.real

    def steps(self, side: str, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(d, a) for s, d, a in self.records if s == side and d.size == width]


def stages(records: list, iterations: int, what: str) -> list[list]:
    """`records` (one per batched solve or env step, in run order) cut into the STAGES stages of
    `iterations` training iterations each."""
    if len(records) % (STAGES * iterations):
        raise RuntimeError(f"{len(records)} {what} do not split into {STAGES} x {iterations} iterations")
    per_stage = len(records) // STAGES
    return [records[k * per_stage:(k + 1) * per_stage] for k in range(STAGES)]


def summarize(solves: list[np.ndarray], iterations: int) -> list[dict]:
    """Per stage of `iterations` training iterations: the mean over batched solves of the batch's largest
    iteration count (what the vmapped loop runs), the mean per env, and how often each trip count came up."""
    out = []
    for k, chunk in enumerate(stages(solves, iterations, "batched solves")):
        trips = np.array([n.max() for n in chunk])
        out.append({"iterations": [k * iterations + 1, (k + 1) * iterations],
                    "batched_solves": len(chunk), "mean_trips_per_solve": float(trips.mean()),
                    "mean_iterations_per_env": float(np.mean([n.mean() for n in chunk])),
                    "trips_histogram": {int(t): int(v) for t, v in enumerate(np.bincount(trips)) if v}})
    return out


def summarize_states(steps: list[tuple[np.ndarray, np.ndarray]], iterations: int) -> list[dict]:
    """Per stage: the fraction of env steps that ended an episode, and that left an env at a joint limit."""
    return [{"terminations_per_env_step": float(np.mean([d.mean() for d, _ in chunk])),
             "env_steps_at_a_joint_limit": float(np.mean([a.mean() for _, a in chunk])),
             "batched_steps_with_an_env_at_a_limit": float(np.mean([a.any() for _, a in chunk]))}
            for chunk in stages(steps, iterations, "batched env steps")]


def count_seed(counter: SolverCounter, states: EnvStepCounter, config, iterations: int) -> dict:
    from brax.training.agents.ppo import train as brax_ppo_train
    from brax_ppo import brax_compat, brax_kwargs

    from jaxrl.core.train import make_train_many
    from jaxrl.envs import make_base

    a = config.algo_config
    longer = dataclasses.replace(config, total_env_steps=STAGES * config.total_env_steps)
    counter.side = states.side = "jaxrl"
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(make_train_many(longer))(jax.random.split(jax.random.PRNGKey(config.seed), 1)))
    jaxrl_s = time.perf_counter() - t0
    counter.side = states.side = "brax"
    brax_compat()
    base_env = make_base(config.env, **config.env_kwargs)
    t0 = time.perf_counter()
    brax_ppo_train.train(environment=base_env.env, progress_fn=lambda *_: None,
                         **brax_kwargs(config, base_env, iterations, STAGES))
    brax_s = time.perf_counter() - t0
    out = {}
    for side, seconds in (("jaxrl", jaxrl_s), ("brax", brax_s)):
        solves = counter.steps(side, a.num_envs)
        by_stage = summarize(solves, iterations)
        for stage, more in zip(by_stage, summarize_states(states.steps(side, a.num_envs), iterations)):
            stage.update(more)
        out[side] = {"stages": by_stage, "batched_solves": len(solves),
                     "batched_solves_per_iteration": len(solves) // (STAGES * iterations),
                     "other_solves": sum(1 for s, tag, n in counter.records if s == side) - len(solves),
                     "seconds_with_callbacks": seconds}
    counter.records.clear()
    states.records.clear()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="brax/inverted_pendulum")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--iterations", type=int, default=20, help="K: training iterations per stage (brax_ppo.py's)")
    p.add_argument("--no-normalize-obs", action="store_true",
                   help="observation normalisation off on both sides (brax_ppo.py's option of that name)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a jaxrl config override (brax_ppo.py's option of that name)")
    p.add_argument("--brax-loss-on-acting-statistics", action="store_true",
                   help="a bench-only patch: brax's PPO updates its normaliser after its SGD steps instead of "
                        "before, so its loss sees the batch as its policy did (jaxrl's "
                        "algo.normalize_obs_update=rollout does the same)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.iterations < 1 or not args.seeds:
        raise SystemExit("--iterations must be >= 1 and --seeds must name at least one seed")

    from brax_ppo import BraxLossOnActingStatistics, jaxrl_config

    base = jaxrl_config(argparse.Namespace(env=args.env, num_envs=None, rollout_length=None, num_epochs=None,
                                           num_minibatches=None, iterations=args.iterations,
                                           no_normalize_obs=args.no_normalize_obs,
                                           override=args.override))
    a = base.algo_config
    from jaxrl.envs.brax_adapter import _brax_envs

    env_cls = _brax_envs()._envs[args.env.removeprefix("brax/")]
    counter = SolverCounter().install()
    states = EnvStepCounter(env_cls).install()
    patch = BraxLossOnActingStatistics().install() if args.brax_loss_on_acting_statistics else None
    seeds = {}
    try:
        for seed in args.seeds:
            print(f"seed {seed}: jaxrl {STAGES * args.iterations} iterations, then brax {STAGES} epochs of "
                  f"{args.iterations}", flush=True)
            seeds[str(seed)] = count_seed(counter, states, dataclasses.replace(base, seed=seed), args.iterations)
            for side in ("jaxrl", "brax"):
                by_stage = seeds[str(seed)][side]["stages"]
                trips = " ".join(f"{s['mean_trips_per_solve']:.3f}" for s in by_stage)
                limit = " ".join(f"{s['env_steps_at_a_joint_limit']:.3f}" for s in by_stage)
                ended = " ".join(f"{s['terminations_per_env_step']:.4f}" for s in by_stage)
                print(f"  {side:6s} by stage: trips per batched solve {trips}; env steps at a joint limit {limit}; "
                      f"terminations per env step {ended}", flush=True)
    finally:
        counter.uninstall()
        states.uninstall()
        if patch is not None:
            patch.uninstall()
    result = {"benchmark": "solver_iterations", "env": args.env, **provenance(),
              "settings": {"num_envs": a.num_envs, "rollout_length": a.rollout_length, "num_epochs": a.num_epochs,
                           "num_minibatches": a.num_minibatches, "normalize_obs": a.normalize_obs,
                           "iterations_per_stage": args.iterations, "overrides": args.override,
                           "brax_loss_on_acting_statistics": args.brax_loss_on_acting_statistics,
                           "stages": STAGES, "seeds": args.seeds},
              "what": "MJX constraint-solver iterations per batched env step (the vmapped while loop's trips: "
                      "the largest count in the batch), by stage of each trainer's run; callbacks on, nothing timed",
              "seeds": seeds}
    write_result("solver-iterations", result, args.out)


if __name__ == "__main__":
    main()
