"""The checkpoints of a run directory, read defensively.

A run must never lose progress to one bad file: a checkpoint whose files are
missing, truncated or fail their checksum is found here by reading it whole
(`checkpoint_problem`), so that training resumes from the newest checkpoint
that restores, evaluation skips the bad one and export falls back to the
newest good one. Unreadable checkpoints that training skipped are renamed
`model.ckpt-<N>.corrupt.*` (kept, never counted by the rotation) and the
`checkpoint` state file is rewritten to list the good ones.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

import tensorflow as tf
# What tf.train.CheckpointManager uses to write the state file (public: only
# a deprecated wrapper).
from tensorflow.python.checkpoint import checkpoint_management

CHECKPOINT_PREFIX = "model.ckpt"
STATE_FILE = "checkpoint"
CORRUPT_TAG = "corrupt"
# A checkpoint's own files: <prefix>-<N>.index and <prefix>-<N>.data-K-of-M.
_FILE = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}-(\d+)\.(index|data-\d+-of-\d+)$")
# What an interrupted tf.train.Checkpoint save leaves: <prefix>-<N>_temp/.
_TEMP = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}-\d+_temp$")


class CorruptCheckpointError(ValueError):
  """A checkpoint's files are missing, truncated or damaged.

  Attributes: path (the checkpoint prefix) and reason (`checkpoint_problem`),
  None when the error is about several checkpoints."""

  def __init__(self, message: str, path: str | None = None,
               reason: str | None = None):
    super().__init__(message)
    self.path, self.reason = path, reason


def checkpoint_step(path: str) -> int:
  """The step of a checkpoint prefix ".../model.ckpt-<N>"."""
  match = re.search(r"-(\d+)$", path)
  if not match:
    raise ValueError(f"Not a checkpoint path with a step: {path}")
  return int(match.group(1))


def _state(model_dir: str) -> tf.train.CheckpointState | None:
  try:
    return tf.train.get_checkpoint_state(model_dir)
  except (tf.errors.OpError, ValueError):  # a damaged state file lists nothing
    return None


def list_checkpoints(model_dir: str) -> list[str]:
  """Checkpoint prefixes of `model_dir`, newest first: those the `checkpoint`
  state file lists (even if their files are gone) and those on disk."""
  prefixes = {}
  state = _state(model_dir)
  if state is not None:
    for path in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]:
      if path:
        path = path if os.path.isabs(path) else os.path.join(model_dir, path)
        if os.path.dirname(os.path.abspath(path)) == os.path.abspath(model_dir):
          try:
            prefixes[checkpoint_step(path)] = os.path.join(
                model_dir, os.path.basename(path))
          except ValueError:
            pass
  for name in os.listdir(model_dir) if os.path.isdir(model_dir) else ():
    match = _FILE.match(name)
    if match:
      prefixes[int(match.group(1))] = os.path.join(
          model_dir, f"{CHECKPOINT_PREFIX}-{match.group(1)}")
  return [prefixes[s] for s in sorted(prefixes, reverse=True)]


def latest_listed(model_dir: str) -> str | None:
  """The newest checkpoint the `checkpoint` state file names (written after
  the checkpoint's files, so a save in progress is not seen), whether or not
  its files are still there; unlike tf.train.latest_checkpoint it logs
  nothing."""
  state = _state(model_dir)
  if state is None or not state.model_checkpoint_path:
    return None
  return os.path.join(model_dir, os.path.basename(state.model_checkpoint_path))


def checkpoint_files(prefix: str) -> list[str]:
  """The files of checkpoint `prefix` that exist (index and data shards)."""
  directory, name = os.path.split(prefix)
  return sorted(p for p in glob.glob(glob.escape(prefix) + ".*")
                if _FILE.match(os.path.basename(p)) and
                os.path.basename(p).startswith(name + "."))


def checkpoint_problem(prefix: str) -> str | None:
  """Why checkpoint `prefix` cannot be restored, or None if it reads whole.

  Reads every tensor (so truncation and checksum errors show), independently
  of any model: a checkpoint that reads whole but does not restore is of
  another model, not damaged."""
  if not os.path.exists(prefix + ".index"):
    if checkpoint_files(prefix):
      return "its .index file is missing, an interrupted save?"
    return "its files are missing"
  try:
    reader = tf.train.load_checkpoint(prefix)
    for key in reader.get_variable_to_shape_map():
      reader.get_tensor(key)
  except IndexError:
    return "truncated: a file is shorter than its index says"
  except (tf.errors.OpError, OSError, ValueError) as e:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if "No such file" in text or isinstance(e, tf.errors.NotFoundError):
      return "a data file is missing"
    if "Checksum does not match" in text:
      return "damaged: checksum mismatch"
    text = text.replace(prefix, os.path.basename(prefix))
    return f"unreadable: {text[:160]}"
  return None


def move_aside(prefix: str) -> list[str]:
  """Renames the files of a damaged checkpoint to <prefix>.corrupt.<ext>,
  out of reach of restores and of the rotation; returns the new paths."""
  moved = []
  for path in checkpoint_files(prefix):
    ext = path[len(prefix) + 1:]
    target = f"{prefix}.{CORRUPT_TAG}.{ext}"
    os.replace(path, target)
    moved.append(target)
  return moved


def write_state(model_dir: str, prefixes: list[str]) -> None:
  """Rewrites the `checkpoint` state file to list `prefixes` (oldest first
  after sorting by step), keeping their recorded timestamps."""
  old = _state(model_dir)
  stamps = {}
  if old is not None:
    stamps = dict(zip((os.path.basename(p) for p in old.all_model_checkpoint_paths),
                      old.all_model_checkpoint_timestamps))
  names = [os.path.basename(p) for p in sorted(prefixes, key=checkpoint_step)]
  if not names:
    path = os.path.join(model_dir, STATE_FILE)
    if os.path.exists(path):
      os.remove(path)
    return
  times = [stamps.get(n) for n in names]
  # Not tf.compat.v1.train.update_checkpoint_state: it logs a deprecation
  # warning on every recovery.
  checkpoint_management.update_checkpoint_state_internal(
      model_dir, names[-1], names,
      all_model_checkpoint_timestamps=times if None not in times else None,
      last_preserved_timestamp=None if old is None else old.last_preserved_timestamp)


def temp_folders(model_dir: str) -> list[str]:
  """Folders `model.ckpt-<N>_temp` that an interrupted save left behind."""
  if not os.path.isdir(model_dir):
    return []
  return sorted(os.path.join(model_dir, n) for n in os.listdir(model_dir)
                if _TEMP.match(n) and os.path.isdir(os.path.join(model_dir, n)))


def remove_temp_folders(model_dir: str) -> list[str]:
  """Removes the folders of `temp_folders`; returns them."""
  found = temp_folders(model_dir)
  for path in found:
    shutil.rmtree(path, ignore_errors=True)
  return found


def describe(skipped: list[tuple[str, str]]) -> str:
  """"model.ckpt-8 (truncated), model.ckpt-6 (its files are missing)"."""
  return ", ".join(f"{os.path.basename(p)} ({why})" for p, why in skipped)
