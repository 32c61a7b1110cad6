"""The schedules of the original runner, over a `Runner`:
train | continuous_eval | eval_after_train | train_and_eval.

Each evaluated checkpoint adds one row to `scores.csv` (and `scores.jsonl`,
and TensorBoard): the step, the checkpoint, the feature extractor, every
score (mean, std and the list over the averaging runs), the run's options,
then the evaluation protocol (`eval.num_samples`, `eval.num_real_samples`,
`eval.resize`, `eval.split`, `eval.num_averaging_runs`), `eval.seconds`,
the time that evaluation took, and the compute formats (`compute_dtype`: G's
for the scored samples; `train.compute_dtype`: training's, from run.json), so
rows of many runs can be pooled and compared. The scores come from the evaluation protocol of
`compare_gan2.metrics.evaluation` (`eval.*`).

Evaluation only reads the run directory: its outputs (scores.*, generators/,
eval TensorBoard scalars) go to `output_dir` (`--output_dir`), by default the
run directory, which must then be writable. A checkpoint whose files are
missing or damaged is skipped with one warning line; the others are scored,
and a last line says what was scored and skipped. A read-only Runner
(`compare_gan2 eval`) never trains, not even the last steps of a run whose
newest checkpoint is damaged.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from compare_gan2.core import files
from compare_gan2.core.choices import SCHEDULES
from compare_gan2.metrics.evaluation import (Evaluator, NaNSamplesError,
                                             check_heldout_split, eval_options)
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner import images as images_lib
from compare_gan2.runner.errors import ReadOnlyRunError
from compare_gan2.runner.run_dir import TRAIN_DONE, RunDir
from compare_gan2.runner.sampler import Sampler
from compare_gan2.runner.train import Runner

logger = logging.getLogger("compare_gan2")

checkpoint_step = ckpt_lib.checkpoint_step


def evaluate_checkpoint(runner: Runner, path: str, *, num_averaging_runs: int = 3,
                        evaluator: Evaluator | None = None) -> dict[str, Any]:
  """Scores checkpoint `path`: `num_averaging_runs` independent sample sets
  from the (EMA) generator, each scored by every sample metric of
  `eval.metrics`; the discriminator metrics (d_overfit) once, on D's logits
  on fixed training and held-out reals (their std is 0)."""
  began = time.time()
  evaluator = evaluator or Evaluator(runner.dataset, strategy=runner.strategy)
  runner.restore_from(path)
  step = checkpoint_step(path)
  runs = sample_scores(runner.sampler, evaluator, num_averaging_runs, path)
  row: dict[str, Any] = {"step": step, "checkpoint": os.path.basename(path),
                         "feature_extractor": evaluator.extractor_name}
  for name, values in runs.items():
    row[name] = float(np.mean(values))
    row[f"{name}_std"] = float(np.std(values))
    row[f"{name}_list"] = " ".join(f"{v:.6g}" for v in values)
  row.update({f"options.{k}": v for k, v in runner.options.as_dict().items()})
  row["options.gan_class"] = runner.info["gan_class"]  # the name, not the class
  row["dataset"] = runner.dataset.name
  row["dataset.train_fraction"] = runner.dataset.train_subset["train_fraction"]
  row["DiffAugment.policy"] = runner.gan.augmentation.policy
  # Newer columns last, so that earlier scores.csv files only grow.
  row.update(evaluator.protocol())
  row["eval.num_averaging_runs"] = num_averaging_runs
  row["eval.seconds"] = round(time.time() - began, 3)
  # The formats behind the numbers: G's for these samples, and training's
  # (run.json; another machine may have trained the run).
  row["compute_dtype"] = runner.compute_dtype
  row["train.compute_dtype"] = files.recorded_compute_dtype(runner.model_dir)
  ada = getattr(runner.gan, "ada", None)
  if ada:  # the checkpoint's p and latest r_t (columns only for ADA runs)
    row["ADA.pipeline"] = ",".join(ada.ops)
    row.update({k: float(v) for k, v in ada.tune_state().items()})
  logger.info("Scores at step %d: %s", step, ", ".join(
      f"{k} {row[k]:.4f}" for k in runs))
  return row


def sample_scores(sampler: Sampler, evaluator: Evaluator, num_averaging_runs: int,
                  path: str) -> dict[str, list[float]]:
  """{score: values} of the sampler's current weights (checkpoint `path`,
  named in errors): one value per sample set for the sample metrics, one
  for the discriminator metrics."""
  opts = evaluator.opts
  runs: dict[str, list[float]] = {}
  for run in range(num_averaging_runs):
    images = sampler.generate(opts.num_samples, opts.batch_size, seed_offset=1 + run)
    _, labels = sampler.sample_inputs(opts.num_samples, 1 + run)
    labels = None if labels is None else labels.numpy()
    try:
      results = evaluator.score(images, labels)
    except NaNSamplesError as e:
      raise NaNSamplesError(f"{e} Checkpoint: {path}") from e
    for name, value in results.items():
      runs.setdefault(name, []).append(value)
  if evaluator.discriminator_metrics:  # once: D and its reals are fixed
    for name, value in evaluator.score_discriminator(sampler.discriminator_logits).items():
      runs[name] = [value]
  return runs


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
  line = json.dumps(row, sort_keys=True, default=str)  # fails before any write
  rows = []
  if os.path.exists(path):
    with open(path, newline="") as f:
      rows = list(csv.DictReader(f))
  rows.append(row)
  files.write_csv(path, rows)
  with open(os.path.splitext(path)[0] + ".jsonl", "a") as f:
    f.write(line + "\n")
  names = [k for k in rows[-1] if f"{k}_std" in rows[-1]]
  if names:  # scores.png beside scores.csv: the curves at a glance
    images_lib.save_png(images_lib.metric_curves(rows, names),
                        os.path.splitext(path)[0] + ".png")


def export_scored_generator(runner: Runner, step: int,
                            output_dir: str | None = None) -> str | None:
  """Exports the generator of the checkpoint just scored (the Runner holds
  its weights) to <output_dir>/generators/step_<N> (output_dir: default the
  run directory), unless it is there; `compare_gan2.tools.hub.load_generator`
  loads it."""
  out = os.path.join(output_dir or runner.model_dir, "generators", f"step_{step:07d}")
  if os.path.exists(out):
    return out
  if not runner.is_chief or isinstance(
      runner.strategy, tf.distribute.MultiWorkerMirroredStrategy):
    # A SavedModel of multi-worker variables needs every worker; export
    # after training with `compare_gan2 export` instead.
    logger.info("Not exporting step %d under multi-worker training.", step)
    return None
  os.makedirs(os.path.dirname(out), exist_ok=True)
  return runner.export_generator(out)


def run_schedule(runner: Runner, schedule: str, *, score_filename: str = "scores.csv",
                 num_eval_averaging_runs: int = 3, eval_every_steps: int = 5000,
                 poll_seconds: float = 10.0, output_dir: str | None = None) -> None:
  """Runs one of `SCHEDULES` (see the module docstring).

  output_dir: where the evaluation writes scores.*, generators/ and its
    TensorBoard scalars; default the run directory. A run directory that is
    not writable needs one (`ReadOnlyRunError` otherwise).
  """
  if schedule not in SCHEDULES:
    raise ValueError(f"Unknown schedule '{schedule}'. Choose one of {SCHEDULES}.")
  model_dir = runner.model_dir
  out = output_dir or model_dir
  if schedule != "train":  # before training, not at the first evaluation
    _check_output(runner.is_chief, output_dir, out, score_filename)
    check_heldout_split(runner.dataset, eval_options())
  evaluator = None
  writer = None
  scored: list[int] = []
  skipped: list[tuple[str, str]] = []

  def write_scalars(step: int, values: dict[str, float]) -> None:
    nonlocal writer
    if out == model_dir and not runner.read_only:  # the training's own events file
      runner.run_dir.write_scalars(step, values)
      return
    writer = writer or tf.summary.create_file_writer(out)
    with writer.as_default():
      for name, value in values.items():
        tf.summary.scalar(name, value, step=step)
    writer.flush()

  def evaluate(path: str) -> None:
    nonlocal evaluator
    step = checkpoint_step(path)
    if step in scored_steps(out, score_filename):
      return
    evaluator = evaluator or Evaluator(runner.dataset, strategy=runner.strategy)
    try:
      row = evaluate_checkpoint(runner, path, evaluator=evaluator,
                                num_averaging_runs=num_eval_averaging_runs)
    except ckpt_lib.CorruptCheckpointError as e:
      logger.warning("Skipped %s: %s.", path, e.reason or e)
      skipped.append((path, e.reason or str(e)))
      return
    scored.append(step)
    if runner.is_chief:
      write_row(out, score_filename, row)
      write_scalars(step, {f"eval/{k}": v for k, v in row.items()
                           if isinstance(v, float)})
    if evaluator.opts.export_generator:
      export_scored_generator(runner, step, out)

  if schedule == "train":
    runner.train()
  elif schedule == "eval_after_train":
    eval_after_train(runner, evaluate)
  elif schedule == "train_and_eval":
    train_and_eval(runner, evaluate, eval_every_steps)
  else:
    continuous_eval(runner.run_dir, evaluate, poll_seconds)
  if schedule != "train":
    report(scored, skipped, os.path.join(out, score_filename))


def _check_output(is_chief: bool, output_dir: str | None, out: str,
                  score_filename: str) -> None:
  """The evaluation's output directory made (the chief), or
  `ReadOnlyRunError` if it cannot be written."""
  if not is_chief:
    return
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
  if not files.writable(out):
    raise ReadOnlyRunError(
        f"{out} is not writable, and the evaluation writes {score_filename} and "
        "generators/ there. Pass --output_dir (run_schedule(output_dir=...)) "
        "for them.")


def report(scored: list[int], skipped: list[tuple[str, str]], scores: str) -> None:
  """One line on what an evaluation scored and skipped; an error when it
  skipped every checkpoint it tried."""
  if skipped and not scored:
    raise ckpt_lib.CorruptCheckpointError(
        f"No checkpoint could be scored: {ckpt_lib.describe(skipped)}.")
  if not scored and not skipped:
    logger.info("No new checkpoint to score; the scores are in %s.", scores)
  else:
    steps = ", ".join(map(str, scored))
    logger.info("Scored %d checkpoint(s) (step %s) into %s%s.", len(scored), steps,
                scores, f"; skipped {len(skipped)} ({ckpt_lib.describe(skipped)})"
                if skipped else "")


def eval_after_train(runner: Runner, evaluate: Callable[[str], None]) -> None:
  """Trains to the end, then evaluates every kept checkpoint, oldest first.
  A read-only Runner (`compare_gan2 eval`) never trains: it evaluates the
  checkpoints there, skipping the unreadable ones."""
  if not runner.read_only:
    runner.train()
  for path in reversed(ckpt_lib.list_checkpoints(runner.model_dir)):
    evaluate(path)


def train_and_eval(runner: Runner, evaluate: Callable[[str], None],
                   eval_every_steps: int) -> None:
  """Trains, evaluating the checkpoint of every `eval_every_steps` steps
  (and of the last step) as soon as it is saved."""
  total = runner.options.training_steps
  runner.train(on_checkpoint=lambda step, path: (
      evaluate(path) if step % eval_every_steps == 0 or step == total else None),
               checkpoint_every=eval_every_steps)


def continuous_eval(run_dir: RunDir | Runner, evaluate: Callable[[str], None],
                    poll_seconds: float) -> None:
  """Evaluates each new checkpoint of `run_dir` (a RunDir; a Runner reads
  its own) as training writes it; stops once TRAIN_DONE is there and the
  newest checkpoint is scored."""
  if isinstance(run_dir, Runner):
    run_dir = run_dir.run_dir
  model_dir = run_dir.path
  done = lambda: os.path.exists(os.path.join(model_dir, TRAIN_DONE))
  last = None
  while True:
    finished = done()  # read before the checkpoint, so none is missed
    latest = ckpt_lib.latest_listed(model_dir)
    if latest is not None and latest != last:
      evaluate(latest)
      last = latest
      continue
    if finished:
      return
    time.sleep(poll_seconds)
