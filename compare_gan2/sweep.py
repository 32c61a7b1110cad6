"""`compare_gan2 sweep`: many configurations x seeds, compared by the
distribution of their scores (the studies of "Are GANs Created Equal?").

A spec (TOML) names gin configs, bindings shared by all trials, a grid
and/or a list of named variants, and seeds:

  configs = ["mog_ring"]                    # shipped names or gin files
  bindings = ["options.training_steps = 2000"]
  seeds = [0, 1, 2]
  [grid]                                    # every combination
  "loss.fn" = ["@non_saturating", "@hinge"]
  "penalty.fn" = ["@no_penalty", "@wgangp_penalty"]
  [[variants]]                              # optional, crossed with the grid
  name = "sn"
  bindings = ["D.spectral_norm = True"]

Grid values are gin expressions: strings go in verbatim ("@hinge",
"'translation'"), numbers and booleans as Python writes them. Each trial is
a normal run directory, OUT/trials/<config>/seed<k>, trained and scored by
`python -m compare_gan2 ... --schedule eval_after_train` run in OUT (so
relative paths in bindings are under OUT); a rerun skips finished trials and
resumes interrupted ones from their checkpoints. Results
go to OUT/results.csv (one row per trial), OUT/summary.{csv,md} (per config:
best, median, mean, std and the per-seed values of each score) and
OUT/curves.png, OUT/boxplot.png.

  compare_gan2 sweep --spec SPEC --out DIR [--parallel N]
  compare_gan2 sweep --spec SPEC --out DIR --print_commands   # for a scheduler
  compare_gan2 sweep --spec SPEC --out DIR --report_only      # tables and plots
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import dataclasses
import itertools
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from typing import Any, Sequence

import numpy as np

from compare_gan2 import files

logger = logging.getLogger("compare_gan2")

DONE = "sweep_done.json"
SPEC_KEYS = {"configs", "bindings", "seeds", "grid", "variants", "schedule",
             "metrics", "options"}


@dataclasses.dataclass(frozen=True)
class Trial:
  """One run of a sweep: a config (gin files and bindings) and a seed."""
  config: str  # the name shared by the seeds of one configuration
  seed: int
  gin_configs: tuple[str, ...]
  bindings: tuple[str, ...]
  model_dir: str
  schedule: str = "eval_after_train"
  options: tuple[str, ...] = ()  # further `compare_gan2` flags

  def command(self) -> list[str]:
    """The command line that runs this trial (where `python` runs it)."""
    command = [sys.executable, "-m", "compare_gan2", "--model_dir", self.model_dir,
               "--schedule", self.schedule]
    for path in self.gin_configs:
      command += ["--gin_config", path]
    for binding in self.bindings + (f"run_config.tf_random_seed = {self.seed}",):
      command += ["--gin_bindings", binding]
    return command + list(self.options)

  @property
  def workdir(self) -> str:
    """Where the trial runs: the sweep directory, so that relative paths in
    bindings (a label file) mean the same to every trial."""
    return os.path.dirname(os.path.dirname(os.path.dirname(self.model_dir)))

  @property
  def done(self) -> bool:
    return os.path.exists(os.path.join(self.model_dir, DONE))


def load_spec(path: str) -> dict[str, Any]:
  """The sweep spec at `path` (a file, or a spec shipped in configs/sweeps)."""
  from compare_gan2.cli import CONFIG_DIR  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    name = path if path.endswith(".toml") else path + ".toml"
    shipped = os.path.join(CONFIG_DIR, "sweeps", os.path.basename(name))
    if not os.path.exists(shipped):
      names = sorted(f[:-5] for f in os.listdir(os.path.dirname(shipped))
                     if f.endswith(".toml"))
      raise FileNotFoundError(f"No sweep spec '{path}': not a file, and not one of "
                              f"the shipped specs: {', '.join(names)}.")
    path = shipped
  with open(path, "rb") as f:
    try:
      spec = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
      raise ValueError(f"Sweep spec {path} is not valid TOML: {e}") from e
  unknown = set(spec) - SPEC_KEYS
  if unknown:
    raise ValueError(f"Sweep spec {path}: unknown key(s) {sorted(unknown)}; "
                     f"a spec has {sorted(SPEC_KEYS)}.")
  if not spec.get("configs") and not all(v.get("configs") for v in
                                         spec.get("variants", [{}])):
    raise ValueError(f"Sweep spec {path} names no `configs`.")
  return spec


def _gin_value(value: Any) -> str:
  return value if isinstance(value, str) else repr(value)


def _label(key: str, value: Any) -> str:
  text = str(value).strip("'\"@") or "none"
  return f"{key.split('.')[0]}={text}" if key.endswith(".fn") else f"{key}={text}"


def _safe(name: str) -> str:
  return re.sub(r"[^A-Za-z0-9._=+,-]+", "_", name)


def expand(spec: dict[str, Any], out: str) -> list[Trial]:
  """The trials of `spec`, seed-major (a partial sweep covers every config)."""
  from compare_gan2.cli import resolve_config  # pylint: disable=g-import-not-at-top
  seeds = spec.get("seeds", [0])
  grid = spec.get("grid", {})
  for key, values in grid.items():
    if not isinstance(values, list) or not values:
      raise ValueError(f"Sweep grid '{key}' must be a non-empty list; got {values!r}.")
  variants = spec.get("variants") or [{}]
  names = [v.get("name") for v in variants]
  if len(variants) > 1 and (None in names or len(set(names)) < len(names)):
    raise ValueError("Sweep variants need distinct `name`s; got "
                     f"{names}.")
  out = os.path.abspath(out)
  configs = spec.get("configs") or [[]]
  points = list(itertools.product(*grid.values()))
  groups = []
  for config_name in configs:
    gin_files = [resolve_config(c) for c in
                 (config_name if isinstance(config_name, list) else [config_name])]
    for variant in variants:
      extra = [resolve_config(c) for c in variant.get("configs", [])]
      if not gin_files + extra:
        raise ValueError("Every trial needs a gin config: name `configs`, or "
                         "`configs` in every variant.")
      for point in points:
        parts = []
        if len(configs) > 1 and gin_files:
          parts.append(os.path.splitext(os.path.basename(gin_files[-1]))[0])
        if variant.get("name"):
          parts.append(variant["name"])
        parts += [_label(k, v) for k, v in zip(grid, point)]
        bindings = (list(spec.get("bindings", [])) + list(variant.get("bindings", []))
                    + [f"{k} = {_gin_value(v)}" for k, v in zip(grid, point)])
        groups.append((_safe(",".join(parts) or "default"),
                       tuple(gin_files + extra), tuple(bindings)))
  if len({g[0] for g in groups}) < len(groups):
    raise ValueError("Two configurations of the sweep got the same name.")
  schedule = spec.get("schedule", "eval_after_train")
  options = tuple(spec.get("options", []))
  return [Trial(name, seed, files, bindings,
                os.path.join(out, "trials", name, f"seed{seed}"), schedule, options)
          for seed in seeds for name, files, bindings in groups]


def _exit_with_parent() -> None:
  """In the child: die with the sweep, so a killed sweep leaves no orphan
  writing into a trial directory that the next sweep resumes."""
  if sys.platform.startswith("linux"):
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _start(trial: Trial, env: dict[str, str]) -> tuple[subprocess.Popen, Any]:
  """Starts (or resumes) `trial`; its output goes to <model_dir>/sweep.log."""
  os.makedirs(trial.model_dir, exist_ok=True)
  log = open(os.path.join(trial.model_dir, "sweep.log"), "a")  # pylint: disable=consider-using-with
  log.write(f"$ {shlex.join(trial.command())}\n")
  log.flush()
  # Started from the main thread only: preexec_fn is unsafe beside threads.
  process = subprocess.Popen(trial.command(), stdout=log, stderr=subprocess.STDOUT,
                             cwd=trial.workdir, env={**os.environ, **env},
                             preexec_fn=_exit_with_parent)
  return process, log


def run(trials: Sequence[Trial], parallel: int = 1, poll_seconds: float = 1.0
        ) -> list[str]:
  """Runs the unfinished trials, `parallel` at a time, with progress lines.
  Returns the error messages of failed trials (the others still run)."""
  queue = [t for t in trials if not t.done]
  total = len(queue)
  logger.info("Sweep: %d trials, %d finished, %d to run, %d at a time.",
              len(trials), len(trials) - total, total, parallel)
  # Each child uses its share of the cores.
  threads = str(max(1, (os.cpu_count() or 1) // parallel))
  env = {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads}
  errors: list[str] = []
  running: dict[subprocess.Popen, tuple[Trial, float, Any]] = {}
  start, finished = time.time(), 0
  try:
    while queue or running:
      while queue and len(running) < parallel:
        trial = queue.pop(0)
        process, log = _start(trial, env)
        running[process] = (trial, time.time(), log)
      time.sleep(poll_seconds)
      for process in [p for p in running if p.poll() is not None]:
        trial, began, log = running.pop(process)
        log.close()
        finished += 1
        seconds = time.time() - began
        if process.returncode:
          errors.append(f"Trial {trial.config} seed {trial.seed} failed (exit "
                        f"{process.returncode}); see {trial.model_dir}/sweep.log.")
          status = "FAILED"
        else:
          files.write_json(os.path.join(trial.model_dir, DONE),
                           {"seconds": round(seconds, 1), "command": trial.command()})
          status = f"done in {seconds:.0f} s"
        eta = (time.time() - start) / finished * (total - finished) / 60
        logger.info("[%d/%d] %s seed %d: %s (ETA %.0f min)", finished, total,
                    trial.config, trial.seed, status, eta)
  finally:
    for process in running:  # interrupted: stop the children, resume later
      process.terminate()
  return errors


def read_scores(trial: Trial) -> list[dict[str, float]]:
  """The trial's scores.csv rows, numeric columns only, by step."""
  path = os.path.join(trial.model_dir, "scores.csv")
  if not os.path.exists(path):
    return []
  rows = []
  with open(path, newline="") as f:
    for row in csv.DictReader(f):
      numbers = {}
      for key, value in row.items():
        try:
          numbers[key] = float(value)
        except (TypeError, ValueError):
          pass
      rows.append(numbers)
  return sorted(rows, key=lambda r: r["step"])


def score_names(rows: list[dict[str, float]]) -> list[str]:
  """The scores of a scores.csv: the columns with a `_std` partner."""
  names: list[str] = []
  for row in rows:
    names += [k for k in row if f"{k}_std" in row and k not in names]
  return names


def summarize(trials: Sequence[Trial], metrics: Sequence[str] | None = None
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
  """(one row per trial with its final scores, one row per config and score
  with best/median/mean/std over seeds)."""
  from compare_gan2.metrics.scores import DIRECTIONS  # pylint: disable=g-import-not-at-top
  per_trial, finals = [], {}
  names: list[str] = list(metrics or [])
  for trial in trials:
    rows = read_scores(trial)
    names += [n for n in score_names(rows) if n not in names and not metrics]
    final = rows[-1] if rows else {}
    finals[(trial.config, trial.seed)] = final
    per_trial.append({"config": trial.config, "seed": trial.seed,
                      "status": "done" if trial.done else ("partial" if rows else "new"),
                      "step": int(final["step"]) if final else "",
                      **{n: final.get(n, "") for n in names}})
  summary = []
  configs = list(dict.fromkeys(t.config for t in trials))
  for config in configs:
    for name in names:
      values = [finals[(t.config, t.seed)][name] for t in trials
                if t.config == config and name in finals[(t.config, t.seed)]]
      if not values:
        continue
      direction = DIRECTIONS.get(name, 0)
      best = (max(values) if direction > 0 else min(values)) if direction else ""
      summary.append({"config": config, "score": name, "seeds": len(values),
                      "best": best, "median": float(np.median(values)),
                      "mean": float(np.mean(values)), "std": float(np.std(values)),
                      "values": " ".join(f"{v:.4g}" for v in values)})
  return per_trial, summary


def _fmt(value: Any) -> str:
  return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown_table(summary: list[dict[str, Any]]) -> str:
  """Per config one row, per score a "median (best) ± std" cell."""
  names = list(dict.fromkeys(r["score"] for r in summary))
  configs = list(dict.fromkeys(r["config"] for r in summary))
  cells = {(r["config"], r["score"]): r for r in summary}
  lines = ["| config | seeds | " + " | ".join(names) + " |",
           "|---" * (len(names) + 2) + "|"]
  for config in configs:
    row = [cells.get((config, n)) for n in names]
    seeds = max(r["seeds"] for r in row if r)
    lines.append(f"| {config} | {seeds} | " + " | ".join(
        f"{_fmt(r['median'])} ± {_fmt(r['std'])}" + (f" (best {_fmt(r['best'])})"
                                                       if r["best"] != "" else "")
        if r else "" for r in row) + " |")
  return "\n".join(lines) + "\n"


def plot(trials: Sequence[Trial], summary: list[dict[str, Any]], out: str) -> list[str]:
  """curves.png (each score against step, a colour per config, a thin line
  per seed) and boxplot.png (the final scores per config). Returns the paths."""
  from compare_gan2.runner.images import figure  # pylint: disable=g-import-not-at-top
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
  names = list(dict.fromkeys(r["score"] for r in summary))
  configs = list(dict.fromkeys(t.config for t in trials))
  if not names:
    return []
  colors = colormaps["tab10"]
  paths = []
  fig, axes = figure(4.2 * len(names), 3.4, len(names), dpi=110)
  for ax, name in zip(axes, names):
    for k, config in enumerate(configs):
      for n, trial in enumerate(t for t in trials if t.config == config):
        rows = [r for r in read_scores(trial) if name in r]
        ax.plot([r["step"] for r in rows], [r[name] for r in rows], marker=".",
                lw=1, alpha=0.8, color=colors(k % 10), label=config if n == 0 else None)
    ax.set_xlabel("step")
    ax.set_title(name)
  axes[-1].legend(fontsize=6, loc="best")
  fig.tight_layout()
  paths.append(os.path.join(out, "curves.png"))
  fig.savefig(paths[-1])
  # One panel per score, stacked: many configs need the width.
  label_room = 0.03 * max(len(c) for c in configs)  # inches for rotated names
  fig, axes = figure(max(4.0, 0.35 * len(configs) + 2.0), (2.0 + label_room) * len(names),
                     dpi=110, rows=len(names))
  for ax, name in zip(axes, names):
    data = [[float(v) for v in r["values"].split()] for c in configs for r in summary
            if r["config"] == c and r["score"] == name]
    labels = [c for c in configs if any(r["config"] == c and r["score"] == name
                                        for r in summary)]
    ax.boxplot(data)
    values = [v for d in data for v in d]
    if values and min(values) > 0 and max(values) > 20 * min(values):
      ax.set_yscale("log")  # one collapsed config must not flatten the rest
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=6)
    ax.set_title(f"{name} (final, over seeds)")
  fig.tight_layout()
  paths.append(os.path.join(out, "boxplot.png"))
  fig.savefig(paths[-1])
  return paths


def report(trials: Sequence[Trial], out: str, metrics: Sequence[str] | None = None
           ) -> tuple[str, list[dict[str, Any]]]:
  """Writes results.csv, summary.csv/.md and the plots; returns the markdown
  table and the summary rows."""
  per_trial, summary = summarize(trials, metrics)
  os.makedirs(out, exist_ok=True)
  for name, rows in (("results.csv", per_trial), ("summary.csv", summary)):
    if rows:
      files.write_csv(os.path.join(out, name), rows)
  table = markdown_table(summary) if summary else "No scores yet.\n"
  done = sum(t.done for t in trials)
  files.write_text(os.path.join(out, "summary.md"),
                   f"{done}/{len(trials)} trials finished; median ± std over seeds "
                   "of each config's final scores.\n\n" + table)
  plot(trials, summary, out)
  return table, summary


def main(argv: Sequence[str]) -> None:
  p = argparse.ArgumentParser(prog="compare_gan2 sweep",
                              description=__doc__.split("\n\n")[0])
  p.add_argument("--spec", required=True, help="TOML sweep spec, or a shipped one.")
  p.add_argument("--out", required=True, help="Sweep directory.")
  p.add_argument("--parallel", type=int, default=1, help="Trials run at once.")
  p.add_argument("--print_commands", action="store_true",
                 help="Print the unfinished trials' command lines and exit.")
  p.add_argument("--report_only", action="store_true",
                 help="Only aggregate what the trials have written.")
  args = p.parse_args(argv)
  if args.parallel < 1:
    raise ValueError(f"--parallel must be at least 1; got {args.parallel}.")
  spec = load_spec(args.spec)
  trials = expand(spec, args.out)
  if args.print_commands:
    for trial in trials:
      if not trial.done:
        print(f"cd {shlex.quote(trial.workdir)} && {shlex.join(trial.command())}")
    return
  os.makedirs(args.out, exist_ok=True)
  files.write_json(os.path.join(args.out, "spec.json"), spec)
  errors = [] if args.report_only else run(trials, args.parallel)
  table, _ = report(trials, args.out, spec.get("metrics"))
  logger.info("%s\nResults: %s", table, os.path.join(args.out, "summary.md"))
  if errors:
    raise RuntimeError(f"{len(errors)} trial(s) failed:\n" + "\n".join(errors))
