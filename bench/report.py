"""Rebuild the result tables in bench/README.md from the JSON files in bench/results/.

    .venv/bin/python bench/report.py [--check]

Everything between the `<!-- results:begin -->` and `<!-- results:end -->` markers is regenerated, so the
README always shows what the latest runs wrote (one section per result file found). `--check` exits 1 if
the README is out of date.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str):
    tags = {p.stem.removeprefix(name + "-"): p for p in sorted(RESULTS.glob(f"{name}-*.json"))}
    return {tag: json.loads(p.read_text()) for tag, p in tags.items()
            if "-" not in tag}  # <name>-<platform>.json only: not -quick or -smoke runs, nor other names


def _header(r: dict) -> str:
    v = r.get("versions", {})
    vs = ", ".join(f"{k} {v[k]}" for k in ("jax", "gymnax", "brax", "evosax") if v.get(k))
    cpu = f" ({r['cpu_model']})" if r.get("cpu_model") else ""
    probe = r.get("host_probe_ms")
    spell = f"; host probe {probe['start']:.0f} / {probe['end']:.0f} ms" if probe else ""
    flags = f"; XLA_FLAGS `{r['xla_flags']}`" if r.get("xla_flags") else ""
    head = f"*{r['device']}, {r.get('cpu_count', '?')} CPU cores{cpu}, {r.get('date', '?')}; {vs}{spell}{flags}*"
    if r.get("unfinished"):
        head += (f"\n\n**Partial:** the run was cut off (its time limit) before {', '.join(r['unfinished'])}; "
                 f"only the cases below were finished.")
    if r.get("source"):
        head += f"\n\nHow this file was made: {r['source']}"
    return head


def _table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _rounds(r: dict) -> str:
    """How a peers table's numbers were taken (ppo_peers.py, offpolicy_peers.py)."""
    return (f"median of {r['repeats']}"
            + (f" in each of {r['rounds']} rounds that run every trainer in turn; a ratio is the median of "
               f"the rounds' ratios" if r.get("rounds", 1) > 1 else "") + ".")


def _peer_table(rows: dict) -> str:
    return _table(["trainer", "env steps/s", "jaxrl (1 seed) / this", "compile or warm-up s"],
                  [[name, _n(row["steps_per_second"]), f"{row['jaxrl_over_this']:.2f}",
                    f"{row.get('compile_seconds', row.get('warmup_seconds', 0)):.1f}"]
                   for name, row in rows.items()])


def _differences(what: str, by_peer: dict) -> list[str]:
    """Markdown lines listing, per peer, the settings it could not match (none if no peer differs)."""
    lines = [f"- {peer}: {'; '.join(d)}." for peer, d in by_peer.items() if d]
    return ["", f"Where a peer differs from {what}:", "", *lines] if lines else []


def ppo_peers(r: dict) -> str:
    out = [_header(r), ""]
    for case, rows in r["results"].items():
        s = r["settings"][case]
        if "cg_iters" in s:  # TRPO
            update = (f"{s['cg_iters']} conjugate-gradient steps, a line search of up to {s['max_backtracks'] + 1} "
                      f"steps (x{s['backtrack_coef']:g} each) to KL <= {s['max_kl']:g}, value function "
                      f"{s['vf_epochs']} epochs x {s['num_minibatches']} minibatches (Adam lr {s['vf_lr']:g}, no "
                      "gradient clip)")
        elif "num_epochs" in s:
            update = f"{s['num_epochs']} epochs x {s['num_minibatches']} minibatches"
        else:
            update = "one RMSProp step per rollout"
        out.append(f"{case}: {s['num_envs']} envs x {s['rollout_length']} steps, {update}, (64, 64) tanh, "
                   f"{rows['jaxrl']['env_steps']:,} env steps per call, {_rounds(r)}\n")
        out.append(_peer_table(rows))
        out += _differences("these settings", r.get("differences", {}).get(case, {}))
        out.append("")
    return "\n".join(out)


def offpolicy_peers(r: dict) -> str:
    out = [_header(r), ""]
    for case, rows in r["results"].items():
        s = r["settings"][case]
        if case.startswith("DQN"):
            loss = {"huber": "Huber", "mse": "squared"}[s["loss"]]
            algo = (f"{'Double DQN' if s['double'] else 'DQN'}, {loss} loss, target copy every "
                    f"{s['target_update_interval']} gradient steps, ε {s['eps_start']} to {s['eps_end']} over "
                    f"{s['exploration_fraction']:.0%} of the steps")
        else:
            algo = (f"{s['num_critics']} critics, target τ {s['tau']:g}, "
                    f"{'learned' if s['autotune'] else 'fixed'} α from {s['init_alpha']}")
        hidden = ", ".join(str(h) for h in r["hidden_sizes"])
        envs = f"{s['num_envs']} env" + ("s" if s["num_envs"] > 1 else "")
        out.append(f"{case}: {envs} x {s['rollout_length']} step, then {s['num_updates']} gradient "
                   f"step on {s['batch_size']} transitions from a {s['buffer_size']:,} buffer once "
                   f"{s['learning_starts']:,} env steps are stored; ({hidden}) {r['activation']}, Adam lr {s['lr']:g}, "
                   f"{algo}; {rows['jaxrl']['env_steps']:,} env steps per call, {_rounds(r)}\n")
        out.append(_peer_table(rows))
        out += _differences("these settings", r.get("differences", {}).get(case, {}))
        out.append("")
    return "\n".join(out)


def _round_ratios(row: dict, side: str = "kernel_random_policy") -> str:
    """The side / bare ratio of each interleaved round (both sides' calls of one round), lowest and highest:
    how far a single pair of calls strays on this machine."""
    ratios = [b / k for k, b in zip(row[side]["times"], row["bare_env_loop"]["times"])]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def _overhead_table(first: list, rows: list, cells, paired: bool) -> str:
    """Kernel vs bare rows; `cells(row)` gives the leading cells. Rows measured with the A/A control (the bare
    loop timed twice in the same rounds) show it after the kernel's ratio."""
    control = any("control_over_bare" in row for row in rows)
    head = first + ["kernel / bare"] + (["rounds' kernel / bare (lowest-highest)"] if paired else [])
    head += ["A/A control: bare / bare", "rounds' bare / bare"] if control else []

    def line(row):
        out = cells(row) + [f"{row['kernel_over_bare']:.3f}"] + ([_round_ratios(row)] if paired else [])
        if control:
            out += ([f"{row['control_over_bare']:.3f}", _round_ratios(row, "bare_env_loop_again")]
                    if "control_over_bare" in row else ["not measured", ""])
        return out

    return _table(head, [line(row) for row in rows])


def throughput(r: dict) -> str:
    controlled = any("control_over_bare" in row for row in r["overhead"] + r.get("brax_overhead", []))
    order = ("kernel, bare, bare again; each round starts one place later" if controlled
             else "kernel, bare, kernel, ...")
    rounds = (f", median of {r['settings']['repeats']} interleaved rounds ({order})"
              if r.get("interleaved_pairs") else "")
    out = [_header(r)]
    paired = bool(r.get("interleaved_pairs"))  # then each round's calls of both sides form a pair
    if r["overhead"]:
        draw = {"bits": "actions drawn as one 32-bit word modulo n on both sides",
                "randint": "actions drawn with `jax.random.randint` on both sides"}.get(
                    r["settings"].get("policy", "randint"))  # files before the option used randint
        out += ["", f"Kernel overhead (random policy: {draw}; CartPole-v1, 1 seed{rounds}):", ""]
        out.append(_overhead_table(["num_envs", "bare gymnax loop steps/s", "jaxrl kernel steps/s"], r["overhead"],
                                   lambda row: [row["num_envs"], _n(row["bare_env_loop"]["steps_per_second"]),
                                                _n(row["kernel_random_policy"]["steps_per_second"])], paired))
    if r.get("brax_overhead"):
        out += ["", f"Kernel overhead on brax ({r['settings']['brax_steps']} steps per call{rounds}, random policy; "
                "the bare side is brax's own `training.wrap`, whose auto-reset restores each env's first state instead of drawing a new one):", ""]
        out.append(_overhead_table(["env", "num_envs", "brax wrapped loop steps/s", "jaxrl kernel steps/s"],
                                   r["brax_overhead"],
                                   lambda row: [row["env"], row["num_envs"], _n(row["bare_env_loop"]["steps_per_second"]),
                                                _n(row["kernel_random_policy"]["steps_per_second"])], paired))
    if not r["scaling_num_envs"] and not r["scaling_num_seeds"]:
        return "\n".join(out)
    out += ["", "PPO training (CartPole-v1, rollout 128, 4 epochs x 4 minibatches):", ""]

    # The device's peak bytes in use is the process's peak so far: it never falls, so a row shows it only
    # where that row raised it (above the peak read before it, or above the row measured just before it).
    ppo_rows = r["scaling_num_envs"] + r["scaling_num_seeds"]
    before = {id(row): row.get("device_peak_bytes_before", prev.get("device_peak_bytes_in_use") if prev else None)
              for prev, row in zip([None] + ppo_rows, ppo_rows)}

    def mem(row):
        m = row.get("xla_memory_bytes", {})
        total = sum(m.get(k, 0) for k in ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes"))
        peak, earlier = row.get("device_peak_bytes_in_use"), before[id(row)]
        raised = peak and earlier is not None and peak > earlier
        return f"{total / 2**20:.1f}" + (f" (device peak {peak / 2**20:.0f})" if raised else "")

    peaks = any(row.get("device_peak_bytes_in_use") for row in ppo_rows)
    for rows, what in ((r["scaling_num_envs"], "num_envs, 1 seed"), (r["scaling_num_seeds"], "seeds, 16 envs each")):
        out += [f"By {what}:", ""]
        out.append(_table(["num_envs", "seeds", "env steps/s (all seeds)", "compile s", "XLA memory MiB"],
                          [[row["num_envs"], row["num_seeds"], _n(row["steps_per_second"]),
                            f"{row['compile_seconds']:.1f}", mem(row)] for row in rows]))
        out.append("")
    if peaks:
        out += ["XLA memory: arguments + outputs + temporaries of the compiled program. Device peak: the GPU's "
                "peak bytes in use in the process, shown only on rows that raised it (the peak never falls, so "
                "a smaller program measured after a larger one cannot show its own).", ""]
    return "\n".join(out)


def time_to_return(r: dict) -> str:
    out = [_header(r), ""]
    for case, rows in r["results"].items():
        c = r["cases"][case]
        every = f"every {c['log_steps']:,} env steps" if c["log_steps"] else "after every rollout"
        out.append(f"{case} to {c['threshold']:g}: mean return of the training episodes that ended in the trailing "
                   f"{c['window_steps']:,} env steps of a seed, checked {every}; at most "
                   f"{c['budget_env_steps_per_seed']:,} env steps per seed (jaxrl's preset), {r['num_seeds']} seeds, "
                   f"median of {r['repeats']}:\n")
        table = []
        for name, row in rows.items():
            reached = [p["reached"] for p in row["passes"]]
            table.append([name, f"{row['seconds']:.1f}", f"{row['this_over_jaxrl']:.2f}",
                          ", ".join(f"{x}/{r['num_seeds']}" for x in reached)])
        out.append(_table(["trainer", "seconds to threshold (all seeds)", "this / jaxrl",
                           "seeds reaching it, per repeat"],
                          table))
        out += _differences("jaxrl's preset", {name.split()[0]: row.get("differences") for name, row in rows.items()})
        out.append("")
    return "\n".join(out)


def compile_time(r: dict) -> str:
    return "\n".join([_header(r), "", _table(
        ["algo", "env", "seeds", "trace + lower s", "XLA compile s", "total s"],
        [[row["algo"], row["env"], row["num_seeds"], f"{row['trace_lower_seconds']:.1f}",
          f"{row['xla_compile_seconds']:.1f}", f"{row['total_seconds']:.1f}"] for row in r["results"]])])


def brax_ppo(r: dict) -> str:
    s = r["settings"]
    head = (f"PPO on {r['env']}: {s['num_envs']} envs x {s['rollout_length']} steps, {s['num_epochs']} epochs x "
            f"{s['num_minibatches']} minibatches, {s['env_steps_per_repeat']:,} env steps per repeat, median of "
            f"{s['repeats']}" + (" (jaxrl's calls interleaved with brax's epochs)" if r.get("interleaved") else "")
            + ".\n" + _setting_notes(s))
    rows = [["jaxrl", _n(r["jaxrl"]["steps_per_second"]), f"{r['jaxrl']['compile_seconds']:.1f}", "-"],
            *_same_stage_row(r, "-"),
            ["brax ppo.train", _n(r["brax"]["steps_per_second"]), f"{r['brax']['compile_seconds']:.1f}",
             f"{r['brax']['setup_seconds']:.1f}"]]
    return "\n".join([_header(r), "", head, _table(["trainer", "env steps/s", "compile s", "brax setup s"], rows),
                      "", f"jaxrl / brax: **{r['ratio_ours_over_brax']:.2f}**" + _same_stage_ratio(r)])


def _setting_notes(settings: dict) -> str:
    """The brax_ppo.py settings that a table's head line does not show: config overrides, MJX solver options."""
    opt = settings.get("mjx_opt")
    overrides = settings.get("overrides")
    text = ("\njaxrl config overrides: " + ", ".join(f"`{o}`" for o in overrides) + ".\n") if overrides else ""
    if not opt:
        return text
    return text + ("\nBoth sides' env runs MJX's solver with " + ", ".join(f"`{k}={v}`" for k, v in opt.items())
            + (" (a negative tolerance: exactly that many iterations at every step, so the physics costs the "
               "same whatever the envs' states)" if opt.get("tolerance", 0) < 0 else "") + ".\n")


SAME_STAGE = ("jaxrl's repeats train from scratch (iterations 1..K); brax's timed epochs continue its one run "
              "(iterations K+1.. on), and a brax env's physics costs what the states of its envs cost. The same "
              "stage is the 2K-iteration call minus the K-iteration call, per round: iterations K+1..2K")


def _same_stage_row(r: dict, *rest) -> list:
    x = r["jaxrl"]
    if "same_stage_steps_per_second" not in x:  # files before 2026-11-28 timed from scratch only
        return []
    return [["jaxrl, same stage as brax's epochs", _n(x["same_stage_steps_per_second"]), "-", *rest]]


def _same_stage_ratio(r: dict) -> str:
    if "ratio_same_stage_over_brax" not in r:
        return " (jaxrl's repeats train from scratch; brax's epochs continue its run)"
    first_epoch = r["brax"]["times"][0] / r["jaxrl"]["same_stage_seconds"]  # from the times: older files too
    return (f" from scratch, **{r['ratio_same_stage_over_brax']:.2f}** at the same stage of training ({SAME_STAGE}); "
            f"{first_epoch:.2f} against brax's first timed epoch alone (iterations K+1..2K exactly, one sample; "
            "brax's median spans iterations K+1..(R+1)K)")


def brax_sac(r: dict) -> str:
    s = r["settings"]
    head = (f"SAC on {r['env']}: {s['num_envs']} envs, {s['gradient_steps_per_iteration']} gradient steps of "
            f"{s['batch_size']} per step of all envs, {tuple(s['hidden_sizes'])} {s['activation']} networks, "
            f"{s['env_steps_per_repeat']:,} env steps per repeat, median of {s['repeats']} (jaxrl's calls "
            f"interleaved with brax's epochs).\n")
    rows = [["jaxrl", _n(r["jaxrl"]["steps_per_second"]), f"{r['jaxrl']['compile_seconds']:.1f}"],
            *_same_stage_row(r),
            ["brax sac.train", _n(r["brax"]["steps_per_second"]), f"{r['brax']['compile_seconds']:.1f}"]]
    return "\n".join([_header(r), "", head, _table(["trainer", "env steps/s", "compile s"], rows), "",
                      f"jaxrl / brax: **{r['ratio_ours_over_brax']:.2f}**" + _same_stage_ratio(r)
                      + " (brax's compile s includes its replay prefill)"])


def es(r: dict) -> str:
    out = [_header(r), ""]
    rows = r.get("population_scaling", [])
    if rows:
        out.append(_table(["population", "generations/s", "env steps/s", "compile s"],
                          [[x["population"], f"{x['generations_per_second']:.1f}", _n(x["env_steps_per_second"]),
                            f"{x['compile_seconds']:.1f}"] for x in rows]))
    vs = r.get("evosax_comparison", [])
    if vs:
        how = (f"median of {vs[0]['rounds']} interleaved rounds (jaxrl, loop, loop with per-member keys, ...), "
               f"a ratio the median of the rounds' ratios" if vs[0].get("rounds") else "median of timed batches, "
               "one side after the other")
        blas = r.get("openblas_num_threads")
        out += ["", f"{vs[0]['generations']} generations per call, {how}; OPENBLAS_NUM_THREADS="
                    f"{blas if blas is not None else 'unset'} on every side:", ""]
        out += [_table(["evosax strategy", "population", "jaxrl gen/s", "plain loop gen/s (shared key)",
                            "jaxrl / loop", "jaxrl / loop (per-member keys)"],
                           [[x["strategy"], x["population"], f"{x['jaxrl']['generations_per_second']:.1f}",
                             f"{x['handwritten']['generations_per_second']:.1f}",
                             f"{x['ratio_jaxrl_over_handwritten']:.2f}",
                             f"{x['ratio_jaxrl_over_handwritten_per_member_keys']:.2f}"] for x in vs])]
    return "\n".join(out)


def _ab_table(r: dict, head: str, sides: tuple[str, str], extra: tuple[str, callable]) -> str:
    """An A/B diagnostic's table: per case, both sides' seconds, the speed-up of the second over the first,
    both compile times, and one more column `extra` = (title, fn of the case's row)."""
    a, b = sides
    return "\n".join([_header(r), "", head, _table(
        ["trainer", "env steps per call", f"{a} s", f"{b} s", "speed-up", extra[0], f"compile s ({a} / {b})"],
        [[case, _n(x["env_steps"]), f"{x[a + '_seconds']:.3f}", f"{x[b + '_seconds']:.3f}", f"{x['speedup']:.2f}",
          extra[1](x), f"{x[a + '_compile_seconds']:.1f} / {x[b + '_compile_seconds']:.1f}"]
         for case, x in r["results"].items()])])


def prng_lowering(r: dict) -> str:
    head = (f"One seed at the throughput tables' settings, median of {r['repeats']} interleaved calls per side; "
            "a diagnostic of JAX's CPU lowering, not a comparison with a peer.\n")
    return _ab_table(r, head, ("rolled", "unrolled"),
                     ("identical outputs", lambda x: "yes" if x["identical_outputs"] else "**no**"))


def weight_gradients(r: dict) -> str:
    head = (f"One seed, median of {r['repeats']} interleaved calls per side: the standard weight-gradient form "
            "(`networks.standard_weight_gradients()`, the program flax's own Dense makes) vs jaxrl's "
            "`dense_matmul` rule; a diagnostic of XLA's CPU backend, not a comparison with a peer. Dots counts "
            "the compiled dots whose left operand contracts over its leading axis (the standard weight-gradient "
            "form; jaxrl's layout keeps it for vector heads, batches over 4,096 rows and TRPO's Fisher "
            "products). VPG, REINFORCE and TRPO run their CartPole presets; the others the throughput tables' "
            "settings.\n")
    return _ab_table(r, head, ("standard", "jaxrl"),
                     ("dots (standard / jaxrl)",
                      lambda x: f"{x['standard_leading_axis_dots']} / {x['jaxrl_leading_axis_dots']}"))


def ppo_update_ab(r: dict) -> str:
    # files before update_layout existed call the one-vector side `jaxrl` (it was then the only layout)
    r = dict(r, results={case: {k.replace("jaxrl_", "vector_", 1) if k.startswith("jaxrl_") else k: v
                                for k, v in x.items()} for case, x in r["results"].items()})
    auto = (f" `update_layout=auto` compiles `{r['auto_layout']}` on this platform." if "auto_layout" in r
            else " (This file predates `update_layout`: the one-vector loop was then PPO's only layout.)")
    head = (f"One seed at the on-policy peer table's settings, median of {r['repeats']} interleaved calls per "
            "side: PPO's minibatch loop carrying the parameter pytree and writing each metric on its own "
            "(`pytree`), then with the metrics stacked (`stacked`), vs carrying the parameters as one vector as "
            "well (`vector`); speed-up is the pytree loop's time over the vector loop's. A diagnostic, not a "
            f"comparison with a peer. Kernels are counted from XLA's optimized program as in `launches.py`.{auto}\n")
    extra = ("kernels per gradient step (pytree / stacked / vector); s stacked; identical outputs; auto compiled",
             lambda x: (f"{x['pytree_kernels_per_gradient_step']} / {x['stacked_kernels_per_gradient_step']} / "
                        f"{x['vector_kernels_per_gradient_step']}; {x['stacked_seconds']:.3f}; "
                        + ("yes" if x["identical_outputs"] else "**no**") + f"; {x.get('auto_compiled', '-')}"))
    return _ab_table(r, head, ("pytree", "vector"), extra)


def idle_resets_ab(r: dict) -> str:
    head = (f"One seed at the peer tables' settings (brax/inverted_pendulum: `brax_ppo.py`'s), median of "
            f"{r['repeats']} interleaved calls per side: the training env skipping the reset work of steps where "
            "no env finished (`skip_idle_resets`, the training loops' setting; on the CPU only) vs resetting at "
            "every step; speed-up is the first's time over the second's. A diagnostic, not a comparison with a "
            "peer.\n")
    return _ab_table(r, head, ("every step", "skip"),
                     ("per-round speed-ups; identical outputs",
                      lambda x: (f"{min(x['speedup_per_round']):.2f}-{max(x['speedup_per_round']):.2f}; "
                                 + ("yes" if x["identical_outputs"] else "**no**"))))


def xla_flags_ab(r: dict) -> str:
    flags = r["flags"]
    name = lambda f: f"`{f}`" if f else "XLA's defaults"  # noqa: E731
    head = (f"One seed at the peer tables' settings, each case's program compiled and timed in a fresh process "
            f"per XLA_FLAGS setting (median of {r['repeats']} calls), {r['rounds']} rounds with the settings in "
            f"rotating order; speed-up is the time under {name(flags[0])} over the time under each other setting in "
            f"the same round (median of the rounds; their range beside it). A diagnostic of XLA's CPU code "
            f"generation, not a comparison with a peer; the `jaxrl` CLI applies `--xla_cpu_prefer_vector_width=512` "
            f"on AMD Zen 5 CPUs (`jaxrl/xla_tuning.py`).\n")
    rows = []
    for case, x in r["results"].items():
        settings = x["settings"]
        rows.append([case, _n(x["env_steps"]), *(f"{settings[f]['seconds']:.3f}" for f in flags),
                     *(f"{settings[f]['speedup']:.2f} ({min(settings[f]['speedup_per_round']):.2f}-"
                       f"{max(settings[f]['speedup_per_round']):.2f})" for f in flags[1:])])
    return "\n".join([_header(r), "", head, _table(
        ["trainer", "env steps per call", *(f"{name(f)} s" for f in flags),
         *(f"speed-up with {name(f)}" for f in flags[1:])], rows)])


def solver_iterations(r: dict) -> str:
    s = r["settings"]
    k = s["iterations_per_stage"]
    head = (f"MJX's constraint solver on {r['env']}, along each PPO trainer's run at `brax_ppo.py`'s settings "
            f"({s['num_envs']} envs x {s['rollout_length']} steps, {s['num_epochs']} epochs x "
            f"{s['num_minibatches']} minibatches): the mean number of iterations the batched (vmapped) solve of "
            "one physics step runs, which is the largest count among the envs of the batch, by stage of "
            f"training. `brax_ppo.py` times jaxrl's iterations 1-{k} (from scratch) and {k + 1}-{2 * k} (same "
            f"stage) against brax's iterations {k + 1} on. Beside each count, the share of env steps that left an "
            "env with a limited joint at the end of its range (the cart at the end of its rail on "
            "inverted_pendulum), where the solver has work. Counted through host callbacks; nothing timed.\n")
    stages = next(iter(r["seeds"].values()))["jaxrl"]["stages"]
    names = [f"iterations {a}-{b}: solver trips / steps at a limit" for a, b in (x["iterations"] for x in stages)]
    rows = [[seed, side, *(f"{x['mean_trips_per_solve']:.3f} / {100 * x['env_steps_at_a_joint_limit']:.1f}%"
                           if "env_steps_at_a_joint_limit" in x else f"{x['mean_trips_per_solve']:.3f}"
                           for x in per_side[side]["stages"])]
            for seed, per_side in r["seeds"].items() for side in ("jaxrl", "brax")]
    return "\n".join([_header(r), "", head, _table(["seed", "trainer", *names], rows)])


def normalize_obs_update(r: dict) -> str:
    head = (f"PPO with its observation statistics changed at every env step (the default) or once per rollout "
            f"(`algo.normalize_obs_update=rollout`): final training return (the last 5% of iterations) of "
            f"{r['seeds']} seeds trained in one call. A learning comparison, not a peer benchmark.\n")
    rows = [[env, f"{x['step']['total_env_steps_per_seed']:,}",
             *(f"{x[m]['mean']:.1f} / {x[m]['interquartile_mean']:.1f}" for m in ("step", "rollout"))]
            for env, x in r["results"].items()]
    return "\n".join([_header(r), "", head, _table(["env", "env steps per seed", "per step: mean / IQM",
                                                     "per rollout: mean / IQM"], rows)])


def ppo_bound(r: dict) -> str:
    names = {"ceiling": "ceiling: matmuls at peak, env free", "with_env_loop": "+ XLA's env loop",
             "xla_at_these_shapes": "+ XLA's rate at these shapes"}
    rows, notes = [], []
    for case, x in r["results"].items():
        sm, fl = x["summary"], x["matmul_flops"]
        sb3 = sm.get("sb3_steps_per_second")
        cell = lambda v, ratio: f"{_n(v)} ({ratio:.1f}x)" if sb3 else _n(v)  # noqa: E731
        rows.append([case, _n(sb3) if sb3 else "-", _n(r["target_over_sb3"] * sb3) if sb3 else "-",
                     cell(sm["jaxrl_steps_per_second"], sm.get("jaxrl_over_sb3")),
                     *(cell(sm["figures"][k], sm.get("figure_over_sb3", {}).get(k)) for k in names)])
        by_round = sm.get("figure_over_sb3_by_round", {})
        spread = ("; per round, over SB3: " + ", ".join(
            f"{k.replace('_', ' ')} {min(v):.1f}-{max(v):.1f}x" for k, v in by_round.items())) if by_round else ""
        notes.append(f"- {case}: {x['env_steps']:,} env steps per call, {fl['gradient_steps']} gradient steps on "
                     f"{fl['minibatch_rows']} rows; {fl['total'] / 1e9:.2f} GFLOP of matmuls ({fl['update'] / 1e9:.2f} "
                     f"in the update); best matmul rate {sm['peak_gflops']:.0f} GFLOP/s, XLA at these shapes "
                     f"{sm['matmuls_at_shapes_gflops']:.0f}; fastest env loop {_n(sm['env_loop_steps_per_second'])} "
                     f"env steps/s; jaxrl reaches " + ", ".join(f"{v:.0%} of {k.replace('_', ' ')}" for k, v in
                                                                sm["jaxrl_over_figure"].items()) + spread + ".")
    head = (f"What any fp32 PPO trainer could reach at the peer table's settings on this CPU (`bench/ppo_bound.py`'s "
            f"docstring has the argument), beside SB3 and jaxrl measured in the same run; in brackets, each as a "
            f"multiple of SB3's steps/s. Only the ceiling is a bound (the matmuls alone at the best fp32 rate measured "
            f"on this machine, with a free env); the next adds the time of the fastest XLA env loop measured, the last "
            f"also takes XLA's own rate for these networks' matmuls. The figures use the best of each measurement "
            f"over {r['rounds']} rounds; SB3 and jaxrl are medians (of {r['repeats']} calls in each round).\n")
    return "\n".join([_header(r), "", head,
                      _table(["case", "SB3", f"{r['target_over_sb3']}x SB3", "jaxrl", *names.values()], rows),
                      "", *notes])


SECTIONS = [("ppo-peers", "On-policy training throughput vs peers", ppo_peers),
            ("ppo-bound", "PPO: how far 50x SB3 is, what any trainer could reach at the peer settings", ppo_bound),
            ("offpolicy-peers", "Off-policy training throughput vs peers", offpolicy_peers),
            ("throughput", "Kernel overhead and scaling", throughput),
            ("brax-overhead", "Kernel overhead on brax", throughput),
            ("time-to-return", "Time to a return threshold, 8 seeds", time_to_return),
            ("compile-time", "Compile time of train", compile_time),
            ("brax-ppo", "PPO on brax vs brax's own trainer", brax_ppo),
            ("brax-ppo-ant", "PPO on brax/ant vs brax's own trainer", brax_ppo),
            ("brax-ppo-fixed-solver", "PPO on brax vs brax's own trainer, MJX's solver at a fixed count", brax_ppo),
            ("solver-iterations", "MJX solver iterations per step along each PPO trainer's run", solver_iterations),
            ("brax-sac", "SAC on brax vs brax's own trainer", brax_sac),
            ("brax-sac-ant", "SAC on brax/ant vs brax's own trainer", brax_sac),
            ("es", "Evolution strategies vs a plain evosax loop", es),
            ("prng-lowering", "Threefry lowered rolled (JAX's CPU default) vs unrolled", prng_lowering),
            ("weight-gradients", "Dense weight gradients: standard form vs jaxrl's CPU layout", weight_gradients),
            ("ppo-update-ab", "PPO's minibatch loop: parameter pytree vs one vector", ppo_update_ab),
            ("idle-resets-ab", "The training env's resets: skipped on idle steps vs every step", idle_resets_ab),
            ("xla-flags-ab", "XLA's CPU flags: defaults vs 512-bit vectors", xla_flags_ab),
            ("normalize-obs-update", "PPO's observation statistics: every step vs once per rollout",
             normalize_obs_update)]


def render() -> str:
    parts = []
    for name, title, fn in SECTIONS:
        for tag, result in _load(name).items():
            parts.append(f"### {title} ({tag})\n\nFrom `bench/results/{name}-{tag}.json`.\n\n{fn(result)}\n")
    return "\n".join(parts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{README} lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n\n{render()}\n{END}{tail}"
    if args.check:
        sys.exit(0 if new == text else f"{README} is out of date: run .venv/bin/python bench/report.py")
    README.write_text(new)
    print(f"wrote {README}")


if __name__ == "__main__":
    main()
