"""Off-policy training throughput side by side, same device, same run: DQN and SAC vs rejax,
Stable-Baselines3 and sbx.

    .venv/bin/python bench/offpolicy_peers.py [--cases "DQN CartPole-v1" ...] [--peers rejax sb3 sbx] [--quick]

Equal settings on every side (table CASES, in jaxrl's names; `rejax_request` and `sb3_request` map them onto
each peer's own names and units):
- DQN CartPole-v1: 4 envs, 1 env step per env per iteration, then 1 gradient step on 64 transitions drawn
  from a 50,000-transition buffer, once 1,000 env steps are stored. (64, 64) relu Q-network, Adam lr 1e-3,
  gamma 0.99, gradient norm clipped at 10, Huber loss. Double DQN. Hard target copy every 250 gradient steps
  (1,000 env steps). ε from 1.0 to 0.05 over the first 20% of the call's env steps. 50,000 env steps per call.
- SAC Pendulum-v1: 1 env, 1 gradient step on 256 transitions per env step, buffer 100,000, learning starts
  once 1,000 env steps are stored (uniform random actions before). (64, 64) relu actor and twin critics,
  Adam lr 1e-3 for actor, critics and α, gamma 0.99, Polyak τ 0.005 at every gradient step, α learned from
  1.0 towards the entropy -|A|. 5,000 env steps per call, so that a round of all five trainers takes about
  3 minutes on the 2-core CPU (at 10,000, the call with 8 vmapped seeds alone took 73 s).
Where a peer cannot match a setting, peer_differences says how it differs; the result file records it, with the
exact arguments each peer got.
jaxrl and rejax run gymnax's envs (same jax/XLA version); SB3 and sbx run gymnasium's, in a DummyVecEnv,
with torch on one thread (TORCH_THREADS).
Each side: median of --repeats timed calls after compilation (sbx: after a warm-up `learn` that includes
gradient steps), compile time apart, in each of --rounds rounds. A round runs every side in turn (jaxrl's
program is compiled once; each peer runs in a fresh worker process); a row reports the median over rounds,
and its ratio is the median of the per-round ratios. jaxrl is also timed with 8 seeds vmapped in one call
(steps/s counts every seed's steps). Peers run in their own venvs under .venv-peers/ (see bench/common.py).
Writes bench/results/offpolicy-peers-<platform>.json and .png.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (OPTAX_EPS, ROUNDS_NOTE, TORCH_THREADS, add_round_args, check_merge_args, jaxrl_sides,  # noqa: E402
                    merge_run, peer_side, provenance, run_rounds, throughput_plot, write_cases)

HIDDEN = [64, 64]
ACTIVATION = "relu"
PEERS = ["rejax", "sb3", "sbx"]
# "algo": jaxrl's algo.* fields (every side gets them, mapped); env_steps: per timed call and seed.
CASES = {
    "DQN CartPole-v1": {
        "algo": {"num_envs": 4, "rollout_length": 1, "num_updates": 1, "batch_size": 64, "buffer_size": 50_000,
                 "learning_starts": 1_000, "lr": 1e-3, "gamma": 0.99, "max_grad_norm": 10.0, "loss": "huber",
                 "double": True, "target_update_interval": 250, "tau": 1.0, "eps_start": 1.0, "eps_end": 0.05,
                 "exploration_fraction": 0.2},
        "env_steps": 50_000, "peers": PEERS},
    "SAC Pendulum-v1": {
        "algo": {"num_envs": 1, "rollout_length": 1, "num_updates": 1, "batch_size": 256, "buffer_size": 100_000,
                 "learning_starts": 1_000, "lr": 1e-3, "gamma": 0.99, "num_critics": 2, "autotune": True,
                 "init_alpha": 1.0, "target_update_interval": 1, "tau": 0.005},
        "env_steps": 5_000, "peers": PEERS},
}
_REJAX_SAMPLE = ("draws each minibatch without replacement (jax.random.choice with p=...), which makes a random key "
                 "for every slot of the buffer ({:,}) at every gradient step, where the others draw uniformly with "
                 "replacement")
REJAX_CLIP = "clips each gradient element to ±{:g} (optax.clip), not the global norm"
REJAX_DONE = ("stores one done flag (gymnax 0.0.9's step), so episodes cut by the time limit do not bootstrap "
              "from their final observation as on the other sides")
_PLAIN_TARGET = "plain DQN target, the max of the target network ({} has no Double DQN)"


def rejax_eps(eps: float) -> list[str]:
    """rejax's Adam keeps optax's epsilon; the difference, if jaxrl's settings use another."""
    return [] if eps == OPTAX_EPS else [f"Adam's epsilon {OPTAX_EPS:g} (rejax's, fixed), not {eps:g}"]


def peer_differences(algo: str, s: dict, peer: str, hidden) -> list[str]:
    """What `peer` cannot match of jaxrl's settings `s` (algo.* fields) for DQN or SAC; it is matched as
    closely as the peer allows (see rejax_kwargs, sb3_kwargs)."""
    out = []
    if algo == "dqn":
        name = {"rejax": "rejax", "sb3": "SB3", "sbx": "sbx"}[peer]
        if peer == "rejax":
            if list(hidden) != [64, 64]:
                out.append(f"(64, 64) Q-network, not {tuple(hidden)} (rejax's DQN fixes its hidden sizes)")
            if s["loss"] == "huber":
                out.append("squared TD loss (rejax has no Huber loss)")
            if s["max_grad_norm"] != float("inf"):
                out.append(REJAX_CLIP.format(s["max_grad_norm"]))
        else:
            if s["double"]:
                out.append(_PLAIN_TARGET.format(name))
            if s["loss"] == "mse":
                out.append(f"Huber loss ({name}'s DQN has no squared loss)")
            if peer == "sbx" and s["max_grad_norm"] != float("inf"):
                out.append("no gradient clipping (sbx's DQN has no max_grad_norm)")
    elif peer == "rejax":
        out.append("acts with its policy from the start, not uniformly at random until learning starts")
    elif peer == "sbx" and s["target_update_interval"] != 1:
        out.append("updates the target critics at every gradient step (sbx has no option)")
    if peer == "rejax":
        out += [_REJAX_SAMPLE.format(s["buffer_size"]), REJAX_DONE, *rejax_eps(s["optimizer_eps"])]
    return out


def ours(case: str) -> list[str]:
    """jaxrl's config overrides for a case (env steps and seeds are added by common.jaxrl_side)."""
    algo, env_id = case.split()[0].lower(), case.split()[1]
    return [f"env=gymnax/{env_id}", f"algo={algo}", f"algo.hidden_sizes={HIDDEN}", f"algo.activation={ACTIVATION}",
            *(f"algo.{k}={v}" for k, v in CASES[case]["algo"].items())]


def target_interval_env_steps(s: dict) -> int:
    """The gradient steps between target updates, counted in env steps (the peers' unit)."""
    env_steps = s["target_update_interval"] * s["num_envs"] * s["rollout_length"]
    assert env_steps % s["num_updates"] == 0, s
    return env_steps // s["num_updates"]


def rejax_kwargs(algo: str, s: dict, steps: int, hidden, activation: str, eval_freq: int | None = None) -> dict:
    """rejax's config for jaxrl's settings `s`. rejax does num_envs env steps, then num_epochs gradient steps,
    per iteration; it counts the target interval in env steps, and polyak is the weight of the old target.
    `eval_freq` (env steps) sets how often its eval callback runs: by default once, at the end."""
    assert s["rollout_length"] == 1 and steps % s["num_envs"] == 0, s
    kwargs = {"num_envs": s["num_envs"], "num_epochs": s["num_updates"], "batch_size": s["batch_size"],
              "buffer_size": s["buffer_size"],
              # rejax trains once the step count *before* an iteration's env steps exceeds fill_buffer: this
              # makes its first gradient step follow the same iteration as jaxrl's (learning_starts stored)
              "fill_buffer": s["learning_starts"] - s["num_envs"] - 1,
              "learning_rate": s["lr"], "gamma": s["gamma"], "polyak": 1.0 - s["tau"],
              "target_update_freq": target_interval_env_steps(s), "total_timesteps": steps,
              "eval_freq": eval_freq or steps, "agent_kwargs": {"activation": activation}}
    if algo == "dqn":  # rejax's DQN network is (64, 64), fixed (see peer_differences)
        kwargs.update(ddqn=s["double"], max_grad_norm=s["max_grad_norm"], eps_start=s["eps_start"],
                      eps_end=s["eps_end"], exploration_fraction=s["exploration_fraction"])
    else:  # learned α from 1.0 towards -|A|, as rejax always does
        assert s["autotune"] and s["init_alpha"] == 1.0 and s["target_entropy_scale"] == 1.0, s
        kwargs.update(hidden_layer_sizes=list(hidden), num_critics=s["num_critics"])
    return kwargs


def sb3_kwargs(lib: str, algo: str, s: dict, hidden, activation: str) -> tuple[dict, int]:
    """SB3's or sbx's constructor arguments for jaxrl's settings `s`, and the env steps of a warm-up `learn`
    (100 iterations of gradient steps, so that sbx compiles them before anything is timed). SB3 and sbx
    count train_freq in steps of the vec env (num_envs env steps each), the DQN target interval in env steps
    and SAC's in gradient steps."""
    kwargs = {"learning_rate": s["lr"], "buffer_size": s["buffer_size"], "batch_size": s["batch_size"],
              "gamma": s["gamma"], "tau": s["tau"],
              # SB3 trains once *more* than learning_starts env steps are stored; jaxrl once that many are
              "learning_starts": s["learning_starts"] - 1,
              "train_freq": s["rollout_length"], "gradient_steps": s["num_updates"],
              "activation": activation,
              "policy_kwargs": {"net_arch": list(hidden), "optimizer_kwargs": {"eps": s["optimizer_eps"]}}}
    if algo == "dqn":
        kwargs.update(target_update_interval=target_interval_env_steps(s),
                      exploration_fraction=s["exploration_fraction"], exploration_initial_eps=s["eps_start"],
                      exploration_final_eps=s["eps_end"])
        if lib == "sb3":  # global-norm clipping, as jaxrl; sbx's DQN has no clipping
            kwargs["max_grad_norm"] = s["max_grad_norm"]
    else:
        assert s["autotune"] and s["init_alpha"] == 1.0 and s["target_entropy_scale"] == 1.0, s
        kwargs.update(ent_coef="auto")  # learned, from 1.0, towards -|A|
        kwargs["policy_kwargs"]["n_critics"] = s["num_critics"]
        if lib == "sb3":
            kwargs["target_update_interval"] = s["target_update_interval"]
    return kwargs, s["learning_starts"] + 100 * s["num_envs"] * s["rollout_length"]


def settings(case: str) -> dict:
    """Every algo.* field jaxrl runs a case with (its defaults, then the case's)."""
    from jaxrl.config import load_config

    algo = load_config(ours(case) + [f"total_env_steps={CASES[case]['env_steps']}"]).algo_config
    return dict(vars(algo))


def rejax_request(case: str, steps: int, repeats: int) -> dict:
    algo = case.split()[0].lower()
    return {"mode": "throughput", "algo": algo, "env": case.split()[1], "repeats": repeats, "seed": 0,
            "kwargs": rejax_kwargs(algo, settings(case), steps, HIDDEN, ACTIVATION)}


def sb3_request(lib: str, case: str, steps: int, repeats: int) -> dict:
    algo, s = case.split()[0].lower(), settings(case)
    kwargs, warmup = sb3_kwargs(lib, algo, s, HIDDEN, ACTIVATION)
    return {"mode": "throughput", "lib": lib, "algo": algo, "env": case.split()[1], "n_envs": s["num_envs"],
            "repeats": repeats, "total_timesteps": steps, "warmup_timesteps": warmup,
            "torch_threads": TORCH_THREADS, "kwargs": kwargs}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_args(p, CASES, PEERS, "learning_starts + 1,000 env steps per call, 1 repeat, 1 round (smoke run)")
    args = p.parse_args()
    check_merge_args(p, args)
    repeats = 1 if args.quick else args.repeats
    rounds = 1 if args.quick else args.rounds

    results, requests, differences, env_steps = {}, {}, {}, {}
    for case in args.cases:
        s = CASES[case]
        steps = s["algo"]["learning_starts"] + 1_000 if args.quick else s["env_steps"]
        env_steps[case] = steps
        sides = jaxrl_sides(ours(case), steps, args.seeds_in_one_call, repeats)
        requests[case] = {}
        for peer in [p for p in args.peers if p in s["peers"]]:
            if peer == "rejax":
                request = rejax_request(case, steps, repeats)
                sides[peer] = peer_side("rejax", "rejax_worker.py", request)
            else:
                request = sb3_request(peer, case, steps, repeats)
                sides[peer] = peer_side("sb3", "sb3_worker.py", request)
            requests[case][peer] = request
            differences.setdefault(case, {})[peer] = peer_differences(case.split()[0].lower(), settings(case), peer,
                                                                    HIDDEN)
        results[case] = run_rounds(case, sides, rounds)
        path, result = write_cases("offpolicy-peers", lambda: provenance(
            benchmark="offpolicy_peers", settings={c: CASES[c]["algo"] for c in args.cases}, env_steps=env_steps,
            hidden_sizes=HIDDEN, activation=ACTIVATION, repeats=repeats, rounds=rounds, quick=args.quick, seeds=[0],
            peer_requests=requests, differences=differences, results=results, note=ROUNDS_NOTE),
            args.cases, results, args.out, args.quick)
    throughput_plot(result, path.with_suffix(".png"), "Off-policy training throughput")
    merge_run(args, result, lambda merged, png: throughput_plot(merged, png, "Off-policy training throughput"))


if __name__ == "__main__":
    main()
