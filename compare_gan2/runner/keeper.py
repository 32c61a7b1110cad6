"""The checkpoints of a run as training and reading use them: restore the
newest one that restores whole (damaged newer ones reported, and renamed
when training), the configured learning rates applied after a restore,
saves that fail with a message naming what to resume from, and the tidying
of what a crash leaves (`checkpoints.py` reads the files themselves)."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable

import tensorflow as tf

from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner.errors import (CheckpointSaveError,
                                        IncompatibleCheckpointError, first_line)
from compare_gan2.runner.run_dir import RESTART_PREFIX

logger = logging.getLogger("compare_gan2")

CHECKPOINT_PREFIX = ckpt_lib.CHECKPOINT_PREFIX


class CheckpointKeeper:
  """Restores and saves the checkpoints of one run.

  Args:
    model_dir: str. The run directory.
    gan: the GAN, whose `checkpoint_items()` are saved and restored.
    keep: int. Newest checkpoints kept (`run_config.keep_checkpoint_max`).
    describe: str. The model in errors ("dcgan_arch, 32 px").
    may_write: callable () -> bool: whether this process may mend the
      directory (the chief of a writable run).
    save_dir: str. Where saves go: model_dir, or a worker's scratch
      directory (the save is collective; workers other than the chief save
      there and remove it).
    on_restore: called before each restore (the restored weights need new
      standing statistics).
  """

  def __init__(self, model_dir: str, gan: Any, *, keep: int, describe: str,
               may_write: Callable[[], bool], save_dir: str | None = None,
               on_restore: Callable[[], None] = lambda: None):
    self.model_dir, self.gan, self.keep = model_dir, gan, keep
    self.save_dir = save_dir or model_dir
    self._describe, self._may_write, self._on_restore = describe, may_write, on_restore
    self.checkpoint = tf.train.Checkpoint(**gan.checkpoint_items())
    # The learning rates of this config; a restore must not bring back the
    # checkpoint's (Keras keeps the rate in an optimizer variable).
    self._configured_rates = [
        (name, v, v.numpy()) for name, opt in (("g", gan.g_optimizer),
                                               ("d", gan.d_optimizer))
        for v in opt.variables if v.path.rsplit("/", 1)[-1] == "learning_rate"]
    self._manager = None

  @property
  def step(self) -> int:
    return int(self.gan.global_step.numpy())

  @property
  def manager(self) -> tf.train.CheckpointManager:
    """The CheckpointManager of training, made on first use (it reads the
    `checkpoint` state file, which reading a run need not trust)."""
    if self._manager is None:
      self._manager = tf.train.CheckpointManager(
          self.checkpoint, self.save_dir, checkpoint_name=CHECKPOINT_PREFIX,
          max_to_keep=self.keep)
    return self._manager

  def _write_state(self, paths: list[str]) -> None:
    """Rewrites the `checkpoint` state file; the manager rereads it."""
    ckpt_lib.write_state(self.model_dir, paths)
    self._manager = None

  def tidy(self) -> None:
    """What a crash leaves, mended before training (the chief, under the
    lock): folders of interrupted saves, an empty or damaged state file."""
    removed = ckpt_lib.remove_temp_folders(self.model_dir)
    if removed:
      logger.warning("Removed %s, left by an interrupted checkpoint save.",
                     ", ".join(os.path.basename(p) + "/" for p in removed))
    problem = ckpt_lib.state_problem(self.model_dir)
    if problem:
      found = [p for p in ckpt_lib.list_checkpoints(self.model_dir)
               if ckpt_lib.checkpoint_files(p)]
      self._write_state(found)
      logger.warning("The `checkpoint` state file was %s (a crash or a full disk?); "
                     "rebuilt it from the %d checkpoint(s) on disk.", problem, len(found))

  def restore(self) -> int:
    """Restores the newest checkpoint that restores whole; returns the step.

    Damaged newer checkpoints are reported in one line; when training (a
    writable run dir, the chief) they are renamed model.ckpt-<N>.corrupt.*
    and the `checkpoint` state file is rewritten to list the good ones, so
    the rotation never counts them. With checkpoint files present but none
    restorable this raises `CorruptCheckpointError`."""
    candidates = ckpt_lib.list_checkpoints(self.model_dir)
    skipped: list[tuple[str, str]] = []
    for path in candidates:
      if not os.path.exists(path + ".index"):  # (TF would log an error line)
        skipped.append((path, ckpt_lib.checkpoint_problem(path)))
        continue
      try:
        self.restore_from(path, log_rates=True)
      except ckpt_lib.CorruptCheckpointError as e:
        skipped.append((path, e.reason))
        continue
      self._after_fallback(path, skipped, candidates)
      if not skipped:
        logger.info("Resumed from %s (step %d).", path, self.step)
      return self.step
    if skipped and any(ckpt_lib.checkpoint_files(p) for p, _ in skipped):
      raise ckpt_lib.CorruptCheckpointError(
          f"No checkpoint in {self.model_dir} restores: "
          f"{ckpt_lib.describe(skipped)}. Replace them with good copies, or pass "
          "--restart (Runner(restart=True)) to train from step 0 (the earlier "
          f"files move to {RESTART_PREFIX}<time>/).")
    if skipped:  # listed in the state file only: nothing left to lose
      logger.warning("The `checkpoint` file lists %s, whose files are all gone; "
                     "training from step 0.", ckpt_lib.describe(skipped))
      if self._may_write():
        self._write_state([])
    return 0

  def _after_fallback(self, path: str, skipped: list[tuple[str, str]],
                      candidates: list[str]) -> None:
    if not skipped:
      return
    moved = ""
    if self._may_write():
      renamed = [ckpt_lib.move_aside(p) for p, _ in skipped]
      self._write_state([p for p in candidates if p not in dict(skipped)])
      if any(renamed):
        moved = f"; renamed their files to {CHECKPOINT_PREFIX}-<N>.{ckpt_lib.CORRUPT_TAG}.*"
    logger.warning("Skipped %s; resumed from %s (step %d)%s.",
                   ckpt_lib.describe(skipped), os.path.basename(path),
                   self.step, moved)

  def _apply_configured_rates(self, log: bool = False) -> None:
    """Sets the optimizers' learning rates back to this config's after a
    restore (the moments and iteration counts stay restored; Adam's betas
    and epsilon are not checkpointed, so they are the config's anyway)."""
    for name, variable, value in self._configured_rates:
      restored = variable.numpy()
      if restored != value:
        variable.assign(value)
        if log:
          logger.info("%s learning rate: %g in the checkpoint, %g in the config; "
                      "using %g.", name.upper(), restored, value, value)

  def restore_from(self, path: str, log_rates: bool = False) -> None:
    """Restores checkpoint `path`; raises `CorruptCheckpointError` (with a
    `reason`) if its files are missing or damaged, and
    `IncompatibleCheckpointError` if it belongs to another model."""
    self._on_restore()
    try:
      self.checkpoint.restore(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, IndexError, OSError, tf.errors.OpError) as e:
      problem = ckpt_lib.checkpoint_problem(path)
      if problem is not None:
        raise ckpt_lib.CorruptCheckpointError(
            f"Checkpoint {path}: {problem}", path=path, reason=problem) from e
      raise IncompatibleCheckpointError(
          f"Checkpoint {path} does not match this model ({self._describe}): "
          f"{str(e).splitlines()[0][:300]}. Use a new --model_dir, or the gin "
          "config of that run.") from e
    self._apply_configured_rates(log=log_rates)

  def save(self, write_samples: Callable[[], Any] = lambda: None) -> str:
    """Checkpoint at the current step, then `write_samples()` (the sample
    grid); a failed write (a full disk) raises `CheckpointSaveError` naming
    what to resume from (a half-written checkpoint is left in a _temp
    folder, removed on start)."""
    good = self.manager.latest_checkpoint
    try:
      path = self.manager.save(checkpoint_number=self.step)
    except (OSError, tf.errors.OpError) as e:
      raise CheckpointSaveError(
          f"Saving the checkpoint of step {self.step} in {self.save_dir} failed "
          f"({first_line(e)}). Free space (or fix the "
          f"directory) and rerun to resume from {good or 'step 0'}.") from e
    try:
      write_samples()
    except (OSError, tf.errors.OpError) as e:
      raise CheckpointSaveError(
          f"Writing the sample grid of step {self.step} failed ({e}); the "
          f"checkpoint {path} was saved. Free space and rerun to resume.") from e
    if self.save_dir != self.model_dir:  # a worker's scratch copy
      shutil.rmtree(self.save_dir, ignore_errors=True)
    return path
