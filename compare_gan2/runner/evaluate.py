"""Evaluation of checkpoints and the schedules of the original runner:
train | continuous_eval | eval_after_train | train_and_eval.

Each evaluated checkpoint adds one row to `scores.csv` (and `scores.jsonl`):
the step, the checkpoint, every score (mean, std and the list over the
averaging runs) and the run's settings, so rows of many runs can be pooled.
Scores come from the functions in `SCORES`; the evaluation metrics (FID, IS,
...) register there.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import time
from typing import Any, Callable

import gin
import numpy as np
import tensorflow as tf

from compare_gan2.runner.train import TRAIN_DONE, Runner

logger = logging.getLogger("compare_gan2")

SCHEDULES = ("train", "continuous_eval", "eval_after_train", "train_and_eval")

# name -> fn(samples [N, H, W, C] numpy, runner) -> float. Metrics add theirs.
ScoreFn = Callable[[np.ndarray, Runner], float]
SCORES: dict[str, ScoreFn] = {
    "sample_mean": lambda samples, runner: float(np.mean(samples)),
    "sample_std": lambda samples, runner: float(np.std(samples)),
}


class NaNSamplesError(FloatingPointError):
  """The generator produced NaN or infinite values."""


@gin.configurable("eval")
def eval_options(num_samples: int = 1000, batch_size: int | None = None
                 ) -> dict[str, Any]:
  """`eval.num_samples` generated per averaging run; `eval.batch_size`
  (defaults to `options.batch_size`)."""
  if num_samples < 1:
    raise ValueError(f"`eval.num_samples` must be >= 1. Received: {num_samples}")
  return dict(num_samples=num_samples, batch_size=batch_size)


def checkpoint_step(path: str) -> int:
  match = re.search(r"-(\d+)$", path)
  if not match:
    raise ValueError(f"Not a checkpoint path with a step: {path}")
  return int(match.group(1))


def evaluate_checkpoint(runner: Runner, path: str, *, num_averaging_runs: int = 3
                        ) -> dict[str, Any]:
  """Scores checkpoint `path`: `num_averaging_runs` independent sample sets
  from the (EMA) generator, every function of `SCORES` on each."""
  opts = eval_options()
  runner.restore_from(path)
  step = checkpoint_step(path)
  runs: dict[str, list[float]] = {name: [] for name in SCORES}
  for run in range(num_averaging_runs):
    samples = runner.generate(opts["num_samples"], opts["batch_size"],
                              seed_offset=1 + run)
    if not np.isfinite(samples).all():
      raise NaNSamplesError(f"The generator of {path} produced NaN/inf samples.")
    for name, fn in SCORES.items():
      runs[name].append(fn(samples, runner))
  row: dict[str, Any] = {"step": step, "checkpoint": os.path.basename(path)}
  for name, values in runs.items():
    row[name] = float(np.mean(values))
    row[f"{name}_std"] = float(np.std(values))
    row[f"{name}_list"] = " ".join(f"{v:.6g}" for v in values)
  row.update({f"options.{k}": v for k, v in runner.options.items()})
  row["dataset"] = runner.dataset.name
  logger.info("Scores at step %d: %s", step, ", ".join(
      f"{k} {row[k]:.4f}" for k in runs))
  return row


def scored_steps(model_dir: str, score_filename: str) -> set[int]:
  path = os.path.join(model_dir, score_filename)
  if not os.path.exists(path):
    return set()
  with open(path, newline="") as f:
    return {int(r["step"]) for r in csv.DictReader(f)}


def write_row(model_dir: str, score_filename: str, row: dict[str, Any]) -> None:
  """Appends `row` to the CSV (rewritten atomically, so columns may grow and
  a kill never leaves a broken file) and to the JSON-lines file beside it."""
  path = os.path.join(model_dir, score_filename)
  rows = []
  if os.path.exists(path):
    with open(path, newline="") as f:
      rows = list(csv.DictReader(f))
  rows.append(row)
  fields: list[str] = []
  for r in rows:
    fields += [k for k in r if k not in fields]
  tmp = path + ".tmp"
  with open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  os.replace(tmp, path)
  with open(os.path.splitext(path)[0] + ".jsonl", "a") as f:
    f.write(json.dumps(row, sort_keys=True) + "\n")


def run_schedule(runner: Runner, schedule: str, *, score_filename: str = "scores.csv",
                 num_eval_averaging_runs: int = 3, eval_every_steps: int = 5000,
                 poll_seconds: float = 10.0) -> None:
  """Runs one of `SCHEDULES` (see the module docstring)."""
  if schedule not in SCHEDULES:
    raise ValueError(f"Unknown schedule '{schedule}'. Choose one of {SCHEDULES}.")
  model_dir = runner.model_dir

  def evaluate(path: str) -> None:
    step = checkpoint_step(path)
    if step in scored_steps(model_dir, score_filename):
      return
    row = evaluate_checkpoint(runner, path,
                              num_averaging_runs=num_eval_averaging_runs)
    if runner.is_chief:
      write_row(model_dir, score_filename, row)

  if schedule == "train":
    runner.train()
  elif schedule == "eval_after_train":
    runner.train()
    evaluate(tf.train.latest_checkpoint(model_dir))
  elif schedule == "train_and_eval":
    total = runner.options["training_steps"]
    runner.train(on_checkpoint=lambda step, path: (
        evaluate(path) if step % eval_every_steps == 0 or step == total else None),
                 checkpoint_every=eval_every_steps)
  else:
    continuous_eval(runner, evaluate, poll_seconds)


def continuous_eval(runner: Runner, evaluate: Callable[[str], None],
                    poll_seconds: float) -> None:
  """Evaluates each new checkpoint as training writes it; stops once
  TRAIN_DONE is there and the newest checkpoint is scored."""
  model_dir = runner.model_dir
  done = lambda: os.path.exists(os.path.join(model_dir, TRAIN_DONE))
  last = None
  while True:
    finished = done()  # read before the checkpoint, so none is missed
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is not None and latest != last:
      evaluate(latest)
      last = latest
      continue
    if finished:
      return
    time.sleep(poll_seconds)
