# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
# Optional extras for the install, e.g. `make run EXTRAS=cuda` for the CUDA 12 build of jax.
EXTRAS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed$(if $(EXTRAS),-$(EXTRAS))
DEV_STAMP := $(VENV)/.installed-dev$(if $(EXTRAS),-$(EXTRAS))
SPEC := $(if $(EXTRAS),.[$(EXTRAS)],.)
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export PYTHONUNBUFFERED := 1
comma := ,

.PHONY: run test install install-dev bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e "$(SPEC)"
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev$(if $(EXTRAS),$(comma)$(EXTRAS))]"
	@touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

# Main job: PPO on gymnax CartPole-v1 with progress, a summary, a plot and a checkpoint.
run: $(STAMP)
	$(BIN)/jaxrl train algo=ppo env=gymnax/CartPole-v1 num_seeds=4 out_dir=runs/ppo-cartpole

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=25 tests

# The kernel-overhead and scaling benchmark, then bench/README.md's tables; the others: see bench/README.md.
bench: $(STAMP)
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .venv-peers .cache runs
