"""On-policy training throughput side by side, same device, same run: PPO vs rejax, Stable-Baselines3 and
sbx; A2C and TRPO vs Stable-Baselines3 (the peers that have them; SB3's TRPO is in sb3-contrib).

    .venv/bin/python bench/ppo_peers.py [--cases "PPO CartPole-v1" ...] [--peers rejax sb3 sbx] [--quick]

Equal settings on every side (table CASES): num_envs, rollout length, epochs, minibatch size (PPO;
A2C: one RMSProp step per rollout on n-step returns, as SB3's A2C; TRPO: the same conjugate-gradient,
line-search and value-regression counts), (64, 64) tanh actor and critic, no observation or reward
normalisation, a constant learning rate, the same number of env steps. Every other hyperparameter is that
of jaxrl's preset for the env, mapped onto each peer's own argument (rejax_ppo_kwargs, sb3_onpolicy_kwargs);
what a peer cannot match is listed by onpolicy_differences and recorded in the result file with each peer's
request. jaxrl and rejax run gymnax's envs (same jax/XLA version); SB3 and sbx run gymnasium's, in a
DummyVecEnv. Each side: median of --repeats timed calls after compilation (sbx: after a warm-up `learn`),
compile time apart, in each of --rounds rounds. A round runs every side in turn (jaxrl's program is compiled
once; each peer runs in a fresh worker process), so slow spells of a shared machine fall on all sides; a row
reports the median over rounds, and its ratio is the median of the per-round ratios.
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
from offpolicy_peers import REJAX_CLIP, REJAX_DONE, rejax_eps  # noqa: E402

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


def env_steps(case: str, quick: bool = False) -> int:
    """One seed's env steps per call at an on-policy case's settings; a quarter with `quick`, as the
    diagnostics (launches.py, kernel_profile.py, ppo_update_ab.py, prng_lowering.py) run their smoke runs."""
    s = CASES[case]
    return s["num_envs"] * s["rollout_length"] * s["iterations"] // (4 if quick else 1)


def ours(algo: str, env_id: str, s: dict) -> list[str]:
    """jaxrl's config overrides for a case (env steps and seeds are added by common.jaxrl_side); the rest of
    its settings are the env's preset. The learning rate stays constant, as rejax's must (it cannot anneal),
    and rewards are not scaled (rejax's nearest option, reward normalisation, would add work)."""
    over = [f"env=gymnax/{env_id}", f"algo={algo}", f"algo.num_envs={s['num_envs']}",
            f"algo.rollout_length={s['rollout_length']}", "algo.normalize_obs=false", "algo.reward_scale=1.0",
            f"algo.hidden_sizes=[{', '.join(map(str, HIDDEN))}]", "algo.activation=tanh"]
    if algo == "ppo":
        over += [f"algo.num_epochs={s['num_epochs']}", f"algo.num_minibatches={s['num_minibatches']}",
                 "algo.anneal_lr=false"]
    elif algo == "trpo":
        over += [f"algo.{k}={s[k]}" for k in ("cg_iters", "max_backtracks", "backtrack_coef", "max_kl", "cg_damping",
                                               "gae_lambda", "vf_epochs", "num_minibatches", "vf_lr")]
        over += [f"algo.vf_max_grad_norm={NO_CLIP:g}"]
    else:  # a2c: n-step returns over the whole rollout, RMSProp, as SB3's A2C
        over += [f"algo.n_steps={s['rollout_length']}", "algo.optimizer=rmsprop", "algo.anneal_lr=false"]
    return over


def algo_config(algo: str, env_id: str, s: dict):
    """jaxrl's resolved settings (its AlgoConfig) for a case: what the peers' arguments are mapped from."""
    from jaxrl.config import load_config

    return load_config(ours(algo, env_id, s)).algo_config


def rejax_ppo_kwargs(a) -> dict:
    """rejax PPO's arguments for jaxrl's PPO settings `a` (a PPOConfig), as far as rejax has them (see
    onpolicy_differences); the caller adds total_timesteps and, for logging, eval_freq."""
    return {"num_envs": a.num_envs, "num_steps": a.rollout_length, "num_epochs": a.num_epochs,
            "num_minibatches": a.num_minibatches, "learning_rate": a.lr, "gamma": a.gamma,
            "gae_lambda": a.gae_lambda, "clip_eps": a.clip_eps, "vf_coef": a.vf_coef, "ent_coef": a.ent_coef,
            "max_grad_norm": a.max_grad_norm, "normalize_observations": a.normalize_obs,
            # rejax has no reward scale; its reward normalisation is the nearest option
            "normalize_rewards": a.reward_scale != 1.0,
            "agent_kwargs": {"activation": a.activation, "hidden_layer_sizes": list(a.hidden_sizes)}}


def sb3_onpolicy_kwargs(algo: str, a) -> dict:
    """Stable-Baselines3's (or sbx's) constructor arguments for jaxrl's PPO, A2C or TRPO settings `a` (its
    AlgoConfig), as far as the peer has them (see onpolicy_differences). Learning-rate annealing and
    observation normalisation are request fields of sb3_worker, not constructor arguments."""
    kwargs = {"n_steps": a.rollout_length, "gamma": a.gamma, "normalize_advantage": a.normalize_advantages,
              "activation": a.activation,
              "policy_kwargs": {"net_arch": {"pi": list(a.hidden_sizes), "vf": list(a.hidden_sizes)}}}
    if algo == "ppo":
        kwargs.update(batch_size=a.num_envs * a.rollout_length // a.num_minibatches, n_epochs=a.num_epochs,
                      learning_rate=a.lr, gae_lambda=a.gae_lambda, clip_range=a.clip_eps,
                      clip_range_vf=a.clip_eps if a.clip_value else None, vf_coef=a.vf_coef, ent_coef=a.ent_coef,
                      max_grad_norm=a.max_grad_norm)
    elif algo == "a2c":  # SB3's A2C: returns bootstrapped at the end of the rollout (lambda = 1), RMSprop eps 1e-5
        kwargs.update(learning_rate=a.lr, gae_lambda=1.0, vf_coef=a.vf_coef, ent_coef=a.ent_coef,
                      max_grad_norm=a.max_grad_norm, use_rms_prop=a.optimizer == "rmsprop")
    elif algo == "trpo":
        kwargs.update(batch_size=a.num_envs * a.rollout_length // a.num_minibatches, n_critic_updates=a.vf_epochs,
                      cg_max_steps=a.cg_iters,
                      line_search_max_iter=a.max_backtracks + 1,  # SB3 counts the full step as a try; jaxrl not
                      line_search_shrinking_factor=a.backtrack_coef, target_kl=a.max_kl, cg_damping=a.cg_damping,
                      gae_lambda=a.gae_lambda, learning_rate=a.vf_lr)
    else:
        raise ValueError(f"no on-policy SB3 mapping for {algo!r}")
    return kwargs


def onpolicy_differences(algo: str, peer: str, a) -> list[str]:
    """What `peer` cannot match of jaxrl's PPO, A2C or TRPO settings `a` (it gets the rest: rejax_ppo_kwargs,
    sb3_onpolicy_kwargs). The three sides that bootstrap episodes cut by the time limit from their final
    observation (jaxrl, SB3, sbx) do so alike; rejax does not."""
    out = []
    if peer == "rejax":
        out.append(REJAX_CLIP.format(a.max_grad_norm))
        if a.reward_scale != 1.0:
            out.append(f"no reward scale ({a.reward_scale:g} in jaxrl's settings): rejax's reward normalisation "
                       "instead")
        if a.anneal_lr:
            out.append("constant learning rate (rejax has no learning-rate annealing)")
        out.append(REJAX_DONE)
        out += rejax_eps(a.optimizer_eps)
    elif algo == "ppo" and a.clip_value:
        out.append("value loss on the clipped prediction alone (SB3's form), not the larger of the clipped and "
                   "unclipped losses" if peer == "sb3" else
                   "no value-function clipping (sbx's PPO takes clip_range_vf but does not use it)")
    if algo == "a2c" and a.n_steps < a.rollout_length:
        out.append(f"returns bootstrapped at the end of the rollout, not after n_steps={a.n_steps}")
    if algo == "trpo" and a.vf_max_grad_norm != NO_CLIP:
        out.append(f"no gradient clip on the value function (jaxrl's settings clip at {a.vf_max_grad_norm:g})")
    return out


def rejax_request(a, steps: int, env_id: str, repeats: int) -> dict:
    return {"mode": "throughput", "algo": "ppo", "env": env_id, "repeats": repeats, "seed": 0,
            "kwargs": dict(rejax_ppo_kwargs(a), total_timesteps=steps)}


def sb3_request(lib: str, algo: str, env_id: str, a, steps: int, repeats: int) -> dict:
    batch = a.num_envs * a.rollout_length
    return {"mode": "throughput", "lib": lib, "algo": algo, "env": env_id, "n_envs": a.num_envs,
            "repeats": repeats, "total_timesteps": steps, "warmup_timesteps": max(2 * batch, 1024),
            "torch_threads": TORCH_THREADS, "anneal_lr": getattr(a, "anneal_lr", False),
            "kwargs": sb3_onpolicy_kwargs(algo, a)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_args(p, CASES, ["rejax", "sb3", "sbx"], "a quarter of the iterations, 1 repeat (smoke run)")
    args = p.parse_args()
    check_merge_args(p, args)
    repeats = 1 if args.quick else args.repeats
    rounds = 1 if args.quick else args.rounds

    results, requests, differences = {}, {}, {}
    for case in args.cases:
        s = CASES[case]
        algo, env_id = case.split()[0].lower(), case.split()[1]
        a = algo_config(algo, env_id, s)
        iterations = max(2, s["iterations"] // 4) if args.quick else s["iterations"]
        steps = s["num_envs"] * s["rollout_length"] * iterations
        sides = jaxrl_sides(ours(algo, env_id, s), steps, args.seeds_in_one_call, repeats)
        requests[case], differences[case] = {}, {}
        for peer in [p for p in args.peers if p in s["peers"]]:
            if peer == "rejax":
                request = rejax_request(a, steps, env_id, repeats)
                sides[peer] = peer_side("rejax", "rejax_worker.py", request)
            else:
                request = sb3_request(peer, algo, env_id, a, steps, repeats)
                sides[peer] = peer_side("sb3", "sb3_worker.py", request)
            requests[case][peer] = request
            differences[case][peer] = onpolicy_differences(algo, peer, a)
        results[case] = run_rounds(case, sides, rounds)
        path, result = write_cases("ppo-peers", lambda: provenance(
            benchmark="ppo_peers", settings={c: CASES[c] for c in args.cases}, hidden_sizes=HIDDEN, activation="tanh",
            repeats=repeats, rounds=rounds, quick=args.quick, seeds=[0], peer_requests=requests,
            differences=differences, results=results, note=ROUNDS_NOTE),
            args.cases, results, args.out, args.quick)
    throughput_plot(result, path.with_suffix(".png"), "On-policy training throughput")
    merge_run(args, result, lambda merged, png: throughput_plot(merged, png, "On-policy training throughput"))


if __name__ == "__main__":
    main()
