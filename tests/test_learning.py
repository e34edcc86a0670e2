"""Learning tests: thresholds the algorithms really reach on CPU within the stated budgets, over several seeds."""
import numpy as np
import pytest

from jaxrl.config import load_config
from jaxrl.experiment import train_and_save


def measured(name: str, summary: dict) -> np.ndarray:
    """Each seed's final return, printed with the greedy evaluation (`pytest -rP` shows what the README quotes)."""
    per_seed = np.asarray(summary["final_return_per_seed"], float)
    print(f"\n{name}: final return per seed {np.round(per_seed, 1).tolist()}, "
          f"greedy eval {summary.get('eval_return_mean', float('nan')):.1f}")
    return per_seed


@pytest.mark.xdist_group("learn-cartpole")
def test_ppo_cartpole_reaches_475_over_4_seeds(tmp_path):
    config = load_config(["env=gymnax/CartPole-v1", "num_seeds=4", "total_env_steps=500000", "eval_episodes=8",
                          "log_every=50"])
    summary = train_and_save(config, tmp_path, verbose=False)
    assert summary["env_steps"] <= 500_000
    per_seed = measured("ppo CartPole", summary)
    assert per_seed.shape == (4,)
    assert per_seed.mean() >= 475, per_seed


@pytest.mark.xdist_group("learn-pendulum")
def test_ppo_continuous_pendulum_reaches_minus_300_over_2_seeds(tmp_path):
    config = load_config(["env=gymnax/Pendulum-v1", "num_seeds=2", "total_env_steps=300000", "eval_episodes=8",
                          "log_every=50"])
    assert config.algo_config.normalize_obs  # the preset's settings are what is tested
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = measured("ppo Pendulum", summary)
    assert per_seed.mean() >= -300, per_seed
    assert summary["eval_return_mean"] >= -300, summary["eval_return_mean"]


@pytest.mark.xdist_group("learn-brax")
def test_ppo_brax_inverted_pendulum_reaches_900_iqm_over_8_seeds(tmp_path):
    """Most seeds reach 1000 in the preset's 300k steps, but about one in ten ends between 580 and 830 (44
    seeds: 24 with the flattened optimiser, mean 953; 20 with the per-layer one, mean 957). A mean over 2
    seeds failed on such a seed, so the test takes 8 seeds and their interquartile mean (the middle four)."""
    config = load_config(["env=brax/inverted_pendulum", "num_seeds=8", "eval_episodes=4", "log_every=50"])
    assert config.total_env_steps == 300_000  # configs/ layering: the preset
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = measured("ppo brax/inverted_pendulum", summary)
    assert per_seed.shape == (8,)
    assert np.sort(per_seed)[2:6].mean() >= 900, per_seed


@pytest.mark.xdist_group("learn-es")
@pytest.mark.parametrize("strategy, steps", [("openai_es", 1_600_000), ("CMA_ES", 480_000)])
def test_es_cartpole_reaches_475_over_2_seeds(tmp_path, strategy, steps):
    config = load_config(["algo=es", f"es.strategy={strategy}", "num_seeds=2", f"total_env_steps={steps}",
                          "eval_episodes=8", "log_every=100"])
    if strategy == "CMA_ES":  # CMA-ES adapts its own step sizes; a smaller population is enough
        config = load_config(["es.population_size=32"], base=config)
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = measured(f"es {strategy} CartPole", summary)
    assert per_seed.shape == (2,) and per_seed.min() >= 475, per_seed  # the mean parameters, greedy
    assert summary["eval_return_mean"] >= 475, summary["eval_return_mean"]


@pytest.mark.xdist_group("learn-sac")
def test_sac_pendulum_reaches_minus_250_over_2_seeds(tmp_path):
    config = load_config(["algo=sac", "env=gymnax/Pendulum-v1", "num_seeds=2", "eval_episodes=8"])
    assert config.total_env_steps == 20_000  # the preset
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = measured("sac Pendulum", summary)
    assert per_seed.max() >= -250 and per_seed.mean() >= -250, per_seed
    assert summary["eval_return_mean"] >= -250, summary["eval_return_mean"]


@pytest.mark.xdist_group("learn-dqn")
def test_dqn_cartpole_reaches_300_over_4_seeds(tmp_path):
    # DQN's CartPole curves oscillate more than PPO's: measured final returns 500, 164, 500, 491 (72efd23)
    config = load_config(["algo=dqn", "num_seeds=4", "eval_episodes=8"])
    assert config.total_env_steps == 500_000 and config.algo_config.double  # the preset
    summary = train_and_save(config, tmp_path, verbose=False)
    per_seed = measured("dqn CartPole", summary)
    assert per_seed.mean() >= 300 and per_seed.max() >= 475, per_seed
    assert summary["eval_return_mean"] >= 300, summary["eval_return_mean"]
