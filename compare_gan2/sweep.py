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

`score_last = k` (default 1) scores each trial by the mean of each score
over its last k evaluated checkpoints instead of the last one alone (one
checkpoint of a GAN is a noisy reading; the trial must keep and evaluate
k checkpoints, e.g. `run_config.keep_checkpoint_max`).

Grid values are gin expressions: strings go in verbatim ("@hinge",
"'translation'"), numbers and booleans as Python writes them. Each trial is
a normal run directory, OUT/trials/<config>/seed<k>, trained and scored by
`python -m compare_gan2 ... --schedule eval_after_train` run in OUT (so
relative paths in bindings are under OUT); a rerun skips finished trials and
resumes interrupted ones from their checkpoints. Results
go to OUT/results.csv (one row per trial), OUT/summary.{csv,md} (per config:
best, median, mean, std and the per-seed values of each score) and
OUT/curves.png, OUT/boxplot.png.

Each finished trial also gets its grid values and final scores as
TensorBoard hparams (`tensorboard --logdir OUT`, HParams tab). A trial whose
child process is killed by a signal is restarted (`--max_retries` times) and
resumes from its checkpoint.

  compare_gan2 sweep --spec SPEC --out DIR [--parallel N]
  compare_gan2 sweep --spec SPEC --out DIR --backend ray [--address auto]
  compare_gan2 sweep --spec SPEC --out DIR --print_commands   # for a scheduler
  compare_gan2 sweep --spec SPEC --out DIR --report_only      # tables and plots

The Ray backend (sweep_ray.py, docs/sweeps_ray.md) runs each trial as a Ray
task; its resources come from the flags or the spec's `[ray]` table.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import io
import itertools
import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from typing import Any, Sequence

import numpy as np

from compare_gan2 import console, files
from compare_gan2.config_files import CONFIG_DIR, resolve_config

logger = logging.getLogger("compare_gan2")

DONE = "sweep_done.json"
SPEC_KEYS = {"configs", "bindings", "seeds", "grid", "variants", "schedule",
             "metrics", "options", "ray", "score_last"}
# The spec's [ray] table: the Ray backend's flags without their dashes.
RAY_KEYS = {"num_cpus_per_trial", "num_gpus_per_trial", "resources", "max_retries"}
HPARAMS_SUFFIX = ".sweep_hparams"  # the event files this module writes
SCORE_TAG = "score/"  # their scalar tags: score/<name>, a trial's final scores


def is_remote(path: str) -> bool:
  """A path TensorFlow's file systems open (gs://...), not the local one."""
  return "://" in path


def _gfile() -> Any:
  console.import_tensorflow_quietly()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


# The few file operations of a sweep, on a local path or through tf.io.gfile.
def exists(path: str) -> bool:
  return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def makedirs(path: str) -> None:
  if is_remote(path):
    _gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def read_text(path: str) -> str:
  if is_remote(path):
    with _gfile().GFile(path, "r") as f:
      return f.read()
  with open(path) as f:
    return f.read()


def write_text(path: str, text: str) -> None:
  if is_remote(path):
    with _gfile().GFile(path, "w") as f:
      f.write(text)
  else:
    files.write_text(path, text)


def write_json(path: str, obj: Any) -> None:
  if is_remote(path):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
  else:
    files.write_json(path, obj)


class OutputNotWritable(OSError):
  """A trial's process cannot write the sweep directory."""


def check_writable(out: str) -> None:
  """Raises OutputNotWritable (one line) unless this process can create and
  delete a file in the sweep directory `out`: every worker of a distributed
  sweep must reach the same directory."""
  probe = os.path.join(out, f".probe-{socket.gethostname()}-{os.getpid()}")
  try:
    makedirs(out)
    write_text(probe, "")
    if is_remote(probe):
      _gfile().remove(probe)
    else:
      os.remove(probe)
  except Exception as e:  # pylint: disable=broad-except
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise OutputNotWritable(
        f"Host {socket.gethostname()} cannot write the sweep directory {out} "
        f"({reason}); --out must be a shared file system path or a gs:// path "
        "that every worker can write.") from e


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
  hparams: tuple[tuple[str, Any], ...] = ()  # (name, value) of its grid point
  score_last: int = 1  # its final scores: the mean over this many last checkpoints

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
  def sweep_dir(self) -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(self.model_dir)))

  @property
  def workdir(self) -> str:
    """Where the trial runs: the sweep directory, so that relative paths in
    bindings (a label file) mean the same to every trial (a remote sweep runs
    in the temporary directory: its bindings need absolute paths)."""
    return tempfile.gettempdir() if is_remote(self.model_dir) else self.sweep_dir

  @property
  def done(self) -> bool:
    return exists(os.path.join(self.model_dir, DONE))

  @property
  def name(self) -> str:
    return f"{self.config} seed {self.seed}"


def load_spec(path: str) -> dict[str, Any]:
  """The sweep spec at `path` (a file, or a spec shipped in configs/sweeps)."""
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
  score_last = spec.get("score_last", 1)
  if isinstance(score_last, bool) or not isinstance(score_last, int) or score_last < 1:
    raise ValueError(f"Sweep spec {path}: `score_last` must be a positive integer; "
                     f"got {score_last!r}.")
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
  out = out if is_remote(out) else os.path.abspath(out)
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
        parts, hparams = [], []
        if len(configs) > 1 and gin_files:
          parts.append(os.path.splitext(os.path.basename(gin_files[-1]))[0])
          hparams.append(("gin_config", parts[-1]))
        if variant.get("name"):
          parts.append(variant["name"])
          hparams.append(("variant", variant["name"]))
        parts += [_label(k, v) for k, v in zip(grid, point)]
        hparams += [(k, v if isinstance(v, (bool, int, float, str)) else str(v))
                    for k, v in zip(grid, point)]
        bindings = (list(spec.get("bindings", [])) + list(variant.get("bindings", []))
                    + [f"{k} = {_gin_value(v)}" for k, v in zip(grid, point)])
        groups.append((_safe(",".join(parts) or "default"),
                       tuple(gin_files + extra), tuple(bindings), tuple(hparams)))
  if len({g[0] for g in groups}) < len(groups):
    raise ValueError("Two configurations of the sweep got the same name.")
  schedule = spec.get("schedule", "eval_after_train")
  options = tuple(spec.get("options", []))
  return [Trial(name, seed, files, bindings,
                os.path.join(out, "trials", name, f"seed{seed}"), schedule, options,
                hparams, spec.get("score_last", 1))
          for seed in seeds for name, files, bindings, hparams in groups]


def _exit_with_parent() -> None:
  """In the child: die with the sweep, so a killed sweep leaves no orphan
  writing into a trial directory that the next sweep resumes."""
  if _PRCTL is not None:
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Looked up once here: between fork and exec the child only calls it.
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _local_log(trial: Trial) -> str:
  """The file the trial's output goes to: <model_dir>/sweep.log, or for a
  remote sweep a local copy uploaded after each attempt (_save_log)."""
  if not is_remote(trial.model_dir):
    return os.path.join(trial.model_dir, "sweep.log")
  path = os.path.join(tempfile.gettempdir(), "compare_gan2_sweep",
                      _safe(trial.model_dir) + ".log")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  remote = os.path.join(trial.model_dir, "sweep.log")
  files.write_text(path, read_text(remote) if exists(remote) else "")
  return path


def _save_log(trial: Trial, log: Any) -> None:
  log.close()
  if is_remote(trial.model_dir):
    with open(log.name) as f:
      write_text(os.path.join(trial.model_dir, "sweep.log"), f.read())


def _start(trial: Trial, env: dict[str, str]) -> tuple[subprocess.Popen, Any]:
  """Starts (or resumes) `trial`; its output goes to <model_dir>/sweep.log."""
  makedirs(trial.model_dir)
  log = open(_local_log(trial), "a")  # pylint: disable=consider-using-with
  log.write(f"$ {shlex.join(trial.command())}\n")
  log.flush()
  # preexec_fn runs between fork and exec: it only calls the preloaded prctl
  # (no import, no lock), so other threads (a Ray worker's) cannot block it.
  process = subprocess.Popen(trial.command(), stdout=log, stderr=subprocess.STDOUT,
                             cwd=trial.workdir, env={**os.environ, **env},
                             preexec_fn=_exit_with_parent)
  return process, log


def _settle(trial: Trial, returncode: int, seconds: float, attempt: int,
            max_retries: int) -> str | None:
  """After an attempt at `trial` exited: None when the trial finished (marked
  done, hparams written), "" when it should be restarted (killed by a
  signal, retries left), else why it failed."""
  log = os.path.join(trial.model_dir, "sweep.log")
  # Killed (the OOM killer, a preempted machine), or stopped by SIGTERM after
  # saving a checkpoint (compare_gan2 then exits 128 + SIGTERM).
  signum = -returncode if returncode < 0 else (
      signal.SIGTERM if returncode == 128 + signal.SIGTERM else 0)
  if signum:
    try:
      name = signal.Signals(signum).name
    except ValueError:
      name = f"signal {signum}"
    if attempt < max_retries:
      logger.warning("%s: killed by %s; restarting from its checkpoint (retry "
                     "%d of %d).", trial.name, name, attempt + 1, max_retries)
      return ""
    return (f"Trial {trial.name} failed: killed by {name} {attempt + 1} time(s); "
            f"see {log}.")
  if returncode:
    return f"Trial {trial.name} failed (exit {returncode}); see {log}."
  write_json(os.path.join(trial.model_dir, DONE),
             {"seconds": round(seconds, 1), "command": trial.command()})
  write_hparams(trial)
  return None


def run_trial(trial: Trial, env: dict[str, str], max_retries: int = 2
              ) -> tuple[str | None, float]:
  """Runs (or resumes) `trial` to the end here, restarting it after a kill:
  (None or why it failed, seconds). The Ray backend's task body."""
  began, attempt = time.time(), 0
  while True:
    process, log = _start(trial, env)
    try:
      process.wait()
    finally:
      if process.returncode is None:
        process.terminate()
      _save_log(trial, log)
    error = _settle(trial, process.returncode, time.time() - began, attempt, max_retries)
    if error != "":
      return error, time.time() - began
    attempt += 1


class Progress:
  """One log line per change: trials done / running / failed, and an ETA
  from the mean time per finished trial."""

  def __init__(self, trials: Sequence[Trial], to_run: int, slots: str):
    self.total, self.start = to_run, time.time()
    self.done = self.failed = 0
    logger.info("Sweep: %d trials, %d finished, %d to run, %s.", len(trials),
                len(trials) - to_run, to_run, slots)

  def update(self, trial: Trial, running: int, event: str,
             error: str | None = None) -> None:
    """`trial` started (event "started"), finished or failed; `running` now."""
    if event != "started":
      self.done += error is None
      self.failed += error is not None
    finished = self.done + self.failed
    eta = (f", ETA {(time.time() - self.start) / finished * (self.total - finished) / 60:.0f}"
           " min" if finished else "")
    logger.info("[%d/%d done, %d running, %d failed%s] %s: %s", self.done, self.total,
                running, self.failed, eta, trial.name, error or event)


def run(trials: Sequence[Trial], parallel: int = 1, poll_seconds: float = 1.0,
        max_retries: int = 2) -> list[str]:
  """Runs the unfinished trials here, `parallel` at a time, with progress
  lines; a trial killed by a signal restarts up to `max_retries` times.
  Returns the error messages of failed trials (the others still run)."""
  queue = [(t, 0) for t in trials if not t.done]
  progress = Progress(trials, len(queue), f"{parallel} at a time")
  # Each child uses its share of the cores.
  threads = str(max(1, (os.cpu_count() or 1) // parallel))
  env = {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads}
  errors: list[str] = []
  running: dict[subprocess.Popen, tuple[Trial, int, float, Any]] = {}
  try:
    while queue or running:
      while queue and len(running) < parallel:
        trial, attempt = queue.pop(0)
        process, log = _start(trial, env)
        running[process] = (trial, attempt, time.time(), log)
        if not attempt:
          progress.update(trial, len(running), "started")
      time.sleep(poll_seconds)
      for process in [p for p in running if p.poll() is not None]:
        trial, attempt, began, log = running.pop(process)
        _save_log(trial, log)
        seconds = time.time() - began
        error = _settle(trial, process.returncode, seconds, attempt, max_retries)
        if error == "":
          queue.insert(0, (trial, attempt + 1))
          continue
        if error:
          errors.append(error)
        progress.update(trial, len(running), f"done in {seconds:.0f} s", error)
  finally:
    for process in running:  # interrupted: stop the children, resume later
      process.terminate()
  return errors


def read_scores(trial: Trial) -> list[dict[str, float]]:
  """The trial's scores.csv rows, numeric columns only, by step."""
  path = os.path.join(trial.model_dir, "scores.csv")
  if not exists(path):
    return []
  rows = []
  with io.StringIO(read_text(path), newline="") as f:
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


def final_scores(rows: list[dict[str, float]], score_last: int = 1
                 ) -> dict[str, float]:
  """A trial's scores from its scores.csv `rows` (by step): the last row,
  each score replaced by its mean over the last `score_last` rows that have
  it. "step" stays the last row's."""
  if not rows:
    return {}
  final = dict(rows[-1])
  for name in score_names(rows):
    if name in final:  # a score the last checkpoint lacks stays missing
      final[name] = float(np.mean([r[name] for r in rows if name in r][-score_last:]))
  return final


def summarize(trials: Sequence[Trial], metrics: Sequence[str] | None = None,
              score_last: int = 1
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
  """(one row per trial with its final scores, one row per config and score
  with best/median/mean/std over seeds). A trial's final score is the mean
  over its last `score_last` evaluated checkpoints (final_scores)."""
  from compare_gan2.metrics.scores import DIRECTIONS  # pylint: disable=g-import-not-at-top
  per_trial, finals = [], {}
  names: list[str] = list(metrics or [])
  for trial in trials:
    rows = read_scores(trial)
    names += [n for n in score_names(rows) if n not in names and not metrics]
    final = final_scores(rows, score_last)
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


def trial_hparams(trial: Trial) -> dict[str, Any]:
  """The values TensorBoard's HParams dashboard shows for `trial`."""
  return {"config": trial.config, **dict(trial.hparams), "seed": trial.seed}


def _replace_event_file(logdir: str) -> Any:
  """A summary writer for this module's event file in `logdir`, whose
  earlier ones it deletes (a rerun does not add a second session)."""
  gfile = _gfile()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for old in gfile.glob(os.path.join(logdir, "*" + HPARAMS_SUFFIX)):
    gfile.remove(old)
  return tf.summary.create_file_writer(logdir, filename_suffix=HPARAMS_SUFFIX)


def write_hparams(trial: Trial) -> None:
  """Writes `trial`'s hparams session (trial_hparams) and its final scores
  (as `final_scores`: the mean over its last `trial.score_last` evaluated
  checkpoints, as the tables read them; scalars `score/<name>` at the last
  one's step) into an event file in its model_dir, for TensorBoard's HParams
  dashboard."""
  rows = read_scores(trial)
  final = final_scores(rows, trial.score_last)
  writer = _replace_event_file(trial.model_dir)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  with writer.as_default():
    hp.hparams(trial_hparams(trial), trial_id=f"{trial.config}/seed{trial.seed}")
    for name in score_names(rows) if rows else ():
      if name in final:
        tf.summary.scalar(SCORE_TAG + name, final[name], step=int(final["step"]))
  writer.close()


def write_hparams_config(trials: Sequence[Trial], out: str, names: Sequence[str]) -> None:
  """The sweep's experiment for the HParams dashboard, in `out`: every
  hparam with the values of the grid, the scores `names` as metrics."""
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  values: dict[str, list[Any]] = {}
  for trial in trials:
    for key, value in trial_hparams(trial).items():
      if value not in values.setdefault(key, []):
        values[key].append(value)
  hparams = []
  for key, options in values.items():
    try:
      hparams.append(hp.HParam(key, hp.Discrete(options)))
    except (TypeError, ValueError):  # values of mixed types: no domain
      hparams.append(hp.HParam(key))
  writer = _replace_event_file(out)
  with writer.as_default():
    hp.hparams_config(hparams=hparams, metrics=[hp.Metric(SCORE_TAG + n, display_name=n)
                                                for n in names])
  writer.close()


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


def plot(trials: Sequence[Trial], summary: list[dict[str, Any]], out: str,
         score_last: int = 1) -> list[str]:
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
    ax.set_title(f"{name} ({'final' if score_last == 1 else f'mean of last {score_last}'}"
                 ", over seeds)")
  fig.tight_layout()
  paths.append(os.path.join(out, "boxplot.png"))
  fig.savefig(paths[-1])
  return paths


def report(trials: Sequence[Trial], out: str, metrics: Sequence[str] | None = None,
           score_last: int = 1) -> tuple[str, list[dict[str, Any]]]:
  """Writes results.csv, summary.csv/.md, the plots and the HParams
  experiment; returns the markdown table and the summary rows. Each trial
  is scored by the mean over its last `score_last` evaluated checkpoints."""
  per_trial, summary = summarize(trials, metrics, score_last)
  # A remote sweep's report is written here, then copied.
  local = tempfile.mkdtemp(prefix="sweep_report") if is_remote(out) else out
  os.makedirs(local, exist_ok=True)
  for name, rows in (("results.csv", per_trial), ("summary.csv", summary)):
    if rows:
      files.write_csv(os.path.join(local, name), rows)
  table = markdown_table(summary) if summary else "No scores yet.\n"
  done = sum(t.done for t in trials)
  scored = ("final scores" if score_last == 1 else
            f"scores (mean over each trial's last {score_last} evaluated checkpoints)")
  files.write_text(os.path.join(local, "summary.md"),
                   f"{done}/{len(trials)} trials finished; median ± std over seeds "
                   f"of each config's {scored}.\n\n" + table)
  plot(trials, summary, local, score_last)
  if local != out:
    for name in os.listdir(local):
      _gfile().copy(os.path.join(local, name), os.path.join(out, name), overwrite=True)
      os.remove(os.path.join(local, name))
    os.rmdir(local)
  if summary:
    write_hparams_config(trials, out, list(dict.fromkeys(r["score"] for r in summary)))
  return table, summary
