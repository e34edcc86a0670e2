"""The benchmark scripts' shared logic and their smoke runs (timings themselves are not asserted here:
speed targets live in bench/, see bench/README.md)."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import PEERS, interleaved_medians, peer_python, steps_to_threshold  # noqa: E402


def test_steps_to_threshold_uses_a_trailing_window_in_env_steps():
    steps = [100, 200, 300, 400, 500]
    sums = [10.0, 0.0, 90.0, 100.0, 0.0]  # returns of the episodes that ended during each rollout
    counts = [1, 0, 1, 1, 0]
    # window 200 steps: rollout 2 sees episodes {90} (rollouts 1-2) -> 90; rollout 3 sees {90, 100} -> 95
    assert steps_to_threshold(steps, sums, counts, 90, 200) == (300, 2)
    assert steps_to_threshold(steps, sums, counts, 95, 200) == (400, 3)
    # a wide window keeps the early bad episode in the mean: 50 at step 300, 66.7 from step 400
    assert steps_to_threshold(steps, sums, counts, 95, 1000) == (None, None)
    assert steps_to_threshold(steps, sums, counts, 60, 1000) == (400, 3)
    assert steps_to_threshold(steps, sums, counts, 101, 200) == (None, None)
    # rollouts with no finished episode never count as reaching the threshold
    assert steps_to_threshold([1, 2], [0.0, 0.0], [0, 0], -1e9, 10) == (None, None)


def test_interleaved_medians_alternates_the_sides_and_rotates_who_goes_first():
    calls = []
    out = interleaved_medians({name: (lambda n=name: calls.append(n)) for name in "abc"}, repeats=4)
    assert calls == list("abc" "bca" "cab" "abc")
    assert set(out) == {"a", "b", "c"}
    for median, times in out.values():
        assert len(times) == 4 and min(times) <= median <= max(times)


def test_unknown_peer_is_named():
    with pytest.raises(KeyError, match="unknown peer 'sb2'.*rejax"):
        peer_python("sb2")
    assert set(PEERS) == {"rejax", "sb3"}


def test_a_peer_venv_that_cannot_be_made_says_why_and_how_to_go_on(tmp_path, monkeypatch):
    import subprocess as sp

    import common

    def no_index(cmd, check=False, **kwargs):
        if "pip" in cmd and "install" in cmd:
            raise sp.CalledProcessError(1, cmd)
        return sp.CompletedProcess(cmd, 0)

    monkeypatch.setattr(common, "PEER_ROOT", tmp_path)
    monkeypatch.delenv(common.peer_path_var("rejax"), raising=False)
    monkeypatch.setattr(common.subprocess, "run", no_index)
    with pytest.raises(RuntimeError, match="could not make peer 'rejax'.*JAXRL_PEER_PATH_REJAX.*--peers"):
        peer_python("rejax")


def test_report_matches_the_result_files():
    """bench/README.md's tables are regenerated from bench/results/*.json; a stale README fails here."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _quick_peers_run(script: str, case: str, tmp_path) -> tuple[dict, dict]:
    """`script --quick --peers` (jaxrl alone, 1 and 2 seeds) on one case: its result file and the case's rows."""
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--peers",
                           "--cases", case, "--seeds-in-one-call", "2", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = result["results"][case]
    assert set(rows) == {"jaxrl", "jaxrl x2 seeds"}
    assert rows["jaxrl"]["steps_per_second"] > 0 and rows["jaxrl"]["jaxrl_over_this"] == 1.0
    assert rows["jaxrl x2 seeds"]["env_steps"] == 2 * rows["jaxrl"]["env_steps"]
    for field in ("command", "device", "cpu_model", "versions", "date", "settings", "seeds", "host_probe_ms"):
        assert field in result
    assert out.with_suffix(".png").exists()
    return result, rows


def test_ppo_peers_quick_smoke_run_writes_its_result(tmp_path):
    result, _ = _quick_peers_run("ppo_peers.py", "PPO CartPole-v1", tmp_path)
    assert "differences" in result and "peer_requests" in result


def test_trpo_settings_map_onto_sb3_contribs_trpo():
    """The TRPO case reaches jaxrl's config and sb3-contrib's TRPO with the same counts: SB3's line search counts
    the full step among its tries, jaxrl's counts only the halvings after it; SB3 does not clip the critic's
    gradient, so jaxrl's clip is set where it cannot bind."""
    from ppo_peers import CASES, NO_CLIP, algo_config, onpolicy_differences, sb3_request

    s = CASES["TRPO CartPole-v1"]
    algo = algo_config("trpo", "CartPole-v1", s)
    for key in ("num_envs", "rollout_length", "cg_iters", "max_backtracks", "backtrack_coef", "max_kl",
                "cg_damping", "gae_lambda", "vf_epochs", "num_minibatches", "vf_lr"):
        assert getattr(algo, key) == s[key], key
    assert algo.vf_max_grad_norm == NO_CLIP and algo.hidden_sizes == (64, 64) and algo.activation == "tanh"
    kw = sb3_request("sb3", "trpo", "CartPole-v1", algo, 65_536, 1)["kwargs"]
    assert onpolicy_differences("trpo", "sb3", algo) == []
    assert kw["line_search_max_iter"] == s["max_backtracks"] + 1 and kw["cg_max_steps"] == s["cg_iters"]
    assert kw["batch_size"] * s["num_minibatches"] == s["num_envs"] * s["rollout_length"]
    assert (kw["n_critic_updates"], kw["target_kl"], kw["line_search_shrinking_factor"], kw["learning_rate"]) == \
        (s["vf_epochs"], s["max_kl"], s["backtrack_coef"], s["vf_lr"])


def test_onpolicy_settings_reach_every_peer_and_what_cannot_is_listed():
    """PPO's and A2C's throughput cases hand every peer jaxrl's own hyperparameters (constant learning rate on
    every side, since rejax cannot anneal); what a peer has no option for is listed with the result."""
    from ppo_peers import CASES, algo_config, onpolicy_differences, rejax_request, sb3_request

    a = algo_config("ppo", "CartPole-v1", CASES["PPO CartPole-v1"])
    assert not a.anneal_lr and not a.normalize_obs and a.clip_value and a.reward_scale == 1.0
    assert a.hidden_sizes == (64, 64) and a.activation == "tanh"
    hp = (a.lr, a.gamma, a.gae_lambda, a.clip_eps, a.vf_coef, a.ent_coef, a.max_grad_norm)
    rx = rejax_request(a, 65_536, "CartPole-v1", 1)["kwargs"]
    assert (rx["learning_rate"], rx["gamma"], rx["gae_lambda"], rx["clip_eps"], rx["vf_coef"], rx["ent_coef"],
            rx["max_grad_norm"]) == hp
    assert (rx["num_envs"], rx["num_steps"], rx["total_timesteps"]) == (a.num_envs, a.rollout_length, 65_536)
    for lib in ("sb3", "sbx"):
        request = sb3_request(lib, "ppo", "CartPole-v1", a, 65_536, 1)
        kw = request["kwargs"]
        assert not request["anneal_lr"] and request["n_envs"] == a.num_envs
        assert (kw["learning_rate"], kw["gamma"], kw["gae_lambda"], kw["clip_range"], kw["vf_coef"], kw["ent_coef"],
                kw["max_grad_norm"]) == hp
        assert kw["clip_range_vf"] == a.clip_eps and kw["normalize_advantage"] == a.normalize_advantages
        assert kw["batch_size"] * a.num_minibatches == a.num_envs * a.rollout_length
    rejax = onpolicy_differences("ppo", "rejax", a)
    assert any("optax.clip" in d for d in rejax) and any("done flag" in d for d in rejax)
    assert not any("learning rate" in d for d in rejax)  # jaxrl's is constant here too
    assert any("clip_range_vf" in d for d in onpolicy_differences("ppo", "sbx", a))
    assert any("clipped prediction" in d for d in onpolicy_differences("ppo", "sb3", a))
    assert any("annealing" in d for d in onpolicy_differences("ppo", "rejax", dataclasses.replace(a, anneal_lr=True)))
    a2c = algo_config("a2c", "CartPole-v1", CASES["A2C CartPole-v1"])
    assert not a2c.anneal_lr and a2c.n_steps == a2c.rollout_length
    kw = sb3_request("sb3", "a2c", "CartPole-v1", a2c, 64_000, 1)["kwargs"]
    assert kw["use_rms_prop"] and (kw["learning_rate"], kw["ent_coef"], kw["vf_coef"], kw["max_grad_norm"]) == \
        (a2c.lr, a2c.ent_coef, a2c.vf_coef, a2c.max_grad_norm)
    assert onpolicy_differences("a2c", "sb3", a2c) == []
    assert onpolicy_differences("a2c", "sb3", dataclasses.replace(a2c, n_steps=1))


def test_trpo_time_to_return_gives_sb3_contrib_the_preset():
    """The TRPO time-to-return case hands sb3-contrib jaxrl's CartPole preset, and only sb3 is asked."""
    from time_to_return import load, peer_request

    config, log_steps = load("TRPO CartPole-v1", 2)
    a = config.algo_config
    request = peer_request("sb3", "TRPO CartPole-v1", config, log_steps, [0, 1])
    kw = request["kwargs"]
    assert request["algo"] == "trpo" and request["n_envs"] == a.num_envs and kw["n_steps"] == a.rollout_length
    assert log_steps == a.num_envs * a.rollout_length  # checked after every rollout, as PPO's
    assert (kw["cg_max_steps"], kw["line_search_max_iter"], kw["target_kl"], kw["gae_lambda"], kw["gamma"]) == \
        (a.cg_iters, a.max_backtracks + 1, a.max_kl, a.gae_lambda, a.gamma)
    assert request["total_timesteps"] == config.total_env_steps and request["threshold"] == 475.0
    with pytest.raises(ValueError, match="no TRPO"):
        peer_request("rejax", "TRPO CartPole-v1", config, log_steps, [0])


def test_offpolicy_settings_map_onto_each_peers_units():
    """jaxrl counts the target interval in gradient steps and trains once learning_starts env steps are stored;
    rejax and SB3 count in env steps and train once more than their threshold is stored (rejax: before the
    iteration's env steps)."""
    from offpolicy_peers import CASES, ours, rejax_request, sb3_request

    from jaxrl.config import load_config

    for case, spec in CASES.items():
        algo = load_config(ours(case)).algo_config
        for key, value in spec["algo"].items():
            assert getattr(algo, key) == value, (case, key)
        assert algo.hidden_sizes == (64, 64) and algo.activation == "relu"
    dqn = rejax_request("DQN CartPole-v1", 50_000, 1)["kwargs"]
    assert (dqn["target_update_freq"], dqn["polyak"], dqn["fill_buffer"], dqn["num_epochs"]) == (1000, 0.0, 995, 1)
    assert dqn["ddqn"] and dqn["eval_freq"] == dqn["total_timesteps"] == 50_000
    sac = rejax_request("SAC Pendulum-v1", 5_000, 1)["kwargs"]
    assert (sac["target_update_freq"], sac["polyak"], sac["fill_buffer"]) == (1, 0.995, 998)
    sb3, sbx = (sb3_request(lib, "DQN CartPole-v1", 50_000, 1) for lib in ("sb3", "sbx"))
    assert (sb3["kwargs"]["target_update_interval"], sb3["kwargs"]["learning_starts"], sb3["kwargs"]["train_freq"]) == \
        (1000, 999, 1)
    assert sb3["kwargs"]["max_grad_norm"] == 10.0 and "max_grad_norm" not in sbx["kwargs"]  # sbx's DQN has none
    assert sb3["warmup_timesteps"] > 1000  # sbx compiles its update in the warm-up
    assert sb3["torch_threads"] == sbx["torch_threads"] == 1
    sb3, sbx = (sb3_request(lib, "SAC Pendulum-v1", 5_000, 1)["kwargs"] for lib in ("sb3", "sbx"))
    assert sb3["target_update_interval"] == 1 and "target_update_interval" not in sbx  # sbx has no such option
    assert sb3["ent_coef"] == sbx["ent_coef"] == "auto" and sb3["policy_kwargs"]["n_critics"] == 2


def test_offpolicy_peers_quick_smoke_run_writes_its_result(tmp_path):
    result, rows = _quick_peers_run("offpolicy_peers.py", "DQN CartPole-v1", tmp_path)
    assert rows["jaxrl"]["env_steps"] == 2_000  # learning_starts + 1,000
    assert "differences" in result and "peer_requests" in result


@pytest.mark.slow
@pytest.mark.parametrize("script", ["brax_ppo.py", "brax_sac.py"])
def test_brax_trainer_comparisons_quick_smoke_run(script, tmp_path):
    # MJX compiles for about a minute per side on a CPU, hence slow
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["interleaved"] and result["ratio_ours_over_brax"] > 0 and result["ratio_same_stage_over_brax"] > 0
    assert result["ratio_same_iterations_over_brax_first_timed_epoch"] == pytest.approx(
        result["brax"]["times"][0] / result["jaxrl"]["same_stage_seconds"])
    assert len(result["jaxrl"]["times"]) == len(result["jaxrl"]["same_stage_times"]) == len(result["brax"]["times"]) == 2
    assert result["brax"]["xla_compiles_after_first_epoch"] == 0


def test_brax_ppo_options_reach_the_config_of_each_side():
    import argparse
    import types

    from brax_ppo import brax_kwargs, jaxrl_config

    def args(**kw):
        base = dict(env="brax/inverted_pendulum", num_envs=None, rollout_length=None, num_epochs=None,
                    num_minibatches=None, iterations=2)
        return argparse.Namespace(**{**base, **kw})

    env = types.SimpleNamespace(max_episode_steps=1000)
    config = jaxrl_config(args())
    assert config.algo_config.normalize_obs and brax_kwargs(config, env, 2, 3)["normalize_observations"]
    config = jaxrl_config(args(no_normalize_obs=True, mjx_opt="{iterations: 2, tolerance: -1}",
                               override=["algo.normalize_obs_update=step", "algo.lr=5e-4"]))
    assert not config.algo_config.normalize_obs and not brax_kwargs(config, env, 2, 3)["normalize_observations"]
    assert config.env_kwargs["mjx_opt"] == {"iterations": 2, "tolerance": -1}  # the env of both sides
    assert brax_kwargs(config, env, 2, 3)["learning_rate"] == config.algo_config.lr == 5e-4  # a mapped override
    config = jaxrl_config(args(override=["algo.normalize_obs_update=rollout"]))
    assert config.algo_config.normalize_obs_update == "rollout"


@pytest.mark.slow
def test_normalize_obs_update_comparison_runs_both_modes(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "normalize_obs_update.py"), "--envs",
                           "gymnax/CartPole-v1", "--seeds", "2", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["results"]["gymnax/CartPole-v1"]
    assert set(rows) == {"step", "rollout"} and all(len(r["final_return_per_seed"]) == 2 for r in rows.values())
    assert all(r["normalize_obs"] and r["normalize_obs_update"] == mode for mode, r in rows.items())


def test_solver_iterations_summary_counts_the_largest_in_each_batch():
    import numpy as np
    from solver_iterations import summarize

    # 3 stages x 1 iteration x 2 batched solves, 3 envs each
    solves = [np.array(x) for x in ([1, 0, 1], [1, 3, 0], [2, 2, 2], [1, 1, 1], [0, 0, 1], [4, 0, 0])]
    stages = summarize(solves, iterations=1)
    assert [x["mean_trips_per_solve"] for x in stages] == [2.0, 1.5, 2.5]
    assert [x["iterations"] for x in stages] == [[1, 1], [2, 2], [3, 3]]
    assert stages[0]["trips_histogram"] == {1: 1, 3: 1} and stages[0]["mean_iterations_per_env"] == 1.0
    with pytest.raises(RuntimeError, match="do not split into 3 x 1 iterations"):
        summarize(solves[:5], iterations=1)
    from solver_iterations import summarize_states

    steps = [(np.array(d) > 0, np.array(a)) for d, a in ([[0, 1], [1, 0]], [[0, 0], [0, 0]], [[0, 0], [1, 1]])]
    states = summarize_states(steps, iterations=1)
    assert [x["terminations_per_env_step"] for x in states] == [0.5, 0.0, 0.0]
    assert [x["env_steps_at_a_joint_limit"] for x in states] == [0.5, 0.0, 1.0]
    assert [x["batched_steps_with_an_env_at_a_limit"] for x in states] == [1.0, 0.0, 1.0]


@pytest.mark.slow
def test_solver_iterations_counts_each_trainers_batched_solves(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "solver_iterations.py"), "--seeds", "0",
                           "--iterations", "1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rollout = result["settings"]["rollout_length"]
    for side in ("jaxrl", "brax"):
        counted = result["seeds"]["0"][side]
        # inverted_pendulum steps its physics twice per env step (n_frames=2): two batched solves a step
        assert counted["batched_solves_per_iteration"] == 2 * rollout
        assert all(x["mean_trips_per_solve"] >= 1 for x in counted["stages"])
        assert all(0 <= x["env_steps_at_a_joint_limit"] <= 1 for x in counted["stages"])
    # early in training the pendulums fall: some env steps terminate on both sides
    assert all(result["seeds"]["0"][side]["stages"][0]["terminations_per_env_step"] > 0 for side in ("jaxrl", "brax"))


@pytest.mark.slow
def test_brax_loss_on_acting_statistics_keeps_the_update_and_changes_what_the_loss_sees():
    """The patch moves brax's normaliser update after SGD: the update still lands in the training state (its
    count covers every env step trained), but the loss saw other observations, so the policy differs."""
    import argparse

    import jax
    import numpy as np
    from brax.training.agents.ppo import train as brax_ppo_train
    from brax_ppo import BraxLossOnActingStatistics, brax_compat, brax_kwargs, jaxrl_config

    from jaxrl.envs import make_base

    config = jaxrl_config(argparse.Namespace(env="brax/inverted_pendulum", num_envs=None, rollout_length=None,
                                             num_epochs=None, num_minibatches=None, iterations=1,
                                             no_normalize_obs=False, override=[]))
    brax_compat()
    env = make_base(config.env, **config.env_kwargs)
    kwargs = brax_kwargs(config, env, iterations=1, epochs=1)

    def train():
        _, params, _ = brax_ppo_train.train(environment=env.env, progress_fn=lambda *_: None, **kwargs)
        return params

    plain = train()
    patch = BraxLossOnActingStatistics().install()
    try:
        patched = train()
    finally:
        patch.uninstall()
    assert brax_ppo_train.TrainingState is patch._saved[1]  # uninstalled
    for params in (plain, patched):
        assert int(params[0].count) == kwargs["num_timesteps"]
    np.testing.assert_array_equal(plain[0].mean, patched[0].mean)  # the first rollout acted alike
    leaves = lambda p: jax.tree.leaves(p[1])
    assert any(not np.array_equal(a, b) for a, b in zip(leaves(plain), leaves(patched)))


def test_time_to_return_checks_the_rule_at_the_same_points_on_every_side():
    """Each case's jaxrl preset logs every log_steps env steps of a seed; rejax evaluates and SB3 tallies at the
    same points, over the same budget; DQN and SAC peers get the preset's settings, mapped (offpolicy_peers)."""
    from time_to_return import CASES, load, peer_request

    for case in CASES:
        config, log_steps = load(case, 8)
        assert config.log_every * config.algo_config.steps_per_iteration() == log_steps
        for name in CASES[case]["peers"]:
            request = peer_request(name, case, config, log_steps, list(range(8)))
            if name == "rejax":
                assert request["kwargs"]["eval_freq"] == log_steps
                assert request["kwargs"]["total_timesteps"] == config.total_env_steps
            else:
                assert request["log_steps"] == log_steps and request["total_timesteps"] == config.total_env_steps
                assert request["window_steps"] == CASES[case]["window_steps"]
    config, log_steps = load("DQN CartPole-v1", 8)
    assert log_steps == 1_000 and config.log_every == 100
    dqn = peer_request("sb3", "DQN CartPole-v1", config, log_steps, [0])["kwargs"]
    assert dqn["policy_kwargs"]["net_arch"] == [64, 64] and dqn["target_update_interval"] == 500
    assert dqn["learning_starts"] == 9_999 and dqn["exploration_fraction"] == 0.5
    # what a peer cannot match is said, from the preset's own settings
    from offpolicy_peers import peer_differences

    s = dict(vars(config.algo_config))
    assert any("(64, 64) Q-network" in d for d in peer_differences("dqn", s, "rejax", (120, 84)))
    assert any("Huber loss" in d for d in peer_differences("dqn", s, "sb3", (120, 84)))
    assert not any("Huber" in d for d in peer_differences("dqn", dict(s, loss="huber"), "sb3", (120, 84)))


def test_time_to_return_smoke_run_judges_every_seed(tmp_path):
    """jaxrl alone, 2 seeds, a short SAC budget: the rule is checked every log_steps env steps of each seed."""
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "time_to_return.py"), "--quick", "--peers",
                           "--cases", "SAC Pendulum-v1", "--budget", "3000", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    row = result["results"]["SAC Pendulum-v1"]["jaxrl (2 seeds, one call)"]
    assert result["cases"]["SAC Pendulum-v1"]["budget_env_steps_per_seed"] == 3000
    (only,) = row["passes"]
    assert len(only["seeds"]) == 2 and row["seconds"] > 0
    assert only["checks"] == 31  # after iterations 1, 101, ..., 2901 (the logger's schedule) and the last
    for seed in only["seeds"]:  # a seed that never reached -250 in 3,000 steps counts its whole run
        assert seed["reached"] or seed["seconds"] == only["wall_seconds"]
    assert out.with_suffix(".png").exists()


def test_a_multi_case_result_is_written_after_each_case_and_lists_the_rest(tmp_path):
    # a run cut off by a time limit keeps the cases it finished, and the README says the table is partial
    import report
    from common import write_cases

    out, done = tmp_path / "r.json", {}
    build = lambda: {"device": "cpu:test", "date": "today", "results": dict(done)}
    done["A"] = {"x": 1}
    _, result = write_cases("t", build, ["A", "B"], done, str(out))
    assert json.loads(out.read_text()) == result and result["unfinished"] == ["B"]
    assert "cut off (its time limit) before B" in report._header(result)
    done["B"] = {"x": 2}
    _, result = write_cases("t", build, ["A", "B"], done, str(out))
    assert "unfinished" not in json.loads(out.read_text()) and set(result["results"]) == {"A", "B"}


def test_host_probe_is_recorded_at_start_and_end_and_shown_in_the_table_header():
    import report
    from common import host_probe_ms, provenance

    assert 0 < host_probe_ms(repeats=1) < 60_000
    probe = provenance()["host_probe_ms"]
    assert set(probe) == {"start", "end"} and probe["start"] > 0 and probe["end"] > 0
    header = report._header({"device": "cpu:test", "date": "today", "host_probe_ms": {"start": 21.6, "end": 64.2}})
    assert "host probe 22 / 64 ms" in header
    assert "host probe" not in report._header({"device": "cpu:test", "date": "today"})  # files from before it


def test_xla_flags_of_a_run_are_recorded_and_shown_in_the_table_header(monkeypatch):
    import report
    from common import provenance

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert "xla_flags" not in provenance()
    flags = "--xla_gpu_enable_command_buffer=FUSION,WHILE"  # read only when a GPU backend starts
    monkeypatch.setenv("XLA_FLAGS", flags)
    result = provenance()
    assert result["xla_flags"] == flags
    assert f"XLA_FLAGS `{flags}`" in report._header(dict(result, device="gpu:test"))


def _quick_run(script: str, tmp_path) -> dict:
    """`script --quick --out F`: its result file, with the provenance every result file records."""
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.with_suffix(".png").exists()
    result = json.loads(out.read_text())
    assert result["quick"] and result["device"] and result["versions"]["jax"] and result["date"]
    return result


def test_onpolicy_learning_quick_smoke_run_writes_its_result(tmp_path):
    result = _quick_run("onpolicy_learning.py", tmp_path)
    assert [r["algo"] for r in result["results"]] == ["ppo", "a2c"] and result["seeds"] == 2
    for r in result["results"]:
        assert len(r["final_return_per_seed"]) == 2 and r["total_env_steps_per_seed"] <= 20_000


def test_prng_lowering_quick_run_gives_identical_outputs_both_ways(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "prng_lowering.py"), "--quick", "--cases",
                           "DQN CartPole-v1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["results"]["DQN CartPole-v1"]
    assert row["identical_outputs"] is True and row["speedup"] > 0
    assert out.with_suffix(".png").stat().st_size > 0


def test_weight_gradients_quick_run_removes_the_standard_form_dots(tmp_path):
    """The diagnostic's two sides differ in what it claims: the standard side keeps the weight gradients'
    leading-axis dots (at least the two hidden layers'), jaxrl's CPU layout removes them all (DQN's
    Q-network has no vector head)."""
    import jax

    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "weight_gradients.py"), "--quick", "--cases",
                           "DQN CartPole-v1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["results"]["DQN CartPole-v1"]
    assert row["speedup"] > 0 and row["standard_leading_axis_dots"] >= 2
    assert out.with_suffix(".png").stat().st_size > 0
    if jax.default_backend() == "cpu":
        assert row["jaxrl_leading_axis_dots"] == 0


@pytest.mark.slow
def test_planner_quick_smoke_run_writes_its_result(tmp_path):
    # compiles CEM over a brax env (about a minute on a CPU), hence slow
    result = _quick_run("planner.py", tmp_path)
    assert [e["env"] for e in result["envs"]] == ["gymnax/Pendulum-v1", "brax/inverted_pendulum"]
    for e in result["envs"]:
        assert len(e["cem"]["returns"]) == 1 and len(e["cem"]["returns"][0]) == 2


@pytest.mark.slow
def test_brax_overhead_alone_is_its_own_result(tmp_path):
    out = tmp_path / "brax-overhead.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "throughput.py"), "--brax-only", "--brax-num-envs",
                           "4", "--brax-steps", "8", "--repeats", "1", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["overhead"] == result["scaling_num_envs"] == [] and len(result["brax_overhead"]) == 1
    row = result["brax_overhead"][0]
    assert row["kernel_over_bare"] > 0
    # the A/A control: the bare loop timed a second time in the same rounds, one time per round
    assert row["control_over_bare"] > 0
    assert len(row["bare_env_loop_again"]["times"]) == len(row["bare_env_loop"]["times"])


def test_random_actions_are_uniform_and_the_default_draws_once():
    """The overhead pair's random policy: uniform over 0..n-1 either way, and `bits` (the default) makes one
    random draw per call where `randint` makes two (the second is what XLA sometimes failed to remove)."""
    import jax
    import numpy as np
    from throughput import random_actions

    key = jax.random.PRNGKey(0)
    for how in ("bits", "randint"):
        a = np.asarray(random_actions(key, 30_000, 3, how))
        assert a.dtype == np.int32 and a.min() == 0 and a.max() == 2
        np.testing.assert_allclose(np.bincount(a, minlength=3) / a.size, 1 / 3, atol=0.015)

    def draws(how):
        jaxpr = jax.make_jaxpr(lambda k: random_actions(k, 4, 2, how))(key)
        return str(jaxpr).count("random_bits")

    assert draws("bits") == 1 and draws("randint") == 2


def test_merge_cases_replaces_the_cases_run_and_says_where_each_came_from(tmp_path):
    from common import merge_cases

    def result(date, cases, **extra):
        return dict({"benchmark": "time_to_return", "date": date, "command": f"run {date}", "device": "cpu",
                     "results": {c: {"jaxrl": {"seconds": float(i + 1)}, "date": date} for i, c in enumerate(cases)},
                     "cases": {c: {"threshold": 1.0, "date": date} for c in cases}}, **extra)

    into = tmp_path / "ttr.json"
    into.write_text(json.dumps(result("d1", ["A", "B", "C"], source="copied from a log")))
    merged = merge_cases(into, result("d2", ["B"]), "the preset changed")
    assert [merged["results"][c]["date"] for c in "ABC"] == ["d1", "d2", "d1"]
    assert "(copied from a log)" in merged["source"]  # how the file was first made is kept
    assert merged["cases"]["B"]["date"] == "d2" and merged["date"] == "d1"
    assert "A, C from the run of d1" in merged["source"] and "B re-run on d2 (`run d2`): the preset changed" in merged["source"]
    merged = merge_cases(into, result("d3", ["C"], host_probe_ms={"start": 22.4, "end": 61.0}), "again")
    assert "A from the run of d1" in merged["source"] and "C re-run on d3, host probe 22 / 61 ms" in merged["source"]
    assert merged["merged_runs"][-1]["host_probe_ms"] == {"start": 22.4, "end": 61.0}
    assert json.loads(into.read_text()) == merged
    with pytest.raises(ValueError, match="cannot merge"):
        merge_cases(into, dict(result("d4", ["A"]), benchmark="ppo_peers"), "x")
    with pytest.raises(ValueError, match="quick or unfinished"):
        merge_cases(into, result("d4", ["A"], quick=True), "x")
    with pytest.raises(ValueError, match="its device is 'cpu'"):
        merge_cases(into, dict(result("d4", ["A"]), device="gpu"), "x")
    assert json.loads(into.read_text()) == merged  # a refused merge leaves the file as it was


def test_a_merged_run_writes_its_own_file_elsewhere(tmp_path):
    """Without --out, a run's own file would be the --merge-into file (its default path), and the cases
    it did not run would be lost before the merge."""
    import argparse

    from common import add_round_args, check_merge_args

    p = argparse.ArgumentParser()
    add_round_args(p, ["A", "B"], ["rejax"], "smoke")
    into = tmp_path / "ppo-peers-cpu.json"
    args = p.parse_args(["--cases", "A", "--merge-into", str(into), "--reason", "why"])
    check_merge_args(p, args)
    assert args.out and Path(args.out).parent != into.parent and Path(args.out).name == into.name
    args = p.parse_args(["--cases", "A", "--merge-into", str(into), "--reason", "why", "--out", "x.json"])
    check_merge_args(p, args)
    assert args.out == "x.json"


_HLO = """HloModule jit_f, entry_computation_layout={(f32[4]{0})->f32[4]{0}}

%fused_computation (param_0: f32[4]) -> f32[4] {
  %param_0 = f32[4]{0} parameter(0)
  ROOT %exponential.0 = f32[4]{0} exponential(%param_0)
}

%inner_body (arg: (s32[], f32[4])) -> (s32[], f32[4]) {
  %arg = (s32[], f32[4]{0}) parameter(0)
  %x = f32[4]{0} get-tuple-element(%arg), index=1
  %fusion.1 = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused_computation, metadata={op_name="jit(f)/while/body/exp"}
  ROOT %t = (s32[], f32[4]{0}) tuple(%i, %fusion.1)
}

%inner_cond (arg: (s32[], f32[4])) -> pred[] {
  %arg = (s32[], f32[4]{0}) parameter(0)
  ROOT %lt = pred[] compare(%i, %n), direction=LT
}

%outer_body (arg: (s32[], f32[4])) -> (s32[], f32[4]) {
  %arg = (s32[], f32[4]{0}) parameter(0)
  %fusion.2 = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused_computation
  %copy.1 = f32[4]{0} copy(%fusion.2)
  %w = (s32[], f32[4]{0}) while(%arg), condition=%inner_cond, body=%inner_body, backend_config={"known_trip_count":{"n":"4"}}
  ROOT %t = (s32[], f32[4]{0}) tuple(%i, %copy.1)
}

%outer_cond (arg: (s32[], f32[4])) -> pred[] {
  %arg = (s32[], f32[4]{0}) parameter(0)
  ROOT %lt = pred[] compare(%i, %n), direction=LT
}

%walk_body (arg: f32[4]) -> f32[4] {
  %arg = f32[4]{0} parameter(0)
  ROOT %fusion.3 = f32[4]{0} fusion(%arg), kind=kLoop, calls=%fused_computation
}

%walk_cond (arg: f32[4]) -> pred[] {
  %arg = f32[4]{0} parameter(0)
  ROOT %any = pred[] fusion(%arg), kind=kInput, calls=%fused_computation
}

ENTRY %main (Arg_0: f32[4]) -> f32[4] {
  %Arg_0 = f32[4]{0} parameter(0)
  %fusion.4 = f32[4]{0} fusion(%Arg_0), kind=kLoop, calls=%fused_computation
  %w0 = (s32[], f32[4]{0}) while(%t0), condition=%outer_cond, body=%outer_body, backend_config={"known_trip_count":{"n":"3"}}
  %w1 = f32[4]{0} while(%fusion.4), condition=%walk_cond, body=%walk_body
  ROOT %c = f32[4]{0} custom-call(%w1), custom_call_target="foo"
}
"""


def test_launch_counter_multiplies_kernels_through_nested_loops():
    import launches

    c = launches.count(_HLO)
    # entry: fusion.4 + custom-call = 2; outer loop x3: (fusion.2 + copy + inner x4 (fusion.1 + cond 1) + cond 1)
    # + the inner cond's exit test, then the outer cond's exit test; the walk loop (no trip count) counts once
    inner = 4 * (1 + 1) + 1
    outer = 3 * (2 + inner + 1) + 1
    assert c["kernels_per_call"] == 2 + outer + (1 + 1) + 1
    assert c["loop_iterations_per_call"] == 3 * (1 + 4) + 1
    assert c["loops_without_trip_count"] == 1
    loops = {(row["depth"], row["trip_count"]): row for row in c["loops"]}
    assert loops[(1, 4)]["kernels_in_body"] == {"body/exp": 1}
    assert loops[(1, 4)]["kernel_kinds_in_body"] == {"elementwise": 1}
    assert loops[(0, 3)]["kernel_kinds_in_body"] == {"elementwise": 1, "copy": 1}
    gemm = '%g = f32[8,8]{1,0} fusion(%a), kind=kCustom, backend_config={"fusion_backend_config":{"kind":"__triton_nested_gemm_fusion"}}'
    assert launches._kernel_kind(*launches._opcode_and_rest(gemm.split(" = ", 1)[1])) == "gemm"
    assert launches._kernel_kind("fusion", "%x), kind=kInput, calls=%f") == "reduction"
    assert loops[(0, 3)]["kernels_per_iteration"] == 2 + inner + 1
    assert c["kernel_instructions"] == {"fusion": 5, "compare": 2, "custom-call": 1, "copy": 1}


def test_launch_counter_reads_a_real_program():
    import jax
    import launches

    f = jax.jit(lambda x: jax.lax.fori_loop(0, 7, lambda i, y: jax.numpy.sin(y) * 2.0 + i, x))
    c = launches.count(f.lower(jax.numpy.ones(8)).compile().as_text())
    assert 7 in [row["trip_count"] for row in c["loops"]]
    assert c["kernels_per_call"] >= 7 and c["loop_iterations_per_call"] >= 7
    assert c["conditionals_per_call"] == 0
    # a conditional on a value the program computes runs at every iteration (a host round trip on a GPU)
    jnp = jax.numpy
    g = jax.jit(lambda x: jax.lax.fori_loop(0, 7, lambda i, y: jax.lax.cond(
        y.sum() > i, lambda v: jnp.sin(v) @ v.T @ v, lambda v: jnp.cos(v) * 3.0, y), x))
    c = launches.count(g.lower(jnp.ones((8, 8))).compile().as_text())
    assert c["conditionals_per_call"] == 7 and [r["conditionals_per_iteration"] for r in c["loops"]] == [1]


def test_trace_summary_adds_up_the_device_events_only(tmp_path):
    """A Chrome trace as jax.profiler writes it: host events are left out; the device's busy time is the
    union of its streams' intervals (overlaps count once)."""
    import gzip

    sys.path.insert(0, str(ROOT / "bench" / "peers"))
    from trace_summary import summarize

    run = tmp_path / "plugins" / "profile" / "run1"
    run.mkdir(parents=True)
    events = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "/host:CPU"}},
              {"ph": "M", "pid": 2, "name": "process_name", "args": {"name": "/device:GPU:0 (pid 2)"}},
              {"ph": "X", "pid": 1, "tid": 1, "ts": 0, "dur": 1000, "name": "PjitFunction(train)"},
              {"ph": "X", "pid": 2, "tid": 7, "ts": 10, "dur": 4, "name": "gemm_fusion_dot"},
              {"ph": "X", "pid": 2, "tid": 8, "ts": 12, "dur": 4, "name": "loop_add_fusion"},  # overlaps by 2
              {"ph": "X", "pid": 2, "tid": 7, "ts": 30, "dur": 2, "name": "gemm_fusion_dot"}]
    with gzip.open(run / "host.trace.json.gz", "wt") as f:
        json.dump({"traceEvents": events}, f)
    s = summarize(str(tmp_path))
    assert s["device_events"] == 3 and s["total_event_us"] == 10
    assert s["busy_us"] == 8 and s["span_us"] == 22  # [10, 16) and [30, 32)
    assert s["top_events"][0] == {"name": "gemm_fusion_dot", "count": 2, "total_us": 6, "mean_us": 3}
    gaps = s["gaps"]  # the one idle interval, [16, 30): after loop_add_fusion, before gemm_fusion_dot
    assert gaps["count"] == 1 and gaps["total_us"] == 14 == s["span_us"] - s["busy_us"]
    assert [b["count"] for b in gaps["by_length"]] == [0, 0, 1, 0, 0] and gaps["by_length"][2]["gap"] == "10-50 us"
    assert gaps["next_events"] == [{"name": "gemm_fusion_dot", "count": 1, "total_us": 14, "mean_us": 14}]
    assert gaps["previous_events"][0]["name"] == "loop_add_fusion"
    assert s["host"] == {"events": 1, "top_by_count": [
        {"name": "/host:CPU: PjitFunction(train)", "count": 1, "total_us": 1000, "mean_us": 1000}]}
    events = [e for e in events if e.get("pid") != 2]  # a CPU trace: said so, not an empty account
    with gzip.open(run / "host.trace.json.gz", "wt") as f:
        json.dump({"traceEvents": events}, f)
    assert summarize(str(tmp_path))["device_events"] == 0 and "no device events" in summarize(str(tmp_path))["note"]
    with pytest.raises(FileNotFoundError, match="no \\*.trace.json.gz"):
        summarize(str(tmp_path / "elsewhere"))


@pytest.mark.slow
def test_ppo_update_ab_quick_run_gives_identical_outputs_and_fewer_step_kernels(tmp_path):
    """The one-vector loop's claim: fewer kernels per gradient step than the pytree loop with per-metric
    outputs, and on the CPU (Pendulum) the same outputs bit for bit."""
    import jax

    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "ppo_update_ab.py"), "--quick", "--cases",
                           "PPO Pendulum-v1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["results"]["PPO Pendulum-v1"]
    assert row["vector_kernels_per_gradient_step"] < row["stacked_kernels_per_gradient_step"] \
        < row["pytree_kernels_per_gradient_step"]
    if jax.default_backend() == "cpu":
        assert row["identical_outputs"] is True
    assert row["auto_compiled"] == json.loads(out.read_text())["auto_layout"]


@pytest.mark.slow
def test_idle_resets_ab_quick_run_gives_identical_outputs_and_one_more_conditional_on_cpu(tmp_path):
    """The skip's claims as the benchmark records them: the same outputs bit for bit, and on the CPU one
    conditional more in the program (the skip) than resetting at every step."""
    import jax

    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "idle_resets_ab.py"), "--quick", "--cases",
                           "PPO CartPole-v1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["results"]["PPO CartPole-v1"]
    assert row["identical_outputs"] is True
    if jax.default_backend() == "cpu":
        assert row["skip_conditionals_in_program"] == row["every step_conditionals_in_program"] + 1


def _dot_flops(stablehlo: str) -> int:
    """2 x (output elements) x (contracted size), summed over a lowered program's dot_general ops."""
    import math
    import re

    total = 0
    for line in stablehlo.splitlines():
        if "dot_general" not in line:
            continue
        contracting = [int(d) for d in re.search(r"contracting_dims = \[([\d, ]*)\]", line).group(1).split(",")]
        shapes = [[int(d) for d in t.split("x")[:-1]] for t in re.findall(r"tensor<([\dx]+x?f32)>", line)]
        lhs, out = shapes[0], shapes[-1]
        total += 2 * math.prod(out) * math.prod(lhs[d] for d in contracting)
    return total


def test_ppo_bound_counts_the_matmuls_that_autodiff_runs():
    """The count against JAX's own autodiff of a tanh MLP: the dots of its lowered forward pass and gradient."""
    import jax
    import jax.numpy as jnp
    from ppo_bound import forward_flops, gradient_flops, mlp_layers

    rows = 512
    for layers in (mlp_layers(4, [64, 64], 2), mlp_layers(3, [64, 64], 1)):
        params = [(jnp.ones((i, o)) / i, jnp.zeros(o)) for i, o in layers]

        def mlp(params, x):
            for k, (w, b) in enumerate(params):
                x = x @ w + b
                x = jnp.tanh(x) if k < len(params) - 1 else x
            return x

        x = jnp.ones((rows, layers[0][0]))
        forward = jax.jit(mlp).lower(params, x).as_text()
        gradient = jax.jit(jax.grad(lambda p, x: jnp.sum(mlp(p, x) ** 2))).lower(params, x).as_text()
        assert _dot_flops(forward) == forward_flops(layers, rows)
        # the weight gradients and every input gradient but the observations'
        assert _dot_flops(gradient) == gradient_flops(layers, rows)


def test_ppo_bound_counts_every_gradient_step_and_observation_of_a_call():
    from ppo_bound import forward_flops, gradient_flops, ppo_matmul_flops
    from ppo_peers import CASES

    s = CASES["PPO CartPole-v1"]
    flops = ppo_matmul_flops(4, 2, [64, 64], s, iterations=32)
    nets = flops["actor_layers"], flops["critic_layers"]
    assert flops["gradient_steps"] == 32 * s["num_epochs"] * s["num_minibatches"] == 512
    assert flops["minibatch_rows"] == 16 * 128 // 4
    step = sum(gradient_flops(layers, 512) for layers in nets)
    first_forward = sum(forward_flops(layers, 512) for layers in nets)  # kept from acting, once per iteration
    assert flops["update"] == 512 * step - 32 * first_forward
    acting = forward_flops(nets[0], 16 * 128) + forward_flops(nets[1], 16 * 129)
    assert flops["rollout"] == 32 * acting and flops["total"] == flops["rollout"] + flops["update"]
    assert flops["programs"] == {"rollout": 32 * sum(forward_flops(layers, 2048) for layers in nets),
                                 "update": 512 * step}


def test_ppo_bound_figures_take_the_best_of_each_measurement_and_give_back_their_inputs():
    from ppo_bound import summarise

    flops = {"total": 10e9, "programs": {"rollout": 1e9, "update": 8e9}}
    rounds = [{"jaxrl_steps_per_second": j, "sb3_steps_per_second": b, "peak_gflops": peak,
               "env_loop_steps_per_second": {"bare_env_loop": env, "jaxrl_kernel": env / 2},
               "matmuls_at_shapes_seconds": {"rollout": 0.01 * k, "update, standard layout": 0.2 * k,
                                             "update, plain layout": 0.1 * k}, "figures": {}}
              for j, b, peak, env, k in ((100.0, 10.0, 200.0, 1e6, 1.0), (300.0, 30.0, 400.0, 4e6, 2.0),
                                         (200.0, 20.0, 300.0, 2e6, 3.0))]
    for r in rounds:
        r["figures"] = {"ceiling": 1.0, "with_env_loop": 2.0, "xla_at_these_shapes": 3.0}
    sm = summarise(rounds, flops, steps=65536)
    assert sm["peak_gflops"] == 400 and sm["env_loop_steps_per_second"] == 4e6
    assert sm["jaxrl_steps_per_second"] == 200 and sm["sb3_steps_per_second"] == 20
    assert sm["figures"]["ceiling"] == 65536 / (10e9 / 400e9)
    assert sm["figures"]["with_env_loop"] == 65536 / (65536 / 4e6 + 10e9 / 400e9)
    assert abs(sm["figures"]["xla_at_these_shapes"] - 65536 / (65536 / 4e6 + 0.01 + 0.1)) < 1e-6
    assert abs(sm["matmuls_at_shapes_gflops"] - 9e9 / 0.11 / 1e9) < 1e-9
    assert sm["figure_over_sb3"]["ceiling"] == sm["figures"]["ceiling"] / 20
    assert sm["figure_over_sb3_by_round"]["with_env_loop"] == [0.2, 2 / 30, 0.1]


def test_ppo_bound_quick_run_puts_jaxrl_below_the_figures(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "ppo_bound.py"), "--quick", "--peers", "--cases",
                           "PPO CartPole-v1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.with_suffix(".png").exists()
    result = json.loads(out.read_text())
    summary = result["results"]["PPO CartPole-v1"]["summary"]
    assert result["quick"] and "sb3_steps_per_second" not in summary
    # jaxrl runs an XLA env loop and at least these matmuls: a figure below jaxrl's speed would be wrong
    assert 0 < summary["jaxrl_steps_per_second"] < summary["figures"]["with_env_loop"] < summary["figures"]["ceiling"]
    assert summary["peak_gflops"] > summary["matmuls_at_shapes_gflops"] > 0


def test_xla_flags_ab_runs_each_setting_in_a_process_that_sees_it(tmp_path):
    out = tmp_path / "result.json"
    flag = "--xla_cpu_prefer_vector_width=256"  # XLA's default width, written out: another setting
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "xla_flags_ab.py"), "--quick", "--cases",
                           "PPO CartPole-v1", f"--with={flag}", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    raw = result["raw"]["PPO CartPole-v1"]
    # each worker saw its own setting, not the XLA_FLAGS of the process that started it
    assert [rows[0]["xla_flags_seen"] for rows in raw.values()] == ["", flag]
    row = result["results"]["PPO CartPole-v1"]
    assert row["settings"][""]["speedup"] == 1.0 and row["speedup"] == row["settings"][flag]["speedup"] > 0
    assert out.with_suffix(".png").exists()

