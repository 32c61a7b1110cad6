"""Run a sweep spec on a backend: "local" (child processes, `run.run`) or
"ray" (one Ray task per trial, `ray.run`). It sits above both backends,
so that neither imports the other's caller."""

from __future__ import annotations

import json
import logging
import os
import shlex
import types
from typing import Any

from compare_gan2.core.checks import is_number
from compare_gan2.tools.sweep import ray as sweep_ray
from compare_gan2.tools.sweep.report import report
from compare_gan2.tools.sweep.run import run
from compare_gan2.tools.sweep.spec import RAY_KEYS, expand, load_spec, makedirs, write_json

logger = logging.getLogger("compare_gan2")


def _ray_options(spec: dict[str, Any], args: Any) -> dict[str, Any]:
  """The Ray backend's settings: the flags, else the spec's [ray] table."""
  table = spec.get("ray", {})
  unknown = set(table) - RAY_KEYS
  if unknown:
    raise ValueError(f"Sweep spec [ray]: unknown key(s) {sorted(unknown)}; it takes "
                     f"{sorted(RAY_KEYS)}.")
  options = {"num_cpus_per_trial": 1.0, "num_gpus_per_trial": 0.0, "resources": {},
             "max_retries": 2, **table}
  for key in RAY_KEYS:
    if getattr(args, key) is not None:
      options[key] = getattr(args, key)
  resources = options["resources"]
  if isinstance(resources, str):
    try:
      resources = json.loads(resources)
    except json.JSONDecodeError as e:
      raise ValueError(f"--resources must be a JSON object such as "
                       f"'{{\"TPU\": 1}}'; got {resources!r} ({e}).") from None
  if not isinstance(resources, dict) or not all(map(is_number, resources.values())):
    raise ValueError("--resources must map resource names to numbers, "
                     f"e.g. '{{\"TPU\": 1}}'; got {resources!r}.")
  options["resources"] = resources
  for key in ("num_cpus_per_trial", "num_gpus_per_trial", "max_retries"):
    if options[key] < 0:
      raise ValueError(f"--{key} must not be negative; got {options[key]}.")
  return options


BACKENDS = ("local", "ray")
RAY_FLAGS = ("address", "num_cpus", "num_cpus_per_trial", "num_gpus_per_trial",
             "resources")


def run_spec(spec_path: str, out: str, *, backend: str = "local",
             parallel: int | None = None, max_retries: int | None = None,
             address: str | None = None, num_cpus: int | None = None,
             num_cpus_per_trial: float | None = None,
             num_gpus_per_trial: float | None = None, resources: str | None = None,
             print_commands: bool = False, report_only: bool = False) -> None:
  """`compare_gan2 sweep`: runs the unfinished trials of the spec at
  `spec_path` (a file or a shipped spec name) into `out` with `backend`
  ("local": `parallel` child processes; "ray": one Ray task per trial on
  the cluster at `address`, sized by the other Ray arguments or the spec's
  [ray] table), then writes the report. `print_commands`: only print the
  unfinished trials' command lines; `report_only`: only aggregate what the
  trials have written. Raises RuntimeError naming the failed trials."""
  args = types.SimpleNamespace(
      backend=backend, parallel=parallel, max_retries=max_retries, address=address,
      num_cpus=num_cpus, num_cpus_per_trial=num_cpus_per_trial,
      num_gpus_per_trial=num_gpus_per_trial, resources=resources)
  if backend not in BACKENDS:
    raise ValueError(f"--backend must be one of {BACKENDS}; got {backend!r}.")
  if args.backend == "local":
    for flag in RAY_FLAGS:
      if getattr(args, flag) is not None:
        raise ValueError(f"--{flag} applies to --backend ray only; got --backend local.")
  elif args.address is not None and args.num_cpus is not None:
    raise ValueError("--num_cpus sizes the Ray instance started without --address; "
                     f"got --address {args.address}.")
  elif args.parallel is not None:
    raise ValueError("--parallel applies to --backend local only (Ray runs as many "
                     "trials as the cluster's resources allow); got --backend ray.")
  if args.parallel is not None and args.parallel < 1:
    raise ValueError(f"--parallel must be at least 1; got {args.parallel}.")
  if args.max_retries is not None and args.max_retries < 0:
    raise ValueError(f"--max_retries must not be negative; got {args.max_retries}.")
  spec = load_spec(spec_path)
  options = _ray_options(spec, args)
  trials = expand(spec, out)
  if print_commands:
    for trial in trials:
      if not trial.done:
        print(f"cd {shlex.quote(trial.workdir)} && {shlex.join(trial.command())}")
    return
  makedirs(out)
  write_json(os.path.join(out, "spec.json"), spec)
  if report_only:
    errors = []
  elif args.backend == "ray":
    errors = sweep_ray.run(trials, address=args.address, num_cpus=args.num_cpus,
                           **options)
  else:
    errors = run(trials, args.parallel or 1, max_retries=options["max_retries"])
  table, _ = report(trials, out, spec.get("metrics"), spec.get("score_last", 1))
  logger.info("%s\nResults: %s", table, os.path.join(out, "summary.md"))
  if errors:
    raise RuntimeError(f"{len(errors)} trial(s) failed:\n" + "\n".join(errors))
