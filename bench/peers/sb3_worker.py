"""Runs Stable-Baselines3 (PyTorch) or sbx (SB3 in JAX) in the peer venv .venv-peers/sb3 (made by
bench/common.py) on gymnasium environments.

Reads one JSON request on stdin, prints one JSON result line on stdout:
  {"mode": "throughput", "lib": "sb3" | "sbx", "algo": "ppo", "env": "CartPole-v1", "n_envs": 16,
   (algo "trpo" with lib "sb3" runs sb3-contrib's TRPO)
   "kwargs": {...constructor arguments...}, "total_timesteps": 65536, "repeats": 3}
    -> seconds of `learn(total_timesteps)` (median of `repeats`, after one short warm-up `learn`, which
       also compiles sbx's jitted functions).
  {"mode": "time_to_return", ..., "seeds": [0, ...], "threshold": 475, "window_steps": 20480,
   "log_steps": 2048, "total_timesteps": <cap>}
    -> per seed, one run after another: a callback logs, every log_steps env steps (for PPO, one rollout),
       the wall time since `learn` began and the returns of the episodes that ended since the last log;
       the run stops once the trailing-window mean return reaches the threshold (the same rule the jaxrl
       side is judged by).
Either mode takes an optional "torch_threads": n, torch's intra-op threads (default: one per core).
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def make_model(request, seed=None):
    from stable_baselines3.common.env_util import make_vec_env

    if request["lib"] == "sb3" and request["algo"] == "trpo":  # SB3's TRPO lives in sb3-contrib
        import sb3_contrib as lib
    elif request["lib"] == "sb3":
        import stable_baselines3 as lib
    else:
        import sbx as lib
    cls = getattr(lib, request["algo"].upper())
    scale = request.get("reward_scale", 1.0)
    wrapper = None
    if scale != 1.0:  # Monitor sits inside this wrapper, so logged episode returns stay unscaled
        from gymnasium.wrappers import TransformReward

        def wrapper(e):
            return TransformReward(e, lambda r: scale * r)
    env = make_vec_env(request["env"], n_envs=request["n_envs"], seed=seed, wrapper_class=wrapper)
    if request.get("normalize_obs"):
        from stable_baselines3.common.vec_env import VecNormalize

        env = VecNormalize(env, norm_obs=True, norm_reward=False)
    kwargs = dict(request["kwargs"])
    if request.get("anneal_lr"):  # linear to 0 over the run, as jaxrl's anneal_lr
        lr = kwargs["learning_rate"]
        kwargs["learning_rate"] = lambda progress_remaining: lr * progress_remaining
    if "activation" in kwargs:  # a name, mapped to the library's own function
        name = kwargs.pop("activation")
        if request["lib"] == "sb3":
            import torch.nn as tnn
            act = {"tanh": tnn.Tanh, "relu": tnn.ReLU}[name]
        else:
            import flax.linen as fnn
            act = {"tanh": fnn.tanh, "relu": fnn.relu}[name]
        kwargs.setdefault("policy_kwargs", {})["activation_fn"] = act
    return cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)


def throughput(request):
    model = make_model(request, seed=request.get("seed", 0))
    t0 = time.perf_counter()
    model.learn(request["warmup_timesteps"])
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(request["repeats"]):
        t0 = time.perf_counter()
        model.learn(request["total_timesteps"])
        times.append(time.perf_counter() - t0)
    return {"warmup_seconds": warmup, "times": times, "seconds": float(np.median(times)),
            "env_steps": request["total_timesteps"]}


def time_to_return(request):
    from collections import deque

    from stable_baselines3.common.callbacks import BaseCallback

    threshold, window, log_steps = request["threshold"], request["window_steps"], request["log_steps"]

    class Tally(BaseCallback):
        """Every log_steps env steps: a row (seconds, env steps, sum and count of the returns of the episodes
        that ended since the last row); training stops once the rows inside the trailing window reach the
        threshold. Only the rows inside the window are kept for the check, so it costs the same however long
        the run."""

        def _on_training_start(self):
            self.start = time.perf_counter()
            self.rows, self.ended, self.reached = [], [], False
            self.inside = deque()
            self.next_row = log_steps

        def _on_step(self):
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.ended.append(info["episode"]["r"])
            if self.num_timesteps >= self.next_row:
                self.next_row += log_steps
                row = (time.perf_counter() - self.start, self.num_timesteps, float(np.sum(self.ended)),
                       len(self.ended))
                self.rows.append(row)
                self.ended = []
                self.inside.append(row)
                while self.inside[0][1] <= self.num_timesteps - window:
                    self.inside.popleft()
                count = sum(r[3] for r in self.inside)
                self.reached = count > 0 and sum(r[2] for r in self.inside) / count >= threshold
            return not self.reached

    warm = make_model(request, seed=10_000)  # compiles sbx's jitted functions before the timed runs
    warm.learn(request["warmup_timesteps"])
    runs = []
    for seed in request["seeds"]:
        model = make_model(request, seed=seed)
        tally = Tally()
        start = time.perf_counter()
        model.learn(request["total_timesteps"], callback=tally)
        total = time.perf_counter() - start
        runs.append({"seed": seed, "wall_seconds": total, "steps": [r[1] for r in tally.rows],
                     "times": [r[0] for r in tally.rows], "episode_return_sums": [r[2] for r in tally.rows],
                     "episode_counts": [r[3] for r in tally.rows], "stopped_at_threshold": tally.reached})
        print(f"[{request['lib']}] seed {seed}: {total:.1f}s, {model.num_timesteps} steps, "
              f"reached={tally.reached}", file=sys.stderr, flush=True)
    return {"runs": runs, "env_steps": request["total_timesteps"]}


def main():
    request = json.loads(sys.stdin.read())
    import torch

    if request.get("torch_threads"):
        torch.set_num_threads(request["torch_threads"])
    result = {"throughput": throughput, "time_to_return": time_to_return}[request["mode"]](request)
    from importlib import metadata

    result["versions"] = {name: metadata.version(name) for name in
                          ("stable_baselines3", "sb3-contrib", "sbx-rl", "torch", "gymnasium", "jax")}
    result["torch_threads"] = torch.get_num_threads()
    if request["lib"] == "sbx":  # sbx is JAX: it runs on JAX's default device (a GPU where there is one)
        import jax

        result["device"] = f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}"
    else:
        result["device"] = "cpu"  # SB3's models are made with device="cpu" (make_model)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
