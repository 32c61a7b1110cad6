"""What a command prints: errors on one line, progress lines on stdout, and
TensorFlow imported without its load-time banner. No TensorFlow import here
(the command line uses this before TensorFlow loads)."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from typing import Any

# Errors a user fixes (config, data, paths, disk): one line, exit code 1.
USER_ERRORS = (ValueError, KeyError, OSError, FloatingPointError, MemoryError)

# None until quiet_tensorflow_logs runs: whether the user set the level.
_tf_log_level_from_user: bool | None = None


def quiet_tensorflow_logs() -> None:
  """Before TensorFlow loads: TF_CPP_MIN_LOG_LEVEL=3 drops TF's C++ log
  lines, which look like errors but are not (cuInit failing on a machine
  without a GPU, oneDNN notes, grappler's remapper skipping a fusion); a
  user's own setting wins."""
  global _tf_log_level_from_user
  if _tf_log_level_from_user is None:
    _tf_log_level_from_user = "TF_CPP_MIN_LOG_LEVEL" in os.environ
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# Lines TensorFlow's shared libraries print while they load, before any log
# level applies; harmless, and they look like errors.
_TF_LOAD_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\]"
    r"|To enable the following instructions:")


def import_tensorflow_quietly() -> None:
  """Imports TensorFlow with its load-time banner filtered out of stderr
  (other lines pass). Skipped when the user set TF_CPP_MIN_LOG_LEVEL."""
  quiet_tensorflow_logs()
  if "tensorflow" in sys.modules or _tf_log_level_from_user:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode(errors="replace").splitlines(keepends=True)
      sys.stderr.write("".join(l for l in lines if not _TF_LOAD_CHATTER.match(l)))
      sys.stderr.flush()


class _StdoutHandler(logging.StreamHandler):
  """Writes to whatever sys.stdout is at the time (pytest swaps it)."""

  def __init__(self):
    super().__init__(sys.stdout)

  @property
  def stream(self):
    return sys.stdout

  @stream.setter
  def stream(self, value):
    del value


def log_to_stdout() -> None:
  """compare_gan2's progress lines on stdout, without TF's own INFO chatter."""
  logger = logging.getLogger("compare_gan2")
  if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False


# --- Errors on one line -----------------------------------------------------------------

_GIN_LOCATION = re.compile(r'\n\s*In file "([^"]*)", line (\d+)\n\s*([^\n]*)')
_GIN_CALL = re.compile(r"\n\s*In call to configurable '([^']*)' \(<[^\n]*?>\)")
_TF_DECORATION = re.compile(r"\{\{function_node [^}]*\}\}|\[Op:[^\]]*\]( name: \S*)?")
_CHECKPOINT_FILE = re.compile(r"checkpoint|\.ckpt|TensorBundle|TensorSliceReader|sstable")


def one_line(text: str) -> str:
  """An error message on one line: gin's location and call notes become
  parentheses, TF's op decorations go, the other lines are joined."""
  text = _GIN_CALL.sub(lambda m: f" (in configurable '{m[1]}')", text)
  text = _GIN_LOCATION.sub(lambda m: f" (in {m[1]}, line {m[2]}: {m[3].strip()})", text)
  text = _TF_DECORATION.sub(" ", text)
  return re.sub(r"\s+", " ", text).strip()


def tensorflow_user_error(e: BaseException) -> bool:
  """A TF error a user fixes: an unreadable or missing file (checkpoints),
  no permission, a full disk. Other TF errors keep their traceback."""
  tf = sys.modules.get("tensorflow")
  if tf is None or not isinstance(e, tf.errors.OpError):
    return False
  if isinstance(e, (tf.errors.DataLossError, tf.errors.NotFoundError,
                    tf.errors.PermissionDeniedError)):
    return True
  return bool(_CHECKPOINT_FILE.search(e.message)) or "No space left" in e.message


def error_message(e: BaseException, output: tuple[str, str | None] | None = None) -> str:
  """`Type: message` on one line; a disk-full error that names no file
  names the command's output (`output` = (flag, path))."""
  tf = sys.modules.get("tensorflow")
  if tf is not None and isinstance(e, tf.errors.OpError):
    text = e.message
  elif isinstance(e, KeyError) and type(e).__str__ is KeyError.__str__ and e.args:
    text = str(e.args[0])  # KeyError's str() is the repr of its argument
  else:
    text = str(e)
  text = one_line(text) or repr(e)
  disk_full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
               or "No space left" in text)
  if disk_full and output and output[1] and output[1] not in text:
    text += f" (while writing {output[0]} '{output[1]}')"
  return f"{type(e).__name__}: {text}"


# A Ctrl-C before training starts raises KeyboardInterrupt wherever Python
# is; where that is a finalizer or a callback, Python prints "Exception
# ignored" and goes on, and a heavily loaded start-up then trained on. The
# command line's handler also remembers the signal, so that the start of
# training (`raise_if_interrupted`) stops what the lost exception did not.
_pending_signal: list[int] = []


def _remember_interrupt(signum: int, frame: Any) -> None:
  del frame
  _pending_signal.append(signum)
  raise KeyboardInterrupt


def catch_interrupts() -> None:
  """SIGINT raises KeyboardInterrupt, as Python's default does, and is
  remembered for `raise_if_interrupted` (main thread only)."""
  if threading.current_thread() is threading.main_thread():
    _pending_signal.clear()
    signal.signal(signal.SIGINT, _remember_interrupt)


def raise_if_interrupted() -> None:
  """Raises KeyboardInterrupt if a SIGINT came since `catch_interrupts`
  (one whose exception may have been swallowed on the way)."""
  if _pending_signal:
    raise KeyboardInterrupt
