"""Host side of the metrics callback: progress lines while the jitted loop runs, and metrics.csv."""
from __future__ import annotations

import csv
import math
import sys
import time

import numpy as np


class RunLogger:
    """Receives `log(iteration, metrics)` from jax.debug.callback, each metric with a leading seed axis;
    writes one CSV row per logged iteration and seed, prints progress at most every `print_every` s."""

    def __init__(self, num_seeds: int, steps_per_iteration: int, total_iterations: int, csv_path=None,
                 print_every: float = 2.0, stream=sys.stdout):
        self.num_seeds = num_seeds
        self.steps_per_iteration = steps_per_iteration
        self.total_iterations = total_iterations
        self.print_every = print_every
        self.stream = stream
        self.csv_path = csv_path
        self._file = self._writer = None
        self.rows_written = 0
        self.start_time = time.perf_counter()
        self._last_print = 0.0

    def start(self):
        """Call right before running the compiled program: steps/s counts from here."""
        self.start_time = time.perf_counter()
        self._last_print = self.start_time

    def log(self, iteration, metrics):
        iteration = int(iteration)
        env_steps = (iteration + 1) * self.steps_per_iteration
        now = time.perf_counter()
        elapsed = max(now - self.start_time, 1e-9)
        values = {k: np.asarray(v, np.float64).reshape(-1) for k, v in metrics.items()}
        # all seeds run in lock-step, so the program's throughput is num_seeds * per-seed steps
        sps = env_steps * self.num_seeds / elapsed
        rows = []
        for seed in range(self.num_seeds):
            row = {"seed": seed, "iteration": iteration, "env_steps": env_steps}
            row.update({k: float(v[seed]) for k, v in values.items()})
            row["steps_per_second"] = sps
            row["wall_seconds"] = elapsed
            rows.append(row)
            self._write(row)
        if now - self._last_print >= self.print_every or iteration == self.total_iterations - 1:
            self._last_print = now
            self._print(rows)

    def _write(self, row):
        if self.csv_path is None:
            return
        if self._writer is None:
            self._file = open(self.csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def _print(self, rows):
        steps = rows[0]["env_steps"]
        total = self.total_iterations * self.steps_per_iteration
        returns = [r["episode_return"] for r in rows if not math.isnan(r["episode_return"])]
        ret = f"{np.mean(returns):9.2f}" if returns else "      n/a"
        seeds = f"mean of {len(rows)} seed{'s' if len(rows) > 1 else ''}"
        print(f"[{100 * steps / total:5.1f}%] env_steps {steps:>11,}/{total:,} | {rows[0]['steps_per_second']:>11,.0f} "
              f"steps/s | episode_return {ret} ({seeds}) | {rows[0]['wall_seconds']:6.1f}s",
              file=self.stream, flush=True)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None
