"""Training throughput of jaxrl's PPO vs brax's own PPO trainer, same brax env, same physics, equal settings.

    .venv/bin/python bench/brax_ppo.py                        # brax/inverted_pendulum, the jaxrl preset sizes
    .venv/bin/python bench/brax_ppo.py --env brax/ant --num-envs 2048 --rollout-length 32   # on a GPU

What is compared: env steps per second of training (rollout + PPO update, everything on device) of
  * jaxrl: `make_train_many(config)` for one seed, jitted and compiled ahead of time, then called;
  * brax:  `brax.training.agents.ppo.train.train` (brax 0.14), the trainer brax ships,
on one brax env built by jaxrl's adapter (`jaxrl.envs.make_base`, MJX pipeline, the default), with
1000-step episodes and action_repeat=1 on both sides.

Settings mapping (N envs, T rollout steps, E epochs, M minibatches; jaxrl name -> brax argument):
  num_envs N                  -> num_envs=N
  rollout_length T            -> unroll_length=T
  num_epochs E                -> num_updates_per_batch=E
  num_minibatches M           -> num_minibatches=M, batch_size=N/M (N must divide by M)
    brax gathers batch_size*num_minibatches/num_envs = 1 unroll of T steps per env per iteration, so both
    collect N*T transitions per iteration and take E*M gradient steps on minibatches of N*T/M transitions
    (brax: N/M whole unrolls of length T; jaxrl: N*T/M shuffled transitions).
  hidden_sizes, activation    -> policy_hidden_layer_sizes = value_hidden_layer_sizes, activation
                                 (separate policy and value MLPs on both sides)
  Gaussian head, learned state-independent log std -> distribution_type='normal', noise_std_type='log'
  actions clipped to [-1, 1]  -> nothing to set: jaxrl's adapter clips its policy's samples to [-1, 1]; brax's
                                 'normal' distribution hands them to the env as they are, the env scales [-1, 1]
                                 onto the actuators' ctrlrange and MJX clamps ctrl to that range, which is the
                                 same clip (checked: brax's env wrapped to clip first gave the same MJX solver
                                 counts, in every stage of 3 seeds, in bench/solver_iterations.py)
  normalize_obs=true          -> normalize_observations=True (both false with --no-normalize-obs)
  lr, gamma, gae_lambda, clip_eps, vf_coef, ent_coef, max_grad_norm, reward_scale, normalize_advantages
                              -> learning_rate, discounting, gae_lambda, clipping_epsilon, vf_loss_coefficient,
                                 entropy_cost, max_grad_norm, reward_scaling, normalize_advantage
  clip_value=true             -> clipping_epsilon_value=clip_eps (this also makes brax record V(s) while acting,
                                 as jaxrl does)
  anneal_lr                   -> forced false for jaxrl: brax has no linear lr schedule (constant lr both sides)
  optimizer_eps               -> forced to 1e-8 for jaxrl: brax's Adam keeps optax's epsilon (jaxrl's default is
                                 1e-5; on inverted_pendulum it changes how soon the policy keeps the carts off
                                 the rail, and with it the physics' cost: bench/FINDINGS.md)
  episode length 1000         -> episode_length=1000, action_repeat=1
Not the same on the two sides (each trainer's design, with no option on the other side to match it; jaxrl
patched to brax's advantages, to no observation clip, or to resets to one fixed state per env, needed as
much solver work as before in bench/solver_iterations.py, bench/FINDINGS.md):
  * advantages: jaxrl's are GAE's, A_t = delta_t + gamma*lambda*A_{t+1}; brax's `compute_gae` returns
    r_t + gamma*vs_{t+1} - V(s_t) with vs the lambda-returns, which is A_t + gamma*(1-lambda)*A_{t+1}. The
    value targets (vs) are the same. At a time-limit cut brax zeroes the step's TD error; jaxrl bootstraps
    from the final observation.
  * the observation normaliser: jaxrl clips normalised observations to [-10, 10], brax does not clip; jaxrl
    updates its statistics at every env step, brax once per batch, before its SGD steps (see Timing).
  * resets: brax's AutoResetWrapper returns each env to the first state it was reset to, jaxrl draws a
    fresh initial state for every episode.

Timing.
  * jaxrl: lower+compile timed apart ("compile_seconds"), one warm-up call, then the median of --repeats
    calls, each a whole training run of --iterations iterations (it includes network init and env reset,
    done once per call, inside the jit). Each round also calls the same program built for twice as many
    iterations: the difference of the two calls is the time of iterations K+1..2K ("same_stage_*"), the
    stage of training that brax's timed epochs are at (see JaxrlSide); "ratio_same_stage_over_brax".
  * brax: `train()` builds fresh closures and a fresh `jax.pmap(training_epoch)` on every call, so jax's
    caches (keyed on the function object) miss and every call retraces and recompiles (checked: a second
    `train()` in the same process compiled its epoch program again); repeated calls of `train()` cannot
    separate compile from run. Instead ONE `train()` call runs --repeats + 1 "epochs" of
    --iterations training iterations each (num_evals = repeats + 2 -> brax runs num_evals - 1 epochs), with
    run_evals=False: brax then runs no evaluation rollouts at all (not the initial one, not one per epoch) and
    calls progress_fn after each epoch with its training metrics. Each epoch is one call of the compiled
    pmap'd `training_epoch` (a lax.scan over `iterations` training steps); brax times it itself
    ('training/walltime' grows by that epoch's seconds, measured around the call up to block_until_ready).
    Epoch 1 includes tracing and compilation; epochs 2.. are the timed repeats (median). Compile seconds =
    epoch 1 - median(later epochs); XLA's own compile durations (jax.monitoring) are recorded beside it,
    and we check that no compilation happens after epoch 1. jaxrl's single program also holds network init
    and env reset, which brax compiles and runs apart, before epoch 1 ("setup_seconds", not in its
    compile_seconds), so compare compile times with that in mind.
  * What brax does that is not in the timed epochs: env wrapping, a pmap'd reset of the N training envs,
    network/optimiser init, and building its Evaluator, which jit-resets `num_eval_envs` eval envs once
    (set to 1 here; with run_evals=False the evaluator is never run). Between epochs brax's host loop
    un-pmaps params and splits keys (outside its epoch clock; our progress_fn timestamps, also recorded,
    include it). Inside each iteration brax updates its observation normaliser once on the batch (jaxrl
    updates its running statistics at every env step inside the rollout) and recomputes GAE inside every
    minibatch loss (jaxrl: once per iteration); these are part of each trainer's design and are timed.
  Both sides run the same number of env steps per timed repeat: iterations * N * T.
  --brax-loss-on-acting-statistics (a bench-only patch of brax's side, BraxLossOnActingStatistics): brax's
  normaliser update moves after its SGD steps, so its loss sees each batch as its policy did, as jaxrl's
  algo.normalize_obs_update=rollout does; it is there to show what brax's renormalisation does to the
  envs' states (bench/solver_iterations.py has the same option), not to time brax as shipped.
  jax 0.10 removed `jax.device_put_replicated`, which brax 0.14.2's ppo.train calls once at setup; this
  script supplies it (`_replicate`) when missing, recorded in the result as brax.compat_shim.

Writes bench/results/brax-ppo-<platform>.json (or --out) and a bar plot .png beside it.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import OPTAX_EPS, namespace, provenance, write_result  # noqa: E402
from jaxrl.config import load_config  # noqa: E402
from jaxrl.core.networks import ACTIVATIONS  # noqa: E402
from jaxrl.core.train import make_train_many  # noqa: E402
from jaxrl.envs import make_base  # noqa: E402

SEED = 0
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # XLA compile of one program


class CompileClock:
    """XLA backend-compile durations reported through jax.monitoring (one listener, process-wide)."""

    def __init__(self):
        self.events = []  # (perf_counter at the end of the compile, seconds)
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kwargs):
        if event == COMPILE_EVENT:
            self.events.append((time.perf_counter(), float(duration)))

    def read(self) -> tuple[float, int]:
        """(total seconds, number of compiles) so far."""
        return sum(d for _, d in self.events), len(self.events)

    def between(self, start: float, end: float) -> tuple[float, int]:
        """(seconds, number) of the compiles that ended in [start, end]."""
        inside = [d for t, d in self.events if start <= t <= end]
        return sum(inside), len(inside)


def jaxrl_config(args):
    normalize = "false" if getattr(args, "no_normalize_obs", False) else "true"
    overrides = ["algo=ppo", f"env={args.env}", f"seed={SEED}", "num_seeds=1", f"algo.normalize_obs={normalize}",
                 "algo.anneal_lr=false", f"algo.optimizer_eps={OPTAX_EPS}"]
    for name in ("num_envs", "rollout_length", "num_epochs", "num_minibatches"):
        if getattr(args, name) is not None:
            overrides.append(f"algo.{name}={getattr(args, name)}")
    if getattr(args, "mjx_opt", None):  # the env is built from these kwargs on both sides (run_brax too)
        overrides.append(f"env_kwargs.mjx_opt={args.mjx_opt}")
    overrides += list(getattr(args, "override", None) or [])  # mapped settings reach brax's side via brax_kwargs
    config = load_config(overrides)
    algo = config.algo_config
    steps = args.iterations * algo.num_envs * algo.rollout_length
    return load_config(overrides + [f"total_env_steps={steps}"])


class JaxrlSide:
    """jaxrl's compiled training program, timed one call at a time so that its repeats can be interleaved
    with brax's epochs (`between` hook of run_brax): both sides then see the same machine noise.

    A call of `make_train_many` (what users call) trains from scratch, so its repeats time iterations
    1..K, while brax's timed epochs continue one run: iterations K+1..2K, 2K+1..3K, ... On a brax env the
    physics' cost follows the states the envs are in (an inverted pendulum that falls and resets costs more
    per step than one held up), so the two sides would time different stages of training. Each round
    therefore also calls the same program built for 2K iterations; its time minus the K-iteration call's
    is the time of iterations K+1..2K in the program users run (the first K iterations are the same in
    both: same keys, and no schedule depends on the run's length here). `same_stage_*` is that. brax's
    median spans its epochs 2..R+1 (iterations K+1..(R+1)K); where the physics gets cheaper as training goes
    on, its later epochs pull that median down, so the result also sets `same_stage_seconds` against brax's
    first timed epoch alone, iterations K+1..2K exactly (one sample on brax's side:
    `ratio_same_iterations_over_brax_first_timed_epoch`)."""

    def __init__(self, config, iterations: int, clock: CompileClock):
        algo = config.algo_config
        self.steps = iterations * algo.num_envs * algo.rollout_length
        self.keys = jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)
        self.clock = clock
        c0 = clock.read()
        t0 = time.perf_counter()
        self.compiled = jax.jit(make_train_many(config)).lower(self.keys).compile()
        self.compile_s = time.perf_counter() - t0
        longer = dataclasses.replace(config, total_env_steps=2 * config.total_env_steps)
        self.compiled_2k = jax.jit(make_train_many(longer)).lower(self.keys).compile()
        self.c1 = clock.read()
        self.xla = (self.c1[0] - c0[0], self.c1[1] - c0[1])
        t0 = time.perf_counter()
        jax.block_until_ready(self.compiled(self.keys))
        self.warmup_s = time.perf_counter() - t0
        jax.block_until_ready(self.compiled_2k(self.keys))
        self.times, self.times_2k = [], []

    def timed_call(self) -> None:
        for program, times in ((self.compiled, self.times), (self.compiled_2k, self.times_2k)):
            t0 = time.perf_counter()
            jax.block_until_ready(program(self.keys))
            times.append(time.perf_counter() - t0)

    def result(self) -> dict:
        seconds = statistics.median(self.times)
        later = [b - a for a, b in zip(self.times, self.times_2k)]
        same_stage = statistics.median(later)
        return {"compile_seconds": self.compile_s, "xla_compile_seconds": self.xla[0], "xla_compiles": self.xla[1],
                "xla_compiles_while_timed": self.clock.read()[1] - self.c1[1], "warmup_seconds": self.warmup_s,
                "times": self.times, "seconds": seconds, "env_steps_per_repeat": self.steps,
                "steps_per_second": self.steps / seconds, "times_2k": self.times_2k,
                "same_stage_times": later, "same_stage_seconds": same_stage,
                "same_stage_steps_per_second": self.steps / same_stage}


def _replicate(tree, devices):
    """Stand-in for `jax.device_put_replicated`, which jax 0.10 removed and brax 0.14.2's PPO still calls
    once, to put the initial training state on its pmap devices: each leaf gains a leading axis of
    len(devices), one slice per device."""
    import numpy as np

    devices = list(devices)
    sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("i",)),
                                          jax.sharding.PartitionSpec("i"))

    def put(leaf):
        leaf = jax.numpy.asarray(leaf)
        return jax.device_put(jax.numpy.broadcast_to(leaf[None], (len(devices),) + leaf.shape), sharding)

    return jax.tree.map(put, tree)


def brax_compat() -> str | None:
    """Give jax back `device_put_replicated` (as `_replicate`) if this jax lacks it; says what it did."""
    try:
        jax.device_put_replicated  # noqa: B018
        return None
    except AttributeError:
        jax.device_put_replicated = _replicate
        return ("jax.device_put_replicated (removed in jax 0.10, called once by brax's ppo.train to replicate "
                "its initial state) was supplied by bench/brax_ppo.py:_replicate, outside the timed region")


def brax_kwargs(config, base_env, iterations: int, epochs: int) -> dict:
    """brax ppo.train arguments equal to jaxrl's config (see the mapping in the module docstring)."""
    from brax.training.agents.ppo import networks as ppo_networks

    a = config.algo_config
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=tuple(a.hidden_sizes),
        value_hidden_layer_sizes=tuple(a.hidden_sizes), activation=ACTIVATIONS[a.activation],
        distribution_type="normal", noise_std_type="log", init_noise_std=1.0)
    return dict(
        num_timesteps=epochs * iterations * a.num_envs * a.rollout_length,
        num_envs=a.num_envs, episode_length=base_env.max_episode_steps, action_repeat=1,
        unroll_length=a.rollout_length, batch_size=a.num_envs // a.num_minibatches,
        num_minibatches=a.num_minibatches, num_updates_per_batch=a.num_epochs,
        normalize_observations=a.normalize_obs, learning_rate=a.lr, entropy_cost=a.ent_coef, discounting=a.gamma,
        gae_lambda=a.gae_lambda, clipping_epsilon=a.clip_eps,
        clipping_epsilon_value=a.clip_eps if a.clip_value else None, max_grad_norm=a.max_grad_norm,
        normalize_advantage=a.normalize_advantages, vf_loss_coefficient=a.vf_coef,
        reward_scaling=a.reward_scale, network_factory=network_factory, seed=config.seed,
        num_evals=epochs + 1, run_evals=False, num_eval_envs=1, log_training_metrics=False)


class EpochMarks:
    """progress_fn for a brax trainer. At each training epoch it records the host time, env steps, brax's own
    cumulative 'training/walltime' and the compiles so far, then runs `between()` (jaxrl's timed call) after
    each of the first `repeats` epochs, outside brax's epoch clock. Calls without a training walltime (an
    initial evaluation at step 0) are ignored."""

    def __init__(self, clock: CompileClock, repeats: int, between=None):
        self.clock, self.repeats, self.between = clock, repeats, between
        self.c0 = clock.read()
        self.marks = []  # (host time, env steps, brax's cumulative training walltime, compiles so far)
        self.resumed = []  # host time at which progress_fn handed control back to brax

    def __call__(self, step, metrics):
        if "training/walltime" not in metrics:
            return
        self.marks.append((time.perf_counter(), int(step), float(metrics["training/walltime"]), self.clock.read()))
        if self.between is not None and len(self.marks) <= self.repeats:
            self.between()
        self.resumed.append(time.perf_counter())

    def summary(self, t0: float, call_s: float, epochs: int, steps: int) -> dict:
        """Per-epoch seconds from brax's clock (epoch 1: tracing and compilation, and for SAC the replay
        prefill, which brax's clock counts before it; later epochs: the timed repeats)."""
        marks, resumed, clock = self.marks, self.resumed, self.clock
        if (len(marks) != epochs or marks[0][1] < steps
                or [m[1] for m in marks] != [marks[0][1] + steps * i for i in range(epochs)]):
            raise RuntimeError(f"brax ran {[m[1] for m in marks]} env steps at its epochs; expected {epochs} "
                               f"epochs of {steps}")
        walltime = [0.0] + [m[2] for m in marks]
        epoch_s = [walltime[i + 1] - walltime[i] for i in range(epochs)]
        host_s = [m[0] - start for m, start in zip(marks, [t0] + resumed)]  # brax's host time per epoch
        outside = sum(r - m[0] for m, r in zip(marks, resumed))  # time in progress_fn (jaxrl's calls)
        times = epoch_s[1:]
        seconds = statistics.median(times)
        first = clock.between(marks[0][0] - epoch_s[0] - 0.05, marks[0][0])
        return {"epochs": epochs, "epoch_seconds": epoch_s, "progress_fn_interval_seconds": host_s,
                "train_call_seconds": call_s - outside, "first_epoch_seconds": epoch_s[0],
                "compile_seconds": epoch_s[0] - seconds, "setup_seconds": host_s[0] - epoch_s[0],
                "xla_compile_seconds_in_first_epoch": first[0], "xla_compiles_in_first_epoch": first[1],
                "xla_compile_seconds_whole_call": clock.read()[0] - self.c0[0],
                "xla_compiles_after_first_epoch": marks[-1][3][1] - marks[0][3][1],
                "times": times, "seconds": seconds, "env_steps_per_repeat": steps, "steps_per_second": steps / seconds}


class BraxLossOnActingStatistics:
    """While installed, brax's PPO trains on the observation statistics its policy acted with.

    brax updates its normaliser with a batch's observations before its SGD steps, so its loss renormalises the
    batch with the new statistics (brax/training/agents/ppo/train.py, `training_step`); it updates them after
    SGD only with the adaptive-KL learning rate. This patch moves the update after SGD for every schedule,
    which is what jaxrl's `algo.normalize_obs_update=rollout` does: the statistics change once per batch, and
    the update trains on the observations as the policy saw them. How: in brax's train module, the
    normaliser's `update` returns the statistics unchanged and keeps the updated ones, and the
    `TrainingState` built at the end of the same training step takes the kept ones. Bench-only."""

    def install(self):
        from brax.training.agents.ppo import train

        self._train, stats, state_cls = train, train.running_statistics, train.TrainingState
        kept = []

        def update(params, *args, **kwargs):
            kept.append(stats.update(params, *args, **kwargs))
            return params

        def training_state(**fields):
            if kept:  # the end of a training step (brax's initial state is built before any update)
                fields["normalizer_params"] = kept.pop()
            return state_cls(**fields)

        self._saved = stats, state_cls
        train.running_statistics = namespace(stats, update=update)
        train.TrainingState = training_state
        return self

    def uninstall(self):
        self._train.running_statistics, self._train.TrainingState = self._saved


def run_brax(config, iterations: int, repeats: int, clock: CompileClock, between=None) -> dict:
    """brax's PPO trainer for repeats + 1 epochs; `between()` runs on the host after each of the first
    `repeats` epochs (outside brax's epoch clock), so jaxrl's timed calls sit between brax's timed epochs."""
    from brax.training.agents.ppo import train as brax_ppo

    compat = brax_compat()
    a = config.algo_config
    base_env = make_base(config.env, **config.env_kwargs)  # the same adapter jaxrl uses: MJX by default
    epochs = repeats + 1
    kwargs = brax_kwargs(config, base_env, iterations, epochs)
    epochs_log = EpochMarks(clock, repeats, between)
    t0 = time.perf_counter()
    brax_ppo.train(environment=base_env.env, progress_fn=epochs_log, **kwargs)
    timing = epochs_log.summary(t0, time.perf_counter() - t0, epochs,
                                iterations * a.num_envs * a.rollout_length)
    printable = {k: v for k, v in kwargs.items() if k != "network_factory"}
    printable["network_factory"] = {"fn": "brax.training.agents.ppo.networks.make_ppo_networks",
                                    **{k: (getattr(v, "__name__", repr(v)) if callable(v) else v)
                                       for k, v in kwargs["network_factory"].keywords.items()}}
    return {"train_kwargs": printable, "backend": base_env.backend, "compat_shim": compat, **timing,
            "eval_work": "none: run_evals=False, so brax ran no evaluation rollouts (not the initial one, not "
                         "per epoch); its Evaluator was still constructed, which jit-resets num_eval_envs=1 "
                         "eval env once before training, outside the timed epochs",
            "timed_region": "each repeat is one brax training epoch (`iterations` training steps in one "
                            "compiled pmap call), as timed by brax itself ('training/walltime' increments); "
                            "epoch 1 holds tracing+compilation and is not a repeat"}


def plot(result: dict, path: Path, algo: str = "PPO", subtitle: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"jaxrl {algo}", f"brax {algo}"]
    sides = [result["jaxrl"], result["brax"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    a.bar(names, [s["steps_per_second"] for s in sides], color=["tab:blue", "tab:orange"])
    for i, s in enumerate(sides):
        a.plot([i] * len(s["times"]), [s["env_steps_per_repeat"] / t for t in s["times"]], "k.", ms=5)
    a.set(ylabel="env steps / s (median; dots: repeats)",
          title=f"training throughput, ours/brax = {result['ratio_ours_over_brax']:.2f}")
    b.bar(names, [s["compile_seconds"] for s in sides], color=["tab:blue", "tab:orange"],
          label="compile of the training program")
    b.bar(names[1:], [result["brax"]["setup_seconds"]], bottom=[result["brax"]["compile_seconds"]],
          color="tab:orange", alpha=0.4, hatch="//", label="brax setup before epoch 1 (reset, init: mostly compiles)")
    top = max(sides[0]["compile_seconds"], result["brax"]["compile_seconds"] + result["brax"]["setup_seconds"])
    b.set(ylabel="seconds", title="before the first timed run", ylim=(0, 1.35 * top))
    b.legend(fontsize=7, loc="upper left")
    s = result["settings"]
    subtitle = subtitle or (f"{s['num_envs']} envs x {s['rollout_length']} steps, {s['num_epochs']}x"
                            f"{s['num_minibatches']} minibatches")
    fig.suptitle(f"{result['env']} ({result['brax']['backend']}), {subtitle}, {result['device']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def same_iterations_ratio(ours: dict, brax: dict) -> float:
    """jaxrl's iterations K+1..2K (median of its rounds) against brax's first timed epoch, the same iterations."""
    return brax["times"][0] / ours["same_stage_seconds"]


def compare(config, args, run_brax, benchmark: str, settings: dict) -> tuple[dict, Path]:
    """Compile jaxrl's side, run brax's trainer (`run_brax`) with jaxrl's timed calls between its epochs,
    print both and write bench/results/<benchmark>-<platform>.json; returns (result, path)."""
    clock = CompileClock()
    side = JaxrlSide(config, args.iterations, clock)
    print(f"jaxrl  compiled in {side.compile_s:.1f}s; brax's train() now runs, with jaxrl's timed calls "
          f"between its epochs", flush=True)
    brax = run_brax(config, args.iterations, args.repeats, clock, between=side.timed_call)
    ours = side.result()
    ours["config"] = config.to_dict()
    result = provenance(benchmark=benchmark, env=args.env, seeds=[SEED], arguments=vars(args),
                        settings=settings, jaxrl=ours, brax=brax, interleaved=True,
                        ratio_ours_over_brax=ours["steps_per_second"] / brax["steps_per_second"],
                        ratio_same_stage_over_brax=ours["same_stage_steps_per_second"] / brax["steps_per_second"],
                        ratio_same_iterations_over_brax_first_timed_epoch=same_iterations_ratio(ours, brax))
    print(f"\n{'trainer':18s} {'steps/s (median)':>17s} {'repeats (s)':>28s} {'compile s':>10s}")
    same = dict(ours, steps_per_second=ours["same_stage_steps_per_second"], times=ours["same_stage_times"])
    for name, s in (("jaxrl", ours), ("jaxrl, same stage", same), ("brax", brax)):
        reps = " ".join(f"{t:.2f}" for t in s["times"])
        print(f"{name:18s} {s['steps_per_second']:>17,.0f} {reps:>28s} {s['compile_seconds']:>10.1f}")
    print(f"ratio ours/brax: {result['ratio_ours_over_brax']:.3f} (jaxrl's iterations 1..K from scratch); "
          f"{result['ratio_same_stage_over_brax']:.3f} at the same stage of training (iterations K+1..2K); "
          f"{result['ratio_same_iterations_over_brax_first_timed_epoch']:.3f} against brax's first timed epoch "
          f"alone (its iterations K+1..2K)")
    return result, write_result(benchmark, result, args.out, quick=args.quick)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="brax/inverted_pendulum")
    p.add_argument("--num-envs", type=int, default=None, help="default: jaxrl's PPO config/preset for --env")
    p.add_argument("--rollout-length", type=int, default=None, help="default: jaxrl's config/preset")
    p.add_argument("--num-epochs", type=int, default=None, help="default: jaxrl's config/preset")
    p.add_argument("--num-minibatches", type=int, default=None, help="default: jaxrl's config/preset")
    p.add_argument("--iterations", type=int, default=20, help="training iterations per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 32 envs x 16 steps, 2 iterations, 2 repeats (unless given)")
    p.add_argument("--mjx-opt", default=None,
                   help="MJX solver options for the env of both sides, as a YAML mapping, e.g. "
                        "'{iterations: 2, tolerance: -1}' (a solver run for exactly 2 iterations per step, "
                        "whatever the envs' states; see bench/solver_iterations.py)")
    p.add_argument("--no-normalize-obs", action="store_true",
                   help="observation normalisation off on both sides (default: on, jaxrl's preset)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a jaxrl config override (repeatable); the settings of the mapping above reach brax's side "
                        "too, the others (e.g. algo.normalize_obs_update=rollout) jaxrl's only; recorded")
    p.add_argument("--brax-loss-on-acting-statistics", action="store_true",
                   help="a bench-only patch of brax's side: its normaliser update moves after its SGD steps, so "
                        "its loss sees each batch as its policy did (see BraxLossOnActingStatistics); recorded")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.num_envs = args.num_envs or 32
        args.rollout_length = args.rollout_length or 16
        args.iterations, args.repeats = min(args.iterations, 2), min(args.repeats, 2)
    if args.repeats < 1 or args.iterations < 1:
        raise SystemExit("--repeats and --iterations must be >= 1")

    config = jaxrl_config(args)
    a = config.algo_config
    if a.num_envs % a.num_minibatches:
        raise SystemExit(f"num_envs={a.num_envs} must be divisible by num_minibatches={a.num_minibatches} "
                         f"(brax's minibatches are whole unrolls)")
    settings = {"num_envs": a.num_envs, "rollout_length": a.rollout_length, "num_epochs": a.num_epochs,
                "num_minibatches": a.num_minibatches, "minibatch_transitions": a.num_envs * a.rollout_length
                // a.num_minibatches, "gradient_steps_per_iteration": a.num_epochs * a.num_minibatches,
                "iterations_per_repeat": args.iterations, "repeats": args.repeats,
                "env_steps_per_repeat": args.iterations * a.num_envs * a.rollout_length,
                "episode_length": config.env_kwargs.get("episode_length"), "action_repeat": 1,
                "hidden_sizes": list(a.hidden_sizes), "activation": a.activation, "normalize_obs": a.normalize_obs}
    if config.env_kwargs.get("mjx_opt"):
        settings["mjx_opt"] = config.env_kwargs["mjx_opt"]
    if args.override:
        settings["overrides"] = list(args.override)
    print(f"{args.env}: {a.num_envs} envs x {a.rollout_length} steps, {a.num_epochs} epochs x "
          f"{a.num_minibatches} minibatches, {args.iterations} iterations x {args.repeats} repeats "
          f"on {jax.devices()[0]}", flush=True)
    patch = None
    if args.brax_loss_on_acting_statistics:
        settings["brax_loss_on_acting_statistics"] = True
        patch = BraxLossOnActingStatistics().install()
    try:
        result, path = compare(config, args, run_brax, "brax-ppo", settings)
    finally:
        if patch is not None:
            patch.uninstall()
    plot(result, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
