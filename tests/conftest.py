import os
from pathlib import Path

import jax
import pytest

# One OpenBLAS thread, as the CLI sets it (jaxrl/cli.py); before scipy is imported (gymnax imports it)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The CLI's XLA CPU tuning (jaxrl/xla_tuning.py) would put flags into this process's environment, and so into
# every benchmark subprocess the tests start: the tests run at XLA's defaults (tests/test_config.py checks it)
os.environ.setdefault("JAXRL_XLA_CPU_TUNING", "0")

ROOT = Path(__file__).resolve().parent.parent
# Shared persistent compilation cache (ignored by git): repeated runs skip XLA compiles.
jax.config.update("jax_compilation_cache_dir", os.environ.get("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache/jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
