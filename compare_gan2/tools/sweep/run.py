"""The local backend of a sweep: each trial a child process
(`python -m compare_gan2 ...`), `parallel` at a time, restarted from its
checkpoint when killed by a signal; finished trials are marked done."""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

from compare_gan2.core import files
from compare_gan2.tools.sweep.report import write_hparams
from compare_gan2.tools.sweep.spec import (DONE, Trial, exists, is_remote, makedirs,
                                     read_text, safe_name, write_json, write_text)

logger = logging.getLogger("compare_gan2")


def _exit_with_parent() -> None:
  """In the child: die with the sweep, so a killed sweep leaves no orphan
  writing into a trial directory that the next sweep resumes."""
  if _PRCTL is not None:
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Looked up once here: between fork and exec the child only calls it.
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _local_log(trial: Trial) -> str:
  """The file the trial's output goes to: <model_dir>/sweep.log, or for a
  remote sweep a local copy uploaded after each attempt (_save_log)."""
  if not is_remote(trial.model_dir):
    return os.path.join(trial.model_dir, "sweep.log")
  path = os.path.join(tempfile.gettempdir(), "compare_gan2_sweep",
                      safe_name(trial.model_dir) + ".log")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  remote = os.path.join(trial.model_dir, "sweep.log")
  files.write_text(path, read_text(remote) if exists(remote) else "")
  return path


def _save_log(trial: Trial, log: Any) -> None:
  log.close()
  if is_remote(trial.model_dir):
    with open(log.name) as f:
      write_text(os.path.join(trial.model_dir, "sweep.log"), f.read())


def _start(trial: Trial, env: dict[str, str]) -> tuple[subprocess.Popen, Any]:
  """Starts (or resumes) `trial`; its output goes to <model_dir>/sweep.log."""
  makedirs(trial.model_dir)
  log = open(_local_log(trial), "a")  # pylint: disable=consider-using-with
  log.write(f"$ {shlex.join(trial.command())}\n")
  log.flush()
  # preexec_fn runs between fork and exec: it only calls the preloaded prctl
  # (no import, no lock), so other threads (a Ray worker's) cannot block it.
  process = subprocess.Popen(trial.command(), stdout=log, stderr=subprocess.STDOUT,
                             cwd=trial.workdir, env={**os.environ, **env},
                             preexec_fn=_exit_with_parent)
  return process, log


def _settle(trial: Trial, returncode: int, seconds: float, attempt: int,
            max_retries: int) -> str | None:
  """After an attempt at `trial` exited: None when the trial finished (marked
  done, hparams written), "" when it should be restarted (killed by a
  signal, retries left), else why it failed."""
  log = os.path.join(trial.model_dir, "sweep.log")
  # Killed (the OOM killer, a preempted machine), or stopped by SIGTERM after
  # saving a checkpoint (compare_gan2 then exits 128 + SIGTERM).
  signum = -returncode if returncode < 0 else (
      signal.SIGTERM if returncode == 128 + signal.SIGTERM else 0)
  if signum:
    try:
      name = signal.Signals(signum).name
    except ValueError:
      name = f"signal {signum}"
    if attempt < max_retries:
      logger.warning("%s: killed by %s; restarting from its checkpoint (retry "
                     "%d of %d).", trial.name, name, attempt + 1, max_retries)
      return ""
    return (f"Trial {trial.name} failed: killed by {name} {attempt + 1} time(s); "
            f"see {log}.")
  if returncode:
    return f"Trial {trial.name} failed (exit {returncode}); see {log}."
  write_json(os.path.join(trial.model_dir, DONE),
             {"seconds": round(seconds, 1), "command": trial.command()})
  write_hparams(trial)
  return None


def run_trial(trial: Trial, env: dict[str, str], max_retries: int = 2
              ) -> tuple[str | None, float]:
  """Runs (or resumes) `trial` to the end here, restarting it after a kill:
  (None or why it failed, seconds). The Ray backend's task body."""
  began, attempt = time.time(), 0
  while True:
    process, log = _start(trial, env)
    try:
      process.wait()
    finally:
      if process.returncode is None:
        process.terminate()
      _save_log(trial, log)
    error = _settle(trial, process.returncode, time.time() - began, attempt, max_retries)
    if error != "":
      return error, time.time() - began
    attempt += 1


class Progress:
  """One log line per change: trials done / running / failed, and an ETA
  from the mean time per finished trial."""

  def __init__(self, trials: Sequence[Trial], to_run: int, slots: str):
    self.total, self.start = to_run, time.time()
    self.done = self.failed = 0
    logger.info("Sweep: %d trials, %d finished, %d to run, %s.", len(trials),
                len(trials) - to_run, to_run, slots)

  def update(self, trial: Trial, running: int, event: str,
             error: str | None = None) -> None:
    """`trial` started (event "started"), finished or failed; `running` now."""
    if event != "started":
      self.done += error is None
      self.failed += error is not None
    finished = self.done + self.failed
    eta = (f", ETA {(time.time() - self.start) / finished * (self.total - finished) / 60:.0f}"
           " min" if finished else "")
    logger.info("[%d/%d done, %d running, %d failed%s] %s: %s", self.done, self.total,
                running, self.failed, eta, trial.name, error or event)


def run(trials: Sequence[Trial], parallel: int = 1, poll_seconds: float = 1.0,
        max_retries: int = 2) -> list[str]:
  """Runs the unfinished trials here, `parallel` at a time, with progress
  lines; a trial killed by a signal restarts up to `max_retries` times.
  Returns the error messages of failed trials (the others still run)."""
  queue = [(t, 0) for t in trials if not t.done]
  progress = Progress(trials, len(queue), f"{parallel} at a time")
  # Each child uses its share of the cores.
  threads = str(max(1, (os.cpu_count() or 1) // parallel))
  env = {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads}
  errors: list[str] = []
  running: dict[subprocess.Popen, tuple[Trial, int, float, Any]] = {}
  try:
    while queue or running:
      while queue and len(running) < parallel:
        trial, attempt = queue.pop(0)
        process, log = _start(trial, env)
        running[process] = (trial, attempt, time.time(), log)
        if not attempt:
          progress.update(trial, len(running), "started")
      time.sleep(poll_seconds)
      for process in [p for p in running if p.poll() is not None]:
        trial, attempt, began, log = running.pop(process)
        _save_log(trial, log)
        seconds = time.time() - began
        error = _settle(trial, process.returncode, seconds, attempt, max_retries)
        if error == "":
          queue.insert(0, (trial, attempt + 1))
          continue
        if error:
          errors.append(error)
        progress.update(trial, len(running), f"done in {seconds:.0f} s", error)
  finally:
    for process in running:  # interrupted: stop the children, resume later
      process.terminate()
  return errors
