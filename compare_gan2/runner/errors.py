"""What a run raises when it cannot go on, each with a one-line message
that says what to do (the command line prints it without a traceback)."""

from __future__ import annotations

import re


class NaNLossError(FloatingPointError):
  """A loss became NaN or infinite; training stopped without saving."""


class IncompatibleCheckpointError(ValueError):
  """model_dir holds checkpoints of a different model."""


class ReadOnlyRunError(ValueError):
  """The run directory cannot be written and the command needs to write it."""


class CheckpointSaveError(ValueError):
  """Saving a checkpoint (or its sample grid) failed, e.g. the disk is full;
  the message names the newest good checkpoint to resume from."""


class XlaCompileError(ValueError):
  """XLA could not compile a step (an op without an XLA kernel, or a shape
  known only at run time); the message names the op.

  Attributes: ops, the op types named by XLA's error."""

  def __init__(self, message: str, ops: list[str]):
    super().__init__(message)
    self.ops = ops


class TrainingInterrupted(KeyboardInterrupt):
  """SIGINT/SIGTERM stopped training at a step boundary after a checkpoint.

  Attributes: signum (the signal), step, path (the checkpoint saved)."""

  def __init__(self, message: str, signum: int, step: int, path: str):
    super().__init__(message)
    self.signum, self.step, self.path = signum, step, path


def first_line(error: BaseException) -> str:
  """An error's first line without TF's "{{function_node ...}}" prefix."""
  text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
  return re.sub(r"\{\{[^}]*\}\}\s*", "", text)[:200]
