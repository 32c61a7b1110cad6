"""Evaluation of checkpoints and the schedules of the original runner:
train | continuous_eval | eval_after_train | train_and_eval.

Each evaluated checkpoint adds one row to `scores.csv` (and `scores.jsonl`,
and TensorBoard): the step, the checkpoint, every score (mean, std and the
list over the averaging runs) and the run's options, so rows of many runs can
be pooled. The scores are the metrics named in `eval.metrics`, over the
features of `eval.feature_extractor`; the real side's features are computed
once per dataset, split and extractor and cached in `eval.cache_dir`.

Evaluation only reads the run directory: its outputs (scores.*, generators/,
eval TensorBoard scalars) go to `output_dir` (`--output_dir`), by default the
run directory, which must then be writable. A checkpoint whose files are
missing or damaged is skipped with one warning line; the others are scored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from typing import Any, Callable

import gin
import numpy as np
import tensorflow as tf

from compare_gan2 import files
from compare_gan2.choices import SCHEDULES
from compare_gan2.metrics import extractors as extractors_lib
from compare_gan2.metrics import scores as scores_lib
from compare_gan2.runner import images as images_lib
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner.train import TRAIN_DONE, ReadOnlyRunError, Runner

logger = logging.getLogger("compare_gan2")


class NaNSamplesError(FloatingPointError):
  """The generator produced NaN or infinite values."""


@gin.configurable("eval")
def eval_options(num_samples: int = 1000, batch_size: int | None = None,
                 metrics: tuple[str, ...] | list[str] = ("fid", "kid"),
                 feature_extractor: str = "auto", resize: str = "tfgan",
                 inception_weights: str | None = None,
                 cache_dir: str = "~/.cache/compare_gan2",
                 split: str | None = None,
                 export_generator: bool = True) -> dict[str, Any]:
  """Evaluation settings (`eval.*`).

  Args:
    num_samples: int. Generated (and real) images per averaging run.
    batch_size: int. Generation batch; defaults to `options.batch_size`.
    metrics: names from `compare_gan2.metrics.scores.METRICS`.
    feature_extractor: "auto", "inception", "classifier" or "pixels".
    resize: Inception input resize: "tfgan" (TF-GAN's legacy bilinear, as the
      original scored), "tf" (tf.image.resize bilinear, no antialias) or
      "clean" (antialiased).
    inception_weights: path of the Inception weights, or "hub:[handle]" for
      the TF-Hub module (see README).
    cache_dir: where weights and real-data features are cached.
    split: real split to compare with; defaults to the dataset's eval split.
    export_generator: bool. Also export each scored checkpoint's generator as
      a SavedModel, `<model_dir>/generators/step_<N>` (see hub.py), as the
      original exported a TF-Hub module per evaluation.
  """
  if num_samples < 2:
    raise ValueError(f"`eval.num_samples` must be >= 2. Received: {num_samples}")
  for name in metrics:
    scores_lib.METRICS.get(name)  # unknown names fail here, with suggestions
  return dict(num_samples=num_samples, batch_size=batch_size,
              metrics=tuple(metrics), feature_extractor=feature_extractor,
              resize=resize, inception_weights=inception_weights,
              cache_dir=os.path.expanduser(cache_dir), split=split,
              export_generator=export_generator)


checkpoint_step = ckpt_lib.checkpoint_step


class Evaluator:
  """Scores generated images against a dataset; built once per run."""

  def __init__(self, dataset: Any, opts: dict[str, Any] | None = None,
               strategy: tf.distribute.Strategy | None = None):
    self.dataset = dataset
    self.opts = opts or eval_options()
    options = dict(resize=self.opts["resize"], weights=self.opts["inception_weights"],
                   cache_dir=self.opts["cache_dir"])
    # Feature extraction splits batches over one host's replicas only.
    if isinstance(strategy, tf.distribute.MirroredStrategy):
      options["strategy"] = strategy
    self.extractor_name, self.extract = extractors_lib.make_extractor(
        self.opts["feature_extractor"], dataset, **options)
    self._real: scores_lib.SampleSet | None = None

  def sample_set(self, images: np.ndarray, labels: np.ndarray | None = None
                 ) -> scores_lib.SampleSet:
    out = self.extract(images)
    return scores_lib.SampleSet(images, out["features"], out.get("logits"), labels)

  def real(self) -> scores_lib.SampleSet:
    """The first `num_samples` images of the real split, features cached."""
    if self._real is None:
      split = self.opts["split"] or self.dataset.eval_split
      num = min(self.opts["num_samples"], self.dataset.num_examples(split))
      batches = self.dataset.eval_input_fn(split, batch_size=num, drop_remainder=False)
      images, labels = (t.numpy() for t in next(iter(batches)))
      key = "-".join([self.dataset.fingerprint, split, self.extractor_name,
                      self.opts["resize"], str(num)])
      path = os.path.join(self.opts["cache_dir"], "reference",
                          hashlib.sha1(key.encode()).hexdigest()[:16] + ".npz")
      if os.path.exists(path):
        cached = np.load(path)
        logits = cached["logits"] if "logits" in cached else None
        self._real = scores_lib.SampleSet(images, cached["features"], logits, labels)
      else:
        self._real = self.sample_set(images, labels)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        arrays = {"features": self._real.features}
        if self._real.logits is not None:
          arrays["logits"] = self._real.logits
        tmp = f"{path}.tmp{os.getpid()}.npz"  # processes may share the cache
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return self._real

  def score(self, images: np.ndarray, labels: np.ndarray | None = None
            ) -> dict[str, float]:
    if not np.isfinite(images).all():
      raise NaNSamplesError("The generator produced NaN/inf samples.")
    return scores_lib.compute(self.opts["metrics"], self.real(),
                              self.sample_set(images, labels))


def evaluate_checkpoint(runner: Runner, path: str, *, num_averaging_runs: int = 3,
                        evaluator: Evaluator | None = None) -> dict[str, Any]:
  """Scores checkpoint `path`: `num_averaging_runs` independent sample sets
  from the (EMA) generator, each scored by every metric of `eval.metrics`."""
  evaluator = evaluator or Evaluator(runner.dataset, strategy=runner.strategy)
  opts = evaluator.opts
  runner.restore_from(path)
  step = checkpoint_step(path)
  runs: dict[str, list[float]] = {}
  for run in range(num_averaging_runs):
    images = runner.generate(opts["num_samples"], opts["batch_size"],
                             seed_offset=1 + run)
    _, labels = runner.sample_inputs(opts["num_samples"], 1 + run)
    labels = None if labels is None else labels.numpy()
    try:
      results = evaluator.score(images, labels)
    except NaNSamplesError as e:
      raise NaNSamplesError(f"{e} Checkpoint: {path}") from e
    for name, value in results.items():
      runs.setdefault(name, []).append(value)
  row: dict[str, Any] = {"step": step, "checkpoint": os.path.basename(path),
                         "feature_extractor": evaluator.extractor_name}
  for name, values in runs.items():
    row[name] = float(np.mean(values))
    row[f"{name}_std"] = float(np.std(values))
    row[f"{name}_list"] = " ".join(f"{v:.6g}" for v in values)
  row.update({f"options.{k}": v for k, v in runner.options.items()})
  row["options.gan_class"] = runner.info["gan_class"]  # the name, not the class
  row["dataset"] = runner.dataset.name
  row["dataset.train_fraction"] = runner.dataset.train_subset["train_fraction"]
  row["DiffAugment.policy"] = runner.gan.augmentation.policy
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
  run directory), unless it is there."""
  from compare_gan2 import hub  # pylint: disable=g-import-not-at-top
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
  return hub.export_generator(runner, out)


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
  if schedule != "train" and runner.is_chief:
    if output_dir:
      os.makedirs(output_dir, exist_ok=True)
    if not files.writable(out):
      raise ReadOnlyRunError(
          f"{out} is not writable, and the evaluation writes {score_filename} and "
          "generators/ there. Pass --output_dir (run_schedule(output_dir=...)) "
          "for them.")
  evaluator = None
  writer = None

  def write_scalars(step: int, values: dict[str, float]) -> None:
    nonlocal writer
    if out == model_dir:
      runner.write_scalars(step, values)
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
      return
    if runner.is_chief:
      write_row(out, score_filename, row)
      write_scalars(step, {f"eval/{k}": v for k, v in row.items()
                           if isinstance(v, float)})
    if evaluator.opts["export_generator"]:
      export_scored_generator(runner, step, out)

  if schedule == "train":
    runner.train()
  elif schedule == "eval_after_train":
    runner.train()
    for path in reversed(ckpt_lib.list_checkpoints(model_dir)):
      evaluate(path)  # every kept checkpoint, oldest first
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
    latest = ckpt_lib.latest_listed(model_dir)
    if latest is not None and latest != last:
      evaluate(latest)
      last = latest
      continue
    if finished:
      return
    time.sleep(poll_seconds)
