"""ES: seed-based noise, shaping, strategies on test functions, the evosax adapter, robust fitness,
config errors, and sharded / multi-process runs equal to the single-device run."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.config import ConfigError, load_config
from jaxrl.es import noise, strategies
from jaxrl.es.trainer import build

ROOT = Path(__file__).resolve().parent.parent


def test_seed_regenerated_noise_equals_population_noise():
    key, dim, size = jax.random.PRNGKey(4), 7, 12
    whole = noise.population_noise(key, jnp.arange(size), dim, antithetic=True)
    # what device 2 of 3 regenerates for its slice, one member at a time
    for i in range(8, 12):
        np.testing.assert_array_equal(noise.member_noise(key, jnp.asarray(i), dim, True), whole[i])
    np.testing.assert_array_equal(noise.population_noise(key, jnp.arange(8, 12), dim, True), whole[8:])
    # the update rebuilt from seeds in chunks equals the dense product with the materialised noise
    coefs = jax.random.normal(jax.random.PRNGKey(1), (size // 2,))
    dense = coefs @ whole[0::2]
    for chunk in (1, 4, 5, 64):
        np.testing.assert_allclose(noise.weighted_noise_sum(key, coefs, dim, chunk), dense, rtol=1e-5, atol=1e-5)


def test_antithetic_pairs_cancel():
    whole = noise.population_noise(jax.random.PRNGKey(0), jnp.arange(10), 5, antithetic=True)
    np.testing.assert_array_equal(whole[0::2], -whole[1::2])
    assert not np.allclose(whole[0], whole[2])  # different pairs differ
    # equal fitness within every pair -> zero gradient, whatever the fitness values
    es = strategies.openai_es(10, 5, lr=0.1)
    state = es.init(None, jnp.zeros(5))
    fitness = jnp.repeat(jnp.arange(5.0), 2)
    new, metrics = es.tell(state, jax.random.PRNGKey(0), fitness)
    assert float(metrics["grad_norm"]) == 0.0


def test_centered_ranks():
    f = jnp.array([3.0, -1.0, 10.0, 2.0, jnp.nan])
    r = noise.centered_ranks(f)
    assert abs(float(r.sum())) < 1e-6
    assert float(r.min()) == -0.5 and float(r.max()) == 0.5
    np.testing.assert_array_equal(np.argsort(np.asarray(r)), [4, 1, 3, 0, 2])  # NaN ranks lowest


def _optimise(strategy, objective, dim, generations):
    init = jnp.zeros(dim)
    state = strategy.init(jax.random.PRNGKey(0), init, lambda pop: objective(pop))
    indices = jnp.arange(strategy.population_size)

    def step(state, key):
        return strategy.tell(state, key, objective(strategy.ask(state, key, indices)))[0], None

    state, _ = jax.lax.scan(step, state, jax.random.split(jax.random.PRNGKey(1), generations))
    return float(objective(strategy.mean(state)[None])[0]), float(objective(init[None])[0])


def sphere(x):
    return -jnp.sum((x - 1.0) ** 2, axis=-1)


def rosenbrock(x):
    return -jnp.sum(100.0 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2, axis=-1)


@pytest.mark.parametrize("name", ["openai_es", "cem", "CMA_ES", "Sep_CMA_ES", "SNES", "xNES", "PGPE"])
def test_strategies_reduce_sphere_and_rosenbrock(name):
    # (objective, dim, lr, sigma, generations, required fraction of the starting gap closed)
    for objective, dim, lr, sigma, generations, closed in ((sphere, 8, 0.05, 0.3, 60, 0.6),
                                                           (rosenbrock, 4, 0.02, 0.1, 150, 0.1)):
        s = strategies.make_strategy(name, 32, jnp.zeros(dim), lr=lr, sigma_init=sigma, extra_noise=0.01,
                                     elite_fraction=0.25, antithetic=name == "openai_es")
        final, start = _optimise(s, objective, dim, generations)
        assert final > start + closed * abs(start), (name, objective.__name__, start, final)


def test_every_evosax_name_resolves_and_constructs():
    names = strategies.evosax_names()
    assert {"CMA_ES", "Sep_CMA_ES", "SNES", "xNES", "PGPE", "Open_ES"} <= set(names)
    for name in names:
        for spelling in (name, name.lower(), name.lower().replace("_", "-")):
            assert strategies.lookup_evosax(spelling) is not None, spelling
        if not name.startswith("SV_"):
            strategies.make_strategy(name, 8, jnp.zeros(3))
    with pytest.raises(ValueError, match="unknown ES strategy 'nope'"):
        strategies.make_strategy("nope", 8, jnp.zeros(3))


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in strategies.strategy_names() if not n.startswith("SV_")])
def test_every_strategy_trains_with_algo_es(name, tmp_path):
    """`jaxrl train algo=es es.strategy=<name>` for every name: 3 short generations on CartPole."""
    from jaxrl.cli import main

    out = tmp_path / "run"
    assert main(["train", "algo=es", f"es.strategy={name}", "es.population_size=16", "es.episode_steps=50",
                 "total_env_steps=2400", "eval_episodes=2", f"out_dir={out}"]) == 0
    summary = __import__("json").loads((out / "summary.json").read_text())
    assert summary["env_steps"] == 2400 and summary["eval_return_mean"] is not None


def test_es_config_keys_and_errors():
    config = load_config(["algo=es", "es.strategy=cma_es", "es.population_size=16", "total_env_steps=100000"])
    assert config.algo_config.strategy == "cma_es" and config.algo_config.population_size == 16
    with pytest.raises(ConfigError, match="es.strategy='cma_esx' is unknown.*CMA_ES"):
        load_config(["algo=es", "es.strategy=cma_esx"])
    with pytest.raises(ConfigError, match="must be even"):
        load_config(["algo=es", "es.population_size=15"])
    with pytest.raises(ConfigError, match="es.robust"):
        load_config(["algo=es", "es.robust=median"])
    with pytest.raises(ConfigError, match="unknown config key 'algo.populaton_size'.*population_size"):
        load_config(["algo=es", "es.populaton_size=16"])
    with pytest.raises(ConfigError, match=r"es.env_variants\[1\].*unknown env parameter.*'lenght'"):
        load_config(["algo=es", "es.env_variants=[{length: 0.3}, {lenght: 0.3}]"])
    with pytest.raises(ConfigError, match="SV_CMA_ES"):
        load_config(["algo=es", "es.strategy=SV_CMA_ES"])


def test_robust_fitness_aggregates_env_variants():
    common = ["algo=es", "es.population_size=8", "es.episode_steps=60"]
    variants = ["es.env_variants=[{length: 0.25}, {length: 1.0}]"]
    p_mean = build(load_config(common + variants).algo_config, "gymnax/CartPole-v1", {})
    p_min = build(load_config(common + variants + ["es.robust=min"]).algo_config, "gymnax/CartPole-v1", {})
    short = build(load_config(common).algo_config, "gymnax/CartPole-v1", {"length": 0.25})
    key, idx = jax.random.PRNGKey(0), jnp.arange(8)
    members = p_mean.strategy.ask(p_mean.strategy.init(key, p_mean.init_flat(key)), key, idx) * 20
    per = np.asarray(p_mean.fitness_per_variant(members, idx, key)[0])
    assert per.shape == (2, 8) and not np.allclose(per[0], per[1])  # the pole length changes the returns
    np.testing.assert_allclose(per[0], short.fitness(members, idx, key))  # variant 0 is length 0.25
    np.testing.assert_allclose(p_mean.fitness(members, idx, key), per.mean(0), rtol=1e-6)
    np.testing.assert_allclose(p_min.fitness(members, idx, key), per.min(0), rtol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


SMALL = ["algo=es", "es.population_size=16", "es.episode_steps=50", "es.num_envs=2", "total_env_steps=6400",
         "seed=3"]  # 4 generations


def _env(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


SHARDED_CHECK = """
import jax, numpy as np
from jaxrl.config import load_config
from jaxrl.core.train import make_train
from jaxrl.es.distributed import make_sharded_train, population_mesh
from jaxrl.es.trainer import build
assert len(jax.devices()) == 4
for strategy in ("openai_es", "CMA_ES"):
    cfg = load_config({small!r} + ["es.strategy=" + strategy])
    key = jax.random.PRNGKey(cfg.seed)
    ref = jax.jit(make_train(cfg))(key)
    state, metrics = make_sharded_train(cfg, population_mesh())(key)
    mean = build(cfg.algo_config, cfg.env, cfg.env_kwargs).strategy.mean
    a, b = np.asarray(mean(ref.agent_state)), np.asarray(mean(state))
    assert np.abs(a).sum() > 0
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref.metrics["fitness_mean"], metrics["fitness_mean"], rtol=1e-5)
    print(strategy, "sharded over", state.mean.sharding.mesh.size, "devices == unsharded")
"""


def test_sharded_over_four_host_devices_equals_unsharded():
    out = subprocess.run([sys.executable, "-c", SHARDED_CHECK.format(small=SMALL)], env=_env(4), cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("== unsharded") == 2


def test_two_process_jax_distributed_equals_single_process(tmp_path):
    from jaxrl.core.train import make_train

    port = _free_port()
    result = tmp_path / "dist.npz"
    procs = [subprocess.Popen([sys.executable, "-m", "jaxrl.es.distributed", "--coordinator", f"localhost:{port}",
                               "--num-processes", "2", "--process-id", str(i), "--out", str(result)]
                              + SMALL[1:], env=_env(2), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(log[-2000:] for log in logs)
    assert '"processes": 2, "devices": 4' in logs[0]
    cfg = load_config(SMALL)
    ref = jax.jit(make_train(cfg))(jax.random.PRNGKey(cfg.seed))
    mean = build(cfg.algo_config, cfg.env, cfg.env_kwargs).strategy.mean(ref.agent_state)
    dist = np.load(result)
    np.testing.assert_allclose(dist["mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dist["fitness_mean"], ref.metrics["fitness_mean"], rtol=1e-5)


def test_es_run_directory_checkpoint_and_eval(tmp_path):
    """`jaxrl train algo=es` writes the usual run directory; `jaxrl eval` restores the evosax state."""
    from jaxrl.cli import main
    from jaxrl.experiment import evaluate_run

    out = tmp_path / "cma"
    assert main(["train", "algo=es", "es.strategy=CMA_ES", "num_seeds=2", "es.population_size=16",
                 "es.episode_steps=50", "total_env_steps=4000", "eval_episodes=2", f"out_dir={out}"]) == 0
    for name in ("config.yaml", "metrics.csv", "summary.json", "curve.png", "checkpoints"):
        assert (out / name).exists(), name
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "fitness_mean" in header and "sigma" in header
    result = evaluate_run(out, episodes=2)
    assert len(result["mean_return_per_seed"]) == 2 and result["mean_return"] > 0
