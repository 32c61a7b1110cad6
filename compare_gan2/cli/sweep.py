"""`compare_gan2 sweep`: a grid of runs from a TOML spec (compare_gan2/tools/sweep/).

  compare_gan2 sweep --spec SPEC --out DIR [--parallel N]
  compare_gan2 sweep --spec SPEC --out DIR --backend ray [--address auto]
  compare_gan2 sweep --spec SPEC --out DIR --print_commands   # for a scheduler
  compare_gan2 sweep --spec SPEC --out DIR --report_only      # tables and plots
"""

from __future__ import annotations

import argparse

from compare_gan2.tools.sweep import backends as sweep_backends
from compare_gan2.tools.sweep.backends import BACKENDS

# Passed on to sweep_backends.run_spec under their own names.
_RUN_SPEC_FLAGS = ("backend", "parallel", "max_retries", "address", "num_cpus",
                   "num_cpus_per_trial", "num_gpus_per_trial", "resources",
                   "print_commands", "report_only")


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--spec", required=True, help="TOML sweep spec, or a shipped one.")
  p.add_argument("--out", required=True,
                 help="Sweep directory (with --backend ray: one every worker reaches, "
                      "a shared file system path or gs://...).")
  p.add_argument("--backend", choices=BACKENDS, default="local",
                 help="local: child processes here; ray: one Ray task per trial.")
  p.add_argument("--parallel", type=int, default=None,
                 help="Trials run at once (local backend; default 1).")
  p.add_argument("--max_retries", type=int, default=None,
                 help="Restarts of a trial killed by a signal (or whose Ray worker "
                      "died) before it counts as failed (default 2).")
  ray = p.add_argument_group("Ray backend (--backend ray; see docs/sweeps_ray.md)")
  ray.add_argument("--address", default=None,
                   help="An existing cluster: 'auto' (this machine is on it), "
                        "host:port or ray://host:port. Default: a Ray instance on "
                        "this machine only (127.0.0.1).")
  ray.add_argument("--num_cpus", type=int, default=None,
                   help="CPUs of the Ray instance started without --address "
                        "(default: all cores).")
  ray.add_argument("--num_cpus_per_trial", type=float, default=None,
                   help="CPUs each trial's task requests (default 1).")
  ray.add_argument("--num_gpus_per_trial", type=float, default=None,
                   help="GPUs each trial's task requests (default 0).")
  ray.add_argument("--resources", default=None,
                   help="Custom resources each task requests, as JSON: '{\"TPU\": 1}'.")
  p.add_argument("--print_commands", action="store_true",
                 help="Print the unfinished trials' command lines and exit.")
  p.add_argument("--report_only", action="store_true",
                 help="Only aggregate what the trials have written.")


def run(args: argparse.Namespace) -> None:
  sweep_backends.run_spec(args.spec, args.out, **{k: getattr(args, k) for k in _RUN_SPEC_FLAGS})
