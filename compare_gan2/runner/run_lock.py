"""One trainer per run directory: an advisory lock file, `<model_dir>/.lock`.

Two trainers on one directory (the same command in two terminals, a retried
job) would interleave two trajectories in one checkpoint series. Training
takes the lock first; a second process gets `RunLockedError`, one line that
names the holder (host, pid, start time, command). The lock is an `flock` on
the open file, so the kernel drops it when its process dies: the file a
killed trainer leaves behind blocks nothing, and the resume just takes it.
Readers (evaluation, export, sampling) never lock. Within one process the
lock is shared (several Runners on one directory, as tests and notebooks
build them), and released when its last holder releases it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from typing import Any

LOCK_FILE = ".lock"

# realpath -> [RunLock, holders]: the locks this process holds.
_HELD: dict[str, list[Any]] = {}
_GUARD = threading.Lock()


class RunLockedError(ValueError):
  """Another process is training in the run directory."""


def holder(model_dir: str) -> dict[str, Any] | None:
  """What the lock file says about its holder (host, pid, since, command),
  or None without one. It says who took the lock last; whether that process
  still holds it only `RunLock.acquire` can tell."""
  try:
    with open(os.path.join(model_dir, LOCK_FILE)) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _describe(info: dict[str, Any] | None) -> str:
  if not info:
    return "another process"
  since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
  command = info.get("command", "")
  return (f"pid {info.get('pid')} on {info.get('host')} since {since}"
          + (f" ({command[:200]})" if command else ""))


def _command() -> str:
  """This process's command line as typed (`python -m compare_gan2` shows
  as `compare_gan2`)."""
  program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
  if program == "__main__.py":
    program = os.path.basename(os.path.dirname(sys.argv[0]))
  return " ".join([program, *sys.argv[1:]])


class RunLock:
  """The lock of one run directory, held by this process."""

  def __init__(self, path: str, fd: int):
    self.path, self._fd = path, fd

  @classmethod
  def acquire(cls, model_dir: str) -> "RunLock":
    """Takes the lock of `model_dir` (which must exist) or raises
    `RunLockedError`; re-entrant within a process."""
    key = os.path.realpath(model_dir)
    with _GUARD:
      if key in _HELD:
        _HELD[key][1] += 1
        return _HELD[key][0]
      path = os.path.join(model_dir, LOCK_FILE)
      while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
          fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
          os.close(fd)
          if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise
          raise RunLockedError(
              f"{model_dir} is being trained by {_describe(holder(model_dir))}: "
              "one trainer per run directory. Wait for it to finish or stop it, "
              "or train into another --model_dir.") from None
        try:  # the holder before us may have removed the file we opened
          same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
          same = False
        if same:
          break
        os.close(fd)
      info = {"host": socket.gethostname(), "pid": os.getpid(),
              "since": round(time.time(), 3), "command": _command()}
      os.ftruncate(fd, 0)
      os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
      lock = cls(path, fd)
      _HELD[key] = [lock, 1]
      return lock

  def release(self) -> None:
    """Lets the lock go once its last holder in this process releases it;
    the file is removed first, so that no one waits on a stale inode."""
    with _GUARD:
      key = os.path.realpath(os.path.dirname(self.path))
      entry = _HELD.get(key)
      if entry is None or entry[0] is not self:
        return
      entry[1] -= 1
      if entry[1]:
        return
      del _HELD[key]
      try:
        os.remove(self.path)
      except OSError:
        pass  # a read-only or vanished directory: the flock still goes
      os.close(self._fd)

  def __enter__(self) -> "RunLock":
    return self

  def __exit__(self, *exc: Any) -> None:
    self.release()
