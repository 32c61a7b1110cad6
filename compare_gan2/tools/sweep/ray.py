"""The Ray backend of `compare_gan2 sweep` (`--backend ray`, see
docs/sweeps_ray.md): each unfinished trial is a Ray task with a resource
request, which runs the local backend's code (run.run_trial: the same
`python -m compare_gan2 ...` command into the same run directory, restarted
from its checkpoint when killed by a signal). Ray itself retries a task whose
worker died (`max_retries`); a trial that still fails is reported and the
sweep goes on. The driver aggregates as the local backend does.

Ray is imported here only: `compare_gan2 --help` and the local backend do not
need it.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

from compare_gan2.core import console
from compare_gan2.tools.sweep.run import Progress, run_trial
from compare_gan2.tools.sweep.spec import OutputNotWritable, Trial, check_writable

logger = logging.getLogger("compare_gan2")


def _import_ray(local: bool) -> Any:
  if local:
    # Before Ray's import: a cluster of this machine only, on the loopback
    # address, which reports nothing anywhere.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise RuntimeError("--backend ray needs Ray: pip install 'compare_gan2[ray]' "
                       f"(or pip install ray); importing it failed: {e}") from None
  return ray


class _Tracker:
  """A Ray actor the tasks tell when they start (Ray reports only ends)."""

  def __init__(self):
    self._started: list[str] = []

  def start(self, key: str) -> None:
    self._started.append(key)

  def started(self) -> list[str]:
    return self._started


def _trial_task(trial: Trial, tracker: Any, env: dict[str, str],
                max_retries: int) -> tuple[str | None, float]:
  """The body of a trial's Ray task, on a worker."""
  check_writable(trial.sweep_dir)  # fails fast, with the worker's name
  tracker.start.remote(trial.model_dir)
  return run_trial(trial, env, max_retries)


def _started(ray: Any, tracker: Any, known: set[str]) -> set[str]:
  """The trials whose tasks have started: `known` and what the tracker
  adds. A tracker that died (Ray's memory monitor may kill any worker)
  adds nothing; the sweep goes on without it."""
  try:
    return known | set(ray.get(tracker.started.remote()))
  except ray.exceptions.RayError:
    return known


def _reason(e: BaseException) -> str:
  cause = getattr(e, "cause", None) or e
  last = str(cause).splitlines()[-1] if str(cause) else ""
  return f"{type(cause).__name__}: {console.one_line(last)}"


def _init(ray: Any, address: str | None, num_cpus: int | None) -> bool:
  """Connects to the cluster at `address` (None: starts a local instance
  with `num_cpus`) unless Ray is up already; returns whether it started it."""
  if ray.is_initialized():
    return False
  if address is None:
    ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False)
  else:
    ray.init(address=address)
  return True


def run(trials: Sequence[Trial], *, address: str | None = None,
        num_cpus: int | None = None, num_cpus_per_trial: float = 1,
        num_gpus_per_trial: float = 0, resources: dict[str, float] | None = None,
        max_retries: int = 2, poll_seconds: float = 1.0) -> list[str]:
  """Runs the unfinished `trials` as Ray tasks on the cluster at `address`
  (None: a Ray instance started here with `num_cpus`, on 127.0.0.1 only),
  each requesting `num_cpus_per_trial` CPUs, `num_gpus_per_trial` GPUs and
  the custom `resources`. Returns the error messages of failed trials.
  Raises OutputNotWritable when a worker cannot write the sweep
  directory (the other tasks are cancelled)."""
  queue = [t for t in trials if not t.done]
  if not queue:
    Progress(trials, 0, "nothing to run")
    return []
  ray = _import_ray(local=address is None)
  started_here = _init(ray, address, num_cpus)
  pending: dict[Any, Trial] = {}
  try:
    tracker = ray.remote(num_cpus=0)(_Tracker).remote()
    task = ray.remote(_trial_task).options(
        num_cpus=num_cpus_per_trial, num_gpus=num_gpus_per_trial,
        resources=resources or {}, max_retries=max_retries, retry_exceptions=False)
    threads = str(max(1, int(num_cpus_per_trial)))
    env = {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads}
    pending = {task.remote(t, tracker, env, max_retries): t for t in queue}
    cpus = ray.cluster_resources().get("CPU", 0)
    progress = Progress(trials, len(queue), (
        f"Ray tasks of {num_cpus_per_trial:g} CPU, {num_gpus_per_trial:g} GPU"
        f"{' ' + str(resources) if resources else ''} on a cluster of {cpus:g} CPUs"))
    errors: list[str] = []
    announced: set[str] = set()
    started: set[str] = set()
    while pending:
      ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=poll_seconds)
      started = _started(ray, tracker, started)
      running = {t.model_dir for t in pending.values()} & started
      for trial in pending.values():
        if trial.model_dir in running - announced:
          announced.add(trial.model_dir)
          progress.update(trial, len(running), "started")
      for ref in ready:
        trial = pending.pop(ref)
        seconds = 0.0
        try:
          error, seconds = ray.get(ref)
        except ray.exceptions.RayTaskError as e:
          if isinstance(e.cause, OutputNotWritable):
            raise OutputNotWritable(str(e.cause)) from None
          error = f"Trial {trial.name} failed: {_reason(e)}"
        except ray.exceptions.RayError as e:  # its worker died max_retries + 1 times
          error = f"Trial {trial.name} failed: {_reason(e)}"
        if error:
          errors.append(error)
        running.discard(trial.model_dir)
        progress.update(trial, len({t.model_dir for t in pending.values()} & running),
                        f"done in {seconds:.0f} s", error)
    return errors
  finally:
    for ref in pending:  # interrupted or failed: stop the rest, resume later
      ray.cancel(ref, force=True)
    if started_here:
      ray.shutdown()
