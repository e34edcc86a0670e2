"""Host side of the metrics callback: progress lines while the jitted loop runs, and metrics.csv."""
from __future__ import annotations

import csv
import math
import sys
import threading
import time

import numpy as np


class RunLogger:
    """Receives `log(key_data, iteration, metrics)` from jax.debug.callback (once per seed under vmap),
    writes one CSV row per logged iteration and seed, prints progress at most every `print_every` s."""

    def __init__(self, keys, steps_per_iteration: int, total_iterations: int, csv_path=None,
                 print_every: float = 2.0, stream=sys.stdout):
        self.seed_of = {tuple(np.asarray(k).tolist()): i for i, k in enumerate(np.asarray(keys))}
        self.num_seeds = len(self.seed_of)
        self.steps_per_iteration = steps_per_iteration
        self.total_iterations = total_iterations
        self.print_every = print_every
        self.stream = stream
        self.csv_path = csv_path
        self._file = self._writer = None
        self._lock = threading.Lock()
        self.latest: dict[int, tuple[int, dict]] = {}
        self.start_time = time.perf_counter()
        self._last_print = 0.0

    def start(self):
        """Call right before running the compiled program: steps/s counts from here."""
        self.start_time = time.perf_counter()
        self._last_print = self.start_time

    def log(self, key_data, iteration, metrics):
        seed = self.seed_of.get(tuple(np.asarray(key_data).tolist()), -1)
        iteration = int(iteration)
        env_steps = (iteration + 1) * self.steps_per_iteration
        now = time.perf_counter()
        elapsed = max(now - self.start_time, 1e-9)
        row = {"seed": seed, "iteration": iteration, "env_steps": env_steps}
        row.update({k: float(np.asarray(v)) for k, v in metrics.items()})
        # steps of all seeds run in lock-step, so the program's throughput is num_seeds * per-seed
        row["steps_per_second"] = env_steps * max(self.num_seeds, 1) / elapsed
        row["wall_seconds"] = elapsed
        with self._lock:
            self.latest[seed] = (iteration, row)
            self._write(row)
            done = iteration == self.total_iterations - 1 and len(self.latest) >= self.num_seeds and all(
                it == iteration for it, _ in self.latest.values())
            if now - self._last_print >= self.print_every or done:
                self._last_print = now
                self._print()

    def _write(self, row):
        if self.csv_path is None:
            return
        if self._writer is None:
            self._file = open(self.csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def _print(self):
        rows = [r for _, r in self.latest.values()]
        steps = min(r["env_steps"] for r in rows)
        total = self.total_iterations * self.steps_per_iteration
        returns = [r["episode_return"] for r in rows if not math.isnan(r["episode_return"])]
        ret = f"{np.mean(returns):9.2f}" if returns else "      n/a"
        sps = max(r["steps_per_second"] for r in rows)
        print(f"[{100 * steps / total:5.1f}%] env_steps {steps:>11,}/{total:,} | {sps:>11,.0f} steps/s | "
              f"episode_return {ret} (mean of {len(rows)} seed{'s' if len(rows) > 1 else ''}) | "
              f"{rows[0]['wall_seconds']:6.1f}s", file=self.stream, flush=True)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None
