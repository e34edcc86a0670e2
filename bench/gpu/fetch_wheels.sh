#!/usr/bin/env bash
# Run HERE (a machine that reaches PyPI), before asking for a lent GPU machine: downloads into .whl/ (git-ignored)
# the Python 3.12 wheels that the lent machines' image lacks, about 45 MB, for bench/gpu/run.sh to install there.
#
#   bash bench/gpu/fetch_wheels.sh
#
# The image (see the device tool's KINDS.md) has Python 3.12 with jax 0.11.2 (CUDA 13), flax, optax, chex,
# torch, numpy, scipy, matplotlib, pandas, orbax-checkpoint and more, and nothing can be fetched there. jaxrl
# pins jax 0.10.2, whose jaxlib and CUDA plugin are too big to carry (the working tree that travels is capped
# at 64 MiB), so the GPU runs use the image's jax and record its version in every result file.
#   .whl/main:  jaxrl's own dependencies that the image lacks (gymnax, brax, mujoco, mujoco-mjx, evosax,
#               distrax and theirs), pinned to the versions in pyproject.toml / .venv.
#   .whl/rejax: the rejax peer (rejax needs gymnax 0.0.9, so it gets its own folder on PYTHONPATH there).
#   .whl/sb3:   the Stable-Baselines3 (with sb3-contrib's TRPO) and sbx peers (torch comes from the image).
set -euo pipefail
cd "$(dirname "$0")/../.."
MAIN=(blinker==1.9.0 brax==0.14.2 decorator==5.3.1 distrax==0.1.9 dm-tree==0.1.10 dotmap==1.3.30 evosax==0.3.2
      farama-notifications==0.0.6 flask==3.1.3 flask-cors==6.0.5 gast==0.7.0 glfw==2.11.0 gymnasium==1.3.0
      gymnax==1.0.1 itsdangerous==2.2.0 jaxopt==0.8.5 ml-collections==1.1.0 mujoco==4.0.0 mujoco-core==4.0.0
      mujoco-mjx==3.17.0 mujoco-studio==4.0.0 pyopengl==3.1.10 tensorboardx==2.6.5
      tfp-nightly==0.26.0.dev20261027 trimesh==5.2.0 websockets==17.4)
REJAX=(gymnax==0.0.9 rejax==0.1.3)
SB3=(stable-baselines3==2.9.2 sb3-contrib==2.9.0 sbx-rl==0.28.0)
fetch() {
  local dir=$1; shift
  mkdir -p "$dir"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 \
    --platform manylinux1_x86_64 --platform any -d "$dir" "$@"
}
fetch .whl/main "${MAIN[@]}"
fetch .whl/rejax "${REJAX[@]}"
fetch .whl/sb3 "${SB3[@]}"
du -sh .whl/*
