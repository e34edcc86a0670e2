"""On-policy training throughput side by side, same device, same run: PPO vs rejax, Stable-Baselines3 and
sbx; A2C and TRPO vs Stable-Baselines3 (the peers that have them; SB3's TRPO is in sb3-contrib).

    .venv/bin/python bench/ppo_peers.py [--cases "PPO CartPole-v1" ...] [--peers rejax sb3 sbx] [--quick]

Equal settings on every side (table CASES): num_envs, rollout length, epochs, minibatch size (PPO;
A2C: one RMSProp step per rollout on n-step returns, as SB3's A2C; TRPO: the same conjugate-gradient,
line-search and value-regression counts), (64, 64) tanh actor and critic, no observation or reward
normalisation, the same number of env steps. jaxrl and
rejax run gymnax's envs (same jax/XLA version); SB3 and sbx run gymnasium's, in a DummyVecEnv. Each side:
median of --repeats timed calls after compilation (sbx: after a warm-up `learn`), compile time apart, in
each of --rounds rounds. A round runs every side in turn (jaxrl's program is compiled once; each peer
runs in a fresh worker process), so slow spells of a shared machine fall on all sides; a row reports the
median over rounds, and its ratio is the median of the per-round ratios.
jaxrl is also timed with 8 seeds vmapped in one call (steps/s counts every seed's steps).
Peers run in their own venvs under .venv-peers/ (made on first use, see bench/common.py).
Writes bench/results/ppo-peers-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (ROUNDS_NOTE, TORCH_THREADS, add_round_args, check_merge_args, jaxrl_sides,  # noqa: E402
                    merge_run, peer_side, provenance, run_rounds, throughput_plot, write_cases)

CASES = {
    "PPO CartPole-v1": {"num_envs": 16, "rollout_length": 128, "num_epochs": 4, "num_minibatches": 4,
                        "iterations": 32, "peers": ["rejax", "sb3", "sbx"]},
    "PPO Pendulum-v1": {"num_envs": 16, "rollout_length": 256, "num_epochs": 10, "num_minibatches": 32,
                        "iterations": 16, "peers": ["rejax", "sb3", "sbx"]},
    # rejax and sbx have no A2C
    "A2C CartPole-v1": {"num_envs": 16, "rollout_length": 5, "iterations": 800, "peers": ["sb3"]},
    # jaxrl's TRPO preset; SB3's TRPO is sb3-contrib's; rejax and sbx have none. Each iteration: 10 conjugate-
    # gradient steps, a line search of the full step and up to 10 halvings to KL <= 0.01, then 5 epochs of 4
    # value minibatches
    "TRPO CartPole-v1": {"num_envs": 16, "rollout_length": 128, "iterations": 32, "cg_iters": 10,
                         "max_backtracks": 10, "backtrack_coef": 0.5, "max_kl": 0.01, "cg_damping": 0.1,
                         "gae_lambda": 0.97, "vf_epochs": 5, "num_minibatches": 4, "vf_lr": 1e-3,
                         "peers": ["sb3"]},
}
# SB3's TRPO does not clip the value function's gradient; jaxrl's clip at this norm never binds.
NO_CLIP = 1e9
HIDDEN = [64, 64]


def ours(algo: str, env_id: str, s: dict) -> list[str]:
    """jaxrl's config overrides for a case (env steps and seeds are added by common.jaxrl_side)."""
    over = [f"env=gymnax/{env_id}", f"algo={algo}", f"algo.num_envs={s['num_envs']}",
            f"algo.rollout_length={s['rollout_length']}", "algo.normalize_obs=false"]
    if algo == "ppo":
        over += [f"algo.num_epochs={s['num_epochs']}", f"algo.num_minibatches={s['num_minibatches']}"]
    elif algo == "trpo":
        over += [f"algo.{k}={s[k]}" for k in ("cg_iters", "max_backtracks", "backtrack_coef", "max_kl", "cg_damping",
                                               "gae_lambda", "vf_epochs", "num_minibatches", "vf_lr")]
        over += [f"algo.vf_max_grad_norm={NO_CLIP:g}"]
    else:  # a2c: n-step returns over the whole rollout, RMSProp, as SB3's A2C
        over += [f"algo.n_steps={s['rollout_length']}", "algo.optimizer=rmsprop"]
    return over


def rejax_request(env_id: str, s: dict, steps: int, repeats: int) -> dict:
    return {"mode": "throughput", "algo": "ppo", "env": env_id, "repeats": repeats, "seed": 0,
            "kwargs": {"num_envs": s["num_envs"], "num_steps": s["rollout_length"], "num_epochs": s["num_epochs"],
                       "num_minibatches": s["num_minibatches"], "total_timesteps": steps,
                       "agent_kwargs": {"activation": "tanh", "hidden_layer_sizes": HIDDEN}}}


def trpo_sb3_kwargs(s: dict) -> dict:
    """sb3-contrib TRPO's arguments for jaxrl's TRPO settings `s` (a CASES entry or a TRPOConfig's fields)."""
    return {"batch_size": s["num_envs"] * s["rollout_length"] // s["num_minibatches"],
            "n_critic_updates": s["vf_epochs"], "cg_max_steps": s["cg_iters"],
            "line_search_max_iter": s["max_backtracks"] + 1,  # SB3 counts the full step as a try; jaxrl does not
            "line_search_shrinking_factor": s["backtrack_coef"], "target_kl": s["max_kl"],
            "cg_damping": s["cg_damping"], "gae_lambda": s["gae_lambda"], "learning_rate": s["vf_lr"]}


def sb3_request(lib: str, algo: str, env_id: str, s: dict, steps: int, repeats: int) -> dict:
    batch = s["num_envs"] * s["rollout_length"]
    kwargs = {"n_steps": s["rollout_length"], "activation": "tanh",
              "policy_kwargs": {"net_arch": {"pi": HIDDEN, "vf": HIDDEN}}}
    if algo == "ppo":
        kwargs.update(batch_size=batch // s["num_minibatches"], n_epochs=s["num_epochs"])
    elif algo == "trpo":
        kwargs.update(trpo_sb3_kwargs(s))
    return {"mode": "throughput", "lib": lib, "algo": algo, "env": env_id, "n_envs": s["num_envs"],
            "repeats": repeats, "total_timesteps": steps, "warmup_timesteps": max(2 * batch, 1024),
            "torch_threads": TORCH_THREADS, "kwargs": kwargs}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_args(p, CASES, ["rejax", "sb3", "sbx"], "a quarter of the iterations, 1 repeat (smoke run)")
    args = p.parse_args()
    check_merge_args(p, args)
    repeats = 1 if args.quick else args.repeats
    rounds = 1 if args.quick else args.rounds

    results = {}
    for case in args.cases:
        s = CASES[case]
        algo, env_id = case.split()[0].lower(), case.split()[1]
        iterations = max(2, s["iterations"] // 4) if args.quick else s["iterations"]
        steps = s["num_envs"] * s["rollout_length"] * iterations
        sides = jaxrl_sides(ours(algo, env_id, s), steps, args.seeds_in_one_call, repeats)
        for peer in [p for p in args.peers if p in s["peers"]]:
            if peer == "rejax":
                sides[peer] = peer_side("rejax", "rejax_worker.py", rejax_request(env_id, s, steps, repeats))
            else:
                sides[peer] = peer_side("sb3", "sb3_worker.py", sb3_request(peer, algo, env_id, s, steps, repeats))
        results[case] = run_rounds(case, sides, rounds)
        path, result = write_cases("ppo-peers", lambda: provenance(
            benchmark="ppo_peers", settings={c: CASES[c] for c in args.cases}, hidden_sizes=HIDDEN, activation="tanh",
            repeats=repeats, rounds=rounds, quick=args.quick, seeds=[0], results=results, note=ROUNDS_NOTE),
            args.cases, results, args.out, args.quick)
    throughput_plot(result, path.with_suffix(".png"), "On-policy training throughput")
    merge_run(args, result, lambda merged, png: throughput_plot(merged, png, "On-policy training throughput"))


if __name__ == "__main__":
    main()
