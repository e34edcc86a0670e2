#!/usr/bin/env bash
# The GPU benchmarks, as one command for a lent GPU machine (the device tool), within a time budget.
#
# Here, once:   bash bench/gpu/fetch_wheels.sh            # .whl/ (git-ignored), ~45 MB
# There:        run(command="bash bench/gpu/run.sh 540", carry=[".whl"], timeout_s=600)
#               run(command="bash bench/gpu/run.sh 400 ppo_peers compile_time es", carry=[".whl"])
# Then here:    copy the files it returns (gpu-results.tgz, gpu-log.txt) into bench/results/ with
#               `tar xzf <files_at>/gpu-results.tgz`, and run .venv/bin/python bench/report.py.
#
# Arguments: a budget in seconds (default 540), then the steps to run (default: all, in the order below).
# QUICK=1 adds --quick to every step (smoke runs, to check the set-up; their files are named -quick).
# A step starts only if its estimate fits in what is left of the budget, and is cut off at the budget
# (`timeout`). A single-case benchmark writes its JSON at its end, so a step cut off leaves no file; the
# multi-case ones (ppo_peers, offpolicy_peers, time_to_return) write after each case and list the cases not
# reached as `unfinished`. What every step printed is in gpu-log.txt: keep it as bench/results/gpu-log-<n>.txt.
# The device's idle machine is given back ~30 s after a call, and starting one costs minutes of the session's
# 15: plan one call of ~550 s, then at once a second one with what is left (2026-11-27: the machine started in
# ~30 s; calls of 386 s, 243 s, 48 s and 77 s fitted in the 900 s).
#
# The machine's image has Python 3.12 and jax 0.11.2 (CUDA 13); jaxrl's missing dependencies are installed
# from .whl/main into /tmp/site, and the peers from .whl/rejax and .whl/sb3 into folders of their own that
# bench/common.py puts on PYTHONPATH instead of making venvs (JAXRL_PEER_PATH_*; nothing can be fetched
# there). Every result file records the versions it ran with.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${1:-540}
shift || true
STEPS=("$@")
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
LOG="$OUT/gpu-log.txt"
START=$(date +%s)
MARK=$(mktemp)  # files newer than this one were written by this run
left() { echo $((BUDGET - ($(date +%s) - START))); }

install() {  # folder of wheels -> target folder
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$2" "$1"/*.whl
}
[ -d .whl/main ] || { echo "no .whl/main: run bash bench/gpu/fetch_wheels.sh here and carry .whl" | tee "$LOG"; exit 2; }
install .whl/main /tmp/site || exit 3
install .whl/rejax /tmp/site-rejax || exit 3
install .whl/sb3 /tmp/site-sb3 || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export JAXRL_PEER_PATH_REJAX=/tmp/site-rejax:/tmp/site JAXRL_PEER_PATH_SB3=/tmp/site-sb3:/tmp/site
# several JAX processes share the GPU (jaxrl and a JAX peer): no process takes 75% of its memory up front
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$LOG"
# everything the benchmarks import, once: a missing core package stops here, not in every step; a missing
# optional one (brax, MJX, evosax) is reported, and only the steps that need it fail
python3 - <<'PY' 2>&1 | tee -a "$LOG"
import importlib, sys
import jax, flax, optax, chex, gymnax, distrax, yaml, matplotlib
import jaxrl.agents.ppo, jaxrl.envs
print("python", sys.version.split()[0], "| jax", jax.__version__, "| flax", flax.__version__, "| optax",
      optax.__version__, "| chex", chex.__version__, "| devices", jax.devices())
for name in ("brax", "brax.envs", "brax.training.agents.ppo.train", "brax.training.agents.sac.train",
             "mujoco", "mujoco.mjx", "evosax"):
    try:
        importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - reported, and the steps that need it will fail on their own
        print(f"== optional import {name} failed: {type(e).__name__}: {e}")
PY
[ "${PIPESTATUS[0]}" = 0 ] || { echo "== imports failed: see above" | tee -a "$LOG"; exit 4; }

# name, seconds (measured on the H200: launches 57 s, brax_ppo 100-154 (before its second, 2K-iteration program), ppo_peers with rejax 54-60 (with sb3
# and sbx > 375 for 3 rounds of one case), offpolicy_peers with rejax 92, brax_overhead 40, brax_sac 187,
# throughput 113-121, compile_time 134-143, time_to_return 48 + 77 for its two cases (115 on 2026-11-28),
# es 86, ppo_update_ab 62-70, kernel_profile 201), command.
# Runs so far: 2026-11-26 brax_ppo, throughput, compile_time, PPO CartPole of ppo_peers; 2026-11-27 (two
# sessions) launches, brax_ppo, ppo_peers, offpolicy_peers, brax_overhead, brax_sac, time_to_return, es,
# throughput, compile_time, ppo_update_ab; 2026-11-28 kernel_profile, brax_ppo, time_to_return, ppo_update_ab,
# launches (kernel_profile took 201 s, brax_ppo 136 s with its 2K-iteration program, time_to_return 115 s,
# ppo_update_ab 62 s, launches 37 s). Next: es (does ES's step without the VecEnv key split close the gap
# to the hand-written evosax loop?), kernel_profile_es (its ES cases alone, into a file of their own),
# command_buffers (launches.py with XLA's while loops and conditionals
# recorded as CUDA graphs, both sides: at 16 envs the device waits between kernels, and kernel_profile found
# PPO's kernels take the same device time on both sides), kernel_profile_ppo (PPO's idle gaps by length
# and by the kernel that follows them: which launches the device waits for), ppo_peers, offpolicy_peers (SAC
# Pendulum steps one env), then brax_sac at brax's stage of training; idle_resets_ab checks that the GPU
# program has no conditional from the CPU's idle-reset skip (expected: 0 / 0 conditionals, speed-up ~1). On the GPU machine SB3 runs on its CPU
# (device="cpu") and sbx's tiny-batch steps take minutes per case, so the peer tables there compare with
# rejax, the JAX peer.
PLAN=(
  "es|90|bench/es.py --rounds 3 --repeats 2 --min-seconds 0.5"
  "command_buffers|70|bench/launches.py --out bench/results/launches-gpu-command-buffers.json|XLA_FLAGS=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,DYNAMIC_SLICE_FUSION,WHILE,CONDITIONAL"
  "kernel_profile_ppo|150|bench/kernel_profile.py --cases 'PPO CartPole-v1' 'PPO Pendulum-v1'"
  "kernel_profile_es|120|bench/kernel_profile.py --cases 'ES Open_ES 64' 'ES CMA_ES 64' --out bench/results/kernel-profile-gpu-es.json"
  "ppo_peers|120|bench/ppo_peers.py --rounds 1 --peers rejax --cases 'PPO CartPole-v1' 'PPO Pendulum-v1'"
  "offpolicy_peers|120|bench/offpolicy_peers.py --rounds 1 --peers rejax"
  "brax_sac|220|bench/brax_sac.py --env brax/ant --num-envs 256"
  "brax_ppo|150|bench/brax_ppo.py --env brax/ant --num-envs 2048 --rollout-length 32 --iterations 20 --repeats 5"
  "time_to_return|130|bench/time_to_return.py --cases 'PPO CartPole-v1' 'SAC Pendulum-v1' --peers rejax --repeats 1"
  "ppo_update_ab|80|bench/ppo_update_ab.py --repeats 7"
  "idle_resets_ab|90|bench/idle_resets_ab.py --cases 'PPO CartPole-v1' 'DQN CartPole-v1' --repeats 5"
  "launches|60|bench/launches.py --dump-hlo $OUT/hlo"
  "kernel_profile|210|bench/kernel_profile.py"
  "throughput|120|bench/throughput.py --num-envs 16 256 4096 16384 65536 --num-seeds 1 16 64 256 --brax-env '' --repeats 3"
  "compile_time|150|bench/compile_time.py --repeats 1"
  "brax_overhead|60|bench/throughput.py --brax-only --brax-env brax/ant --brax-num-envs 2048 --brax-steps 64 --repeats 5"
)
for entry in "${PLAN[@]}"; do
  IFS='|' read -r name estimate command envs <<<"$entry"  # envs: VAR=value settings for this step alone
  if [ ${#STEPS[@]} -gt 0 ] && [[ ! " ${STEPS[*]} " == *" $name "* ]]; then continue; fi
  if [ "$(left)" -lt "$estimate" ]; then
    echo "== skip $name: ~${estimate}s estimated, $(left)s left" | tee -a "$LOG"
    continue
  fi
  echo "== $name ($(left)s left): ${envs:+$envs }python3 $command" | tee -a "$LOG"
  t0=$(date +%s)
  [ "${QUICK:-0}" = 1 ] && command="$command --quick"
  eval env $envs timeout "$(left)" python3 $command 2>&1 | tee -a "$LOG"
  echo "== $name: exit ${PIPESTATUS[0]} after $(( $(date +%s) - t0 ))s" | tee -a "$LOG"
done
# only the files this run wrote: the working tree brings the earlier GPU results along, and on a machine kept
# warm between calls a file of the call before is newer than its copy here
NEW=$(find bench/results -newer "$MARK" -name '*-gpu*' \( -name '*.json' -o -name '*.png' \) | sort)
tar czf "$OUT/gpu-results.tgz" $NEW 2>/dev/null \
  && echo "== results: $(tar tzf "$OUT/gpu-results.tgz" | tr '\n' ' ')" | tee -a "$LOG" \
  || echo "== no result files were written" | tee -a "$LOG"
