"""Runs rejax in its own venv (.venv-peers/rejax, made by bench/common.py) for the benchmarks.

Reads one JSON request on stdin, prints one JSON result line on stdout:
  {"mode": "throughput", "algo": "ppo", "env": "CartPole-v1", "kwargs": {...rejax config...},
   "seed": 0, "repeats": 3}
    -> compile seconds and the median seconds of `repeats` calls of the jitted `train` (rejax's periodic
       evaluation replaced by a no-op, so only training is timed).
  {"mode": "time_to_return", ..., "seeds": [0, ...], "threshold": 475, "window_steps": 20480}
    -> per seed, run one after another with the same compiled `train`: wall seconds from the start of its
       call to the first logged rollout whose trailing-window mean training-episode return reaches the
       threshold. Episode returns are tallied by a small gymnax wrapper (the same bookkeeping jaxrl's
       kernel does) and read, with a host timestamp, by rejax's eval callback once per rollout.
"""
from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.wrappers.purerl import GymnaxWrapper

import rejax


@struct.dataclass
class TallyState:
    env_state: object
    running: jax.Array  # return of the episode in progress
    done_sum: jax.Array  # cumulative return of finished episodes
    done_count: jax.Array


class EpisodeTally(GymnaxWrapper):
    """Cumulative sum and count of finished episodes' returns, kept in the env state."""

    def __deepcopy__(self, memo):  # rejax deep-copies its config; the wrapper holds no mutable state
        return self

    def reset(self, key, params=None):
        obs, state = self._env.reset(key, params)
        return obs, TallyState(state, jnp.float32(0), jnp.float32(0), jnp.float32(0))

    def step(self, key, state, action, params=None):
        obs, env_state, reward, done, info = self._env.step(key, state.env_state, action, params)
        running = state.running + reward
        done_f = done.astype(jnp.float32)
        new = TallyState(env_state, running * (1 - done_f), state.done_sum + running * done_f,
                         state.done_count + done_f)
        return obs, new, reward, done, info


def make_algo(request, env=None):
    cls = rejax.get_algo(request["algo"])
    kwargs = dict(request["kwargs"])
    if env is None:
        return cls.create(env=request["env"], **kwargs)
    return cls.create(env=env, env_params=env.default_params, **kwargs)


def throughput(request):
    algo = make_algo(request).replace(eval_callback=lambda algo, ts, rng: ())
    key = jax.random.PRNGKey(request.get("seed", 0))
    t0 = time.perf_counter()
    compiled = jax.jit(algo.train).lower(key).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(key))
    times = []
    for _ in range(request["repeats"]):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(key))
        times.append(time.perf_counter() - t0)
    out = {"compile_seconds": compile_s, "times": times, "seconds": float(np.median(times)),
           "env_steps": algo.total_timesteps}
    if request["mode"] == "hlo":  # the compiled program's text too (bench/launches.py counts its kernels)
        out["hlo"] = compiled.as_text()
    if request["mode"] == "profile":  # one more call under the profiler (bench/kernel_profile.py)
        from trace_summary import profile_call

        out.update(profile_call(jax, lambda: jax.block_until_ready(compiled(key)),
                                request.get("host_tracer_level", 0)))
    return out


def time_to_return(request):
    from gymnax import make as gymnax_make

    base, _ = gymnax_make(request["env"])
    log = []

    def record(step, done_sum, done_count):
        log.append((time.perf_counter(), int(step), float(np.sum(done_sum)), float(np.sum(done_count))))

    def callback(algo, ts, rng):
        jax.debug.callback(record, ts.global_step, ts.env_state.done_sum, ts.env_state.done_count)
        return ()

    algo = make_algo(request, EpisodeTally(base)).replace(eval_callback=callback, skip_initial_evaluation=True)
    compiled = jax.jit(algo.train).lower(jax.random.PRNGKey(0)).compile()
    runs = []
    for seed in request["seeds"]:
        log.clear()
        start = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.PRNGKey(seed)))
        total = time.perf_counter() - start
        rows = sorted(log, key=lambda r: r[1])
        steps = [r[1] for r in rows]
        sums = np.diff([0.0] + [r[2] for r in rows])
        counts = np.diff([0.0] + [r[3] for r in rows])
        runs.append({"seed": seed, "wall_seconds": total, "steps": steps, "times": [r[0] - start for r in rows],
                     "episode_return_sums": sums.tolist(), "episode_counts": counts.tolist()})
        print(f"[rejax] seed {seed}: {total:.1f}s", file=sys.stderr, flush=True)
    return {"runs": runs, "env_steps": algo.total_timesteps}


def main():
    request = json.loads(sys.stdin.read())
    result = {"throughput": throughput, "hlo": throughput, "profile": throughput,
              "time_to_return": time_to_return}[request["mode"]](request)
    result["versions"] = {"rejax": _version("rejax"), "jax": jax.__version__, "gymnax": _version("gymnax")}
    result["device"] = f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}"
    print(json.dumps(result))


def _version(name):
    from importlib import metadata

    return metadata.version(name)


if __name__ == "__main__":
    main()
