"""Training throughput of jaxrl's SAC vs brax's own SAC trainer, same brax env, same physics, equal settings.

    .venv/bin/python bench/brax_sac.py                        # brax/inverted_pendulum, 32 envs, 8 updates
    .venv/bin/python bench/brax_sac.py --env brax/ant --num-envs 128 --num-updates 64   # on a GPU

What is compared: env steps per second of training (acting, replay, SAC updates, all on device) of
  * jaxrl: `make_train_many(config)` for one seed (algo=sac), jitted and compiled ahead of time, then called;
  * brax:  `brax.training.agents.sac.train.train` (brax 0.14), the trainer brax ships,
on one brax env built by jaxrl's adapter (MJX pipeline), 1000-step episodes, action_repeat=1 on both sides.

Settings mapping (jaxrl name -> brax argument):
  num_envs N, rollout_length 1 -> num_envs=N: one step of every env per training step
  num_updates G                -> grad_updates_per_step=G (brax samples G*B transitions at once, then scans)
  batch_size B                 -> batch_size=B
  buffer_size                  -> max_replay_size
  learning_starts              -> jaxrl: N, so every iteration of every timed call learns (G steps), as every
                                  training step of a brax epoch does; brax: min_replay_size=B, filled with
                                  policy actions before its first epoch
  hidden_sizes, activation     -> make_sac_networks(hidden_layer_sizes, activation), two critics on both sides
  lr, gamma, tau, reward_scale -> learning_rate, discounting, tau, reward_scaling
  target_entropy_scale=0.5     -> brax's fixed target entropy of -0.5 * action dimensions
  observation normalisation    -> off on both sides (normalize_observations=False)
Differences left as they are (design, not settings): brax's temperature optimiser has a fixed lr of 3e-4
(jaxrl: algo.lr for all three); brax updates α, then the critics, then the actor against the critics from
before the step (jaxrl: critics, actor against the new critics, α).

Timing: as bench/brax_ppo.py. jaxrl is compiled once and timed one call at a time between brax's epochs
(progress_fn), so both sides see the same machine noise. ONE brax `train()` runs --repeats + 1 epochs of
--iterations training steps; brax times each epoch itself ('training/walltime'); epoch 1 holds compilation
(and the replay prefill, which brax's clock counts before it) and is not a repeat. brax's SAC has no switch
to turn evaluation off: it evaluates after every epoch with num_eval_envs=1, outside its epoch clock.
Both sides run iterations * N env steps and iterations * G gradient steps per timed repeat.

Writes bench/results/brax-sac-<platform>.json (or --out) and a bar plot .png beside it.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from brax_ppo import SEED, CompileClock, EpochMarks, brax_compat, compare, plot  # noqa: E402
from common import OPTAX_EPS  # noqa: E402
from jaxrl.config import load_config  # noqa: E402
from jaxrl.core.networks import ACTIVATIONS  # noqa: E402
from jaxrl.envs import make_base  # noqa: E402


def jaxrl_config(args):
    return load_config(["algo=sac", f"env={args.env}", f"seed={SEED}", "num_seeds=1",
                        f"algo.num_envs={args.num_envs}", "algo.rollout_length=1",
                        f"algo.num_updates={args.num_updates}", f"algo.batch_size={args.batch_size}",
                        f"algo.buffer_size={args.buffer_size}", f"algo.learning_starts={args.num_envs}",
                        f"algo.hidden_sizes={list(args.hidden_sizes)}", "algo.activation=relu",
                        "algo.target_entropy_scale=0.5", f"algo.optimizer_eps={OPTAX_EPS}",  # brax's Adam
                        f"total_env_steps={args.iterations * args.num_envs}"])


def brax_kwargs(config, base_env, iterations: int, epochs: int) -> dict:
    from brax.training.agents.sac import networks as sac_networks

    a = config.algo_config
    prefill = -(-a.batch_size // a.num_envs) * a.num_envs  # brax rounds min_replay_size up to whole env steps
    network_factory = functools.partial(sac_networks.make_sac_networks, hidden_layer_sizes=tuple(a.hidden_sizes),
                                        activation=ACTIVATIONS[a.activation])
    return dict(num_timesteps=prefill + epochs * iterations * a.num_envs, episode_length=base_env.max_episode_steps,
                action_repeat=1, num_envs=a.num_envs, num_eval_envs=1, learning_rate=a.lr, discounting=a.gamma,
                seed=config.seed, batch_size=a.batch_size, num_evals=epochs + 1, normalize_observations=False,
                reward_scaling=a.reward_scale, tau=a.tau, min_replay_size=a.batch_size,
                max_replay_size=a.buffer_size, grad_updates_per_step=a.num_updates,
                network_factory=network_factory)


def run_brax(config, iterations: int, repeats: int, clock: CompileClock, between=None) -> dict:
    from brax.training.agents.sac import train as brax_sac

    compat = brax_compat()
    a = config.algo_config
    base_env = make_base(config.env, **config.env_kwargs)
    epochs = repeats + 1
    kwargs = brax_kwargs(config, base_env, iterations, epochs)
    epochs_log = EpochMarks(clock, repeats, between)
    t0 = time.perf_counter()
    brax_sac.train(environment=base_env.env, progress_fn=epochs_log, **kwargs)
    timing = epochs_log.summary(t0, time.perf_counter() - t0, epochs, iterations * a.num_envs)
    printable = {k: v for k, v in kwargs.items() if k != "network_factory"}
    printable["network_factory"] = {"fn": "brax.training.agents.sac.networks.make_sac_networks",
                                    **{k: (getattr(v, "__name__", repr(v)) if callable(v) else v)
                                       for k, v in kwargs["network_factory"].keywords.items()}}
    return {"train_kwargs": printable, "backend": base_env.backend, "compat_shim": compat, **timing,
            "eval_work": "one 1000-step evaluation episode (num_eval_envs=1) before training and after every "
                         "epoch, outside brax's epoch clock",
            "timed_region": "each repeat is one brax training epoch (`iterations` training steps in one compiled "
                            "pmap call), as timed by brax itself; epoch 1 (with the replay prefill) is not a repeat"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="brax/inverted_pendulum")
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--num-updates", type=int, default=8, help="gradient steps per training step")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--buffer-size", type=int, default=100_000)
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[64, 64])
    p.add_argument("--iterations", type=int, default=100, help="training steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="smoke run: 10 iterations, 2 repeats")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.iterations, args.repeats = min(args.iterations, 10), min(args.repeats, 2)
    if args.repeats < 1 or args.iterations < 1:
        raise SystemExit("--repeats and --iterations must be >= 1")

    config = jaxrl_config(args)
    a = config.algo_config
    settings = {"num_envs": a.num_envs, "gradient_steps_per_iteration": a.num_updates, "batch_size": a.batch_size,
                "buffer_size": a.buffer_size, "iterations_per_repeat": args.iterations, "repeats": args.repeats,
                "env_steps_per_repeat": args.iterations * a.num_envs, "hidden_sizes": list(a.hidden_sizes),
                "activation": a.activation, "normalize_obs": False, "action_repeat": 1}
    print(f"{args.env}: SAC, {a.num_envs} envs, {a.num_updates} gradient steps of {a.batch_size} per step, "
          f"{args.iterations} steps x {args.repeats} repeats on {jax.devices()[0]}", flush=True)
    result, path = compare(config, args, run_brax, "brax-sac", settings)
    plot(result, path.with_suffix(".png"), "SAC",
         f"{a.num_envs} envs, {a.num_updates} x {a.batch_size} gradient steps per step")


if __name__ == "__main__":
    main()
