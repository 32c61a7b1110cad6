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

import dataclasses
import glob
import json
import os
import re
import shutil
import time

import tensorflow as tf

from compare_gan2.core import files

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


@dataclasses.dataclass
class State:
  """The `checkpoint` state file: the newest checkpoint, those kept (oldest
  first) and their save times, as tf.train.CheckpointManager writes them."""
  latest: str
  paths: list[str]
  timestamps: list[float]
  last_preserved_timestamp: float | None = None


# One `key: "text"` or `key: number` line of the file (protobuf text format).
_STATE_LINE = re.compile(r'^\s*(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|[-+0-9.eEinfa]+)\s*$')


def read_state(model_dir: str) -> State | None:
  """The state file of `model_dir`, or None if it is missing, empty or
  damaged (then the checkpoints' own files are what counts). Read here,
  not by TensorFlow, which fails on an empty file and logs on a damaged one."""
  try:
    with open(os.path.join(model_dir, STATE_FILE), encoding="utf-8") as f:
      text = f.read()
  except (OSError, ValueError):
    return None
  fields: dict[str, list] = {}
  for line in text.splitlines():
    if not line.strip():
      continue
    match = _STATE_LINE.match(line)
    if not match:
      return None
    key, value = match.groups()
    try:
      fields.setdefault(key, []).append(
          json.loads(value) if value.startswith('"') else float(value))
    except ValueError:
      return None
  latest = fields.get("model_checkpoint_path", [""])[-1]
  if not isinstance(latest, str) or not latest:
    return None
  preserved = fields.get("last_preserved_timestamp", [None])[-1]
  return State(latest, [p for p in fields.get("all_model_checkpoint_paths", [])
                        if isinstance(p, str)],
               [t for t in fields.get("all_model_checkpoint_timestamps", [])
                if isinstance(t, float)], preserved)


def state_problem(model_dir: str) -> str | None:
  """"empty" or "damaged" when the state file is there but lists nothing
  readable (a crash or a full disk leaves a 0-byte one); None otherwise."""
  path = os.path.join(model_dir, STATE_FILE)
  if not os.path.exists(path) or read_state(model_dir) is not None:
    return None
  with open(path, "rb") as f:
    return "empty" if not f.read().strip(b" \t\r\n\x00") else "damaged"


def list_checkpoints(model_dir: str) -> list[str]:
  """Checkpoint prefixes of `model_dir`, newest first: those the `checkpoint`
  state file lists (even if their files are gone) and those on disk."""
  prefixes = {}
  state = read_state(model_dir)
  if state is not None:
    for path in [*state.paths, state.latest]:
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
  state = read_state(model_dir)
  if state is None:
    return None
  return os.path.join(model_dir, os.path.basename(state.latest))


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


def _saved_at(model_dir: str, name: str) -> float:
  try:
    return os.path.getmtime(os.path.join(model_dir, name + ".index"))
  except OSError:
    return time.time()


def write_state(model_dir: str, prefixes: list[str]) -> None:
  """Rewrites the `checkpoint` state file (atomically) to list `prefixes`,
  oldest first, with their recorded save times (else their files'), which
  the CheckpointManager's rotation needs; no prefixes removes it."""
  old = read_state(model_dir)
  stamps = {} if old is None else dict(zip(
      (os.path.basename(p) for p in old.paths), old.timestamps))
  names = [os.path.basename(p) for p in sorted(prefixes, key=checkpoint_step)]
  path = os.path.join(model_dir, STATE_FILE)
  if not names:
    if os.path.exists(path):
      os.remove(path)
    return
  lines = [f"model_checkpoint_path: {json.dumps(names[-1])}"]
  lines += [f"all_model_checkpoint_paths: {json.dumps(n)}" for n in names]
  # The manager keeps only what has a time: one not recorded is its file's.
  lines += [f"all_model_checkpoint_timestamps: {stamps.get(n) or _saved_at(model_dir, n)!r}"
            for n in names]
  if old is not None and old.last_preserved_timestamp is not None:
    lines.append(f"last_preserved_timestamp: {old.last_preserved_timestamp!r}")
  files.write_text(path, "\n".join(lines) + "\n")


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
