"""A run directory and what it records besides checkpoints: run.json, the
operative configs, TRAIN_DONE, TensorBoard scalars, the lock, and the move
aside of an earlier run on `restart`.

Reading a run writes nothing: a read-only RunDir never writes (not even a
missing run.json).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import random
import re
import time
from typing import Any

import gin
import tensorflow as tf

from compare_gan2.core import files, gin_check
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner import run_lock
from compare_gan2.runner.errors import IncompatibleCheckpointError

logger = logging.getLogger("compare_gan2")

TRAIN_DONE = "TRAIN_DONE"
RUN_INFO = "run.json"
RESTART_PREFIX = "restarted-"
# Keys of run.json that a resumed run must share with the checkpoint.
MODEL_KEYS = ("architecture", "gan_class", "resolution", "colors", "z_dim",
              "num_classes", "conditional")


def operative_configs(model_dir: str) -> dict[int, str]:
  """{step: path} of the run's operative_config-<step>.gin files."""
  found = {}
  for path in glob.glob(os.path.join(model_dir, "operative_config-*.gin")):
    match = re.search(r"operative_config-(\d+)\.gin$", path)
    if match:
      found[int(match.group(1))] = path
  return found


def operative_config_text(model_dir: str, step: int) -> str | None:
  """The operative config of the run segment that reached `step` (the
  newest one written at or before it), or None without any."""
  found = operative_configs(model_dir)
  usable = [n for n in found if n <= step] or list(found)
  if not usable:
    return None
  with open(found[max(usable)]) as f:
    return f.read()


def _has_text(path: str, text: str) -> bool:
  try:
    with open(path) as f:
      return f.read() == text
  except OSError:
    return False


class RunDir:
  """The files of one run directory that are not checkpoints.

  Args:
    model_dir: str. The directory (created unless read_only).
    is_chief: bool. Only the chief writes.
    read_only: bool. Write nothing.
  """

  def __init__(self, model_dir: str, *, is_chief: bool = True, read_only: bool = False):
    self.path, self.is_chief, self.read_only = model_dir, is_chief, read_only
    self.saved_info: dict[str, Any] | None = None
    self.run_info: dict[str, Any] = {}
    self._writer = None
    if not read_only:
      os.makedirs(model_dir, exist_ok=True)

  @property
  def writable(self) -> bool:
    return not self.read_only and files.writable(self.path)

  def lock(self) -> run_lock.RunLock:
    """The directory's lock (one trainer per directory)."""
    return run_lock.RunLock.acquire(self.path)

  def move_previous_run(self) -> None:
    """`restart`: the directory's contents go to <dir>/restarted-<time>/."""
    names = [n for n in os.listdir(self.path) if not n.startswith(
        RESTART_PREFIX) and n != run_lock.LOCK_FILE] if os.path.isdir(self.path) else []
    if not names:
      logger.info("Training from step 0 (restart): %s holds no earlier run.", self.path)
      return
    target = os.path.join(self.path, RESTART_PREFIX + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(target)
    for name in names:
      os.replace(os.path.join(self.path, name), os.path.join(target, name))
    logger.warning("Training from step 0 (restart): moved the earlier run "
                   "(%d entries) to %s.", len(names), target)

  def check_run_info(self, info: dict[str, Any], seed: int | None,
                     strategy: tf.distribute.Strategy) -> int:
    """Checks run.json against `info` (what this config trains) or writes it
    if missing (the only write here: reading a run never writes); returns
    the seed: `seed`, else run.json's, else a new one."""
    path = os.path.join(self.path, RUN_INFO)
    if os.path.exists(path):
      with open(path) as f:
        self.saved_info = saved = json.load(f)
      diff = {k: (saved.get(k), info[k]) for k in MODEL_KEYS if saved.get(k) != info[k]}
      if diff and ckpt_lib.list_checkpoints(self.path):
        detail = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
        raise IncompatibleCheckpointError(
            f"{self.path} holds checkpoints of another model ({detail}); "
            f"{diff.popitem()[0]} cannot change on resume. Use a new "
            "--model_dir, the gin config of that run, or --restart.")
      if seed is None:
        seed = saved.get("seed")
    if seed is None:
      if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError("Multi-worker training needs `run_config.tf_random_seed`"
                         " so that every worker draws the same latents.")
      seed = random.SystemRandom().randrange(2**31)
    self.run_info = {**info, "seed": int(seed),
                     "num_replicas": strategy.num_replicas_in_sync}
    if self.saved_info is None and self.is_chief and self.writable:
      self.write_run_info()
    return int(seed)

  def write_run_info(self) -> None:
    """run.json, when training and what it records changed."""
    if self.is_chief and self.saved_info != self.run_info:
      files.write_json(os.path.join(self.path, RUN_INFO), self.run_info)
      self.saved_info = dict(self.run_info)

  def write_operative_config(self, step: int) -> str:
    """operative_config-<step>.gin: the gin values this run (from `step` on)
    used. On resume, each binding that differs from the previous segment's
    is logged."""
    path = os.path.join(self.path, f"operative_config-{step}.gin")
    if self.is_chief:
      text, previous = gin.operative_config_str(), operative_config_text(self.path, step)
      for change in gin_check.changed_bindings(previous or text, text):
        logger.info("Changed on resume at step %d: %s", step, change)
      files.write_text(path, text)
    return path

  def finish(self, step: int) -> None:
    """TRAIN_DONE (training reached its last step), and the summaries out."""
    path = os.path.join(self.path, TRAIN_DONE)
    text = f"step {step}\n"
    if self.is_chief and not _has_text(path, text):
      files.write_text(path, text)
    if self._writer is not None:
      self._writer.flush()

  def summary_writer(self) -> tf.summary.SummaryWriter:
    """The TensorBoard writer of the directory, made on first use."""
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self.path)
    return self._writer

  def write_scalars(self, step: int, values: dict[str, float]) -> None:
    """TensorBoard scalars (chief only)."""
    if not self.is_chief:
      return
    with self.summary_writer().as_default():
      for name, value in values.items():
        tf.summary.scalar(name, value, step=step)
