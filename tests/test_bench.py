"""The benchmark scripts' shared logic and their smoke runs (timings themselves are not asserted here:
speed targets live in bench/, see bench/README.md)."""
import json
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


def test_interleaved_medians_alternates_the_sides():
    calls = []
    out = interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b"] * 3
    assert set(out) == {"a", "b"}
    for median, times in out.values():
        assert len(times) == 3 and min(times) <= median <= max(times)


def test_unknown_peer_is_named():
    with pytest.raises(KeyError, match="unknown peer 'sb2'.*rejax"):
        peer_python("sb2")
    assert set(PEERS) == {"rejax", "sb3"}


def test_report_matches_the_result_files():
    """bench/README.md's tables are regenerated from bench/results/*.json; a stale README fails here."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ppo_peers_quick_smoke_run_writes_its_result(tmp_path):
    out = tmp_path / "ppo-peers.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "ppo_peers.py"), "--quick", "--peers",
                           "--cases", "PPO CartPole-v1", "--seeds-in-one-call", "2", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = result["results"]["PPO CartPole-v1"]
    assert set(rows) == {"jaxrl", "jaxrl x2 seeds"}
    assert rows["jaxrl"]["steps_per_second"] > 0 and rows["jaxrl"]["jaxrl_over_this"] == 1.0
    assert rows["jaxrl x2 seeds"]["env_steps"] == 2 * rows["jaxrl"]["env_steps"]
    for field in ("command", "device", "versions", "date", "settings", "seeds"):
        assert field in result
    assert out.with_suffix(".png").exists()
