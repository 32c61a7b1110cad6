"""What several subcommands share: the argument parser with one-line usage
errors, the flag groups (gin, data, strategy, evaluation) and the checks of
an output directory. No TensorFlow at import (--help stays quick)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, NoReturn

from compare_gan2.core.choices import STRATEGIES
from compare_gan2.core.config_files import QUICKSTART


class ArgumentParser(argparse.ArgumentParser):
  """argparse with its usage errors on one line (argparse prints the whole
  usage first)."""

  def error(self, message: str) -> NoReturn:
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_gin_flags(p: argparse.ArgumentParser, *, default: str = QUICKSTART) -> None:
  """--gin_config (repeatable), --gin_bindings (repeatable)."""
  p.add_argument("--gin_config", action="append", default=[],
                 help="Gin file, or a shipped config name (repeatable). "
                      f"Default: {default}.")
  p.add_argument("--gin_bindings", action="append", default=[],
                 help='Gin binding, e.g. "options.batch_size = 32" (repeatable).')


def add_data_flags(p: argparse.ArgumentParser, *, fake_default: bool | None = False,
                   fake_help: str = "Random data of the dataset's shape.") -> None:
  """--tfds_data_dir, --data_fake_dataset."""
  p.add_argument("--tfds_data_dir", default=None,
                 help="Directory of prepared tfds datasets.")
  p.add_argument("--data_fake_dataset", action=argparse.BooleanOptionalAction,
                 default=fake_default, help=fake_help)


def add_strategy_flags(p: argparse.ArgumentParser) -> None:
  """--strategy, --tpu, --num_cpu_devices: the distribution strategy of a
  command that runs a model (`make_strategy(args)` builds it)."""
  p.add_argument("--strategy", default="default", choices=STRATEGIES,
                 help="auto: a TPU with --tpu or where one is announced ($TPU_NAME, "
                      "$COLAB_TPU_ADDR, /dev/accel*), mirrored over several GPUs, "
                      "else default.")
  p.add_argument("--tpu", default=None,
                 help="TPU name, grpc://HOST:PORT or local (--strategy tpu; default: "
                      "$TPU_NAME, else grpc://$COLAB_TPU_ADDR, else local).")
  p.add_argument("--num_cpu_devices", type=int, default=None,
                 help="Split the CPU into N logical devices (try mirrored "
                      "training without GPUs).")


def split_cpu(args: argparse.Namespace) -> None:
  """--num_cpu_devices: must run before any TensorFlow op (a command calls
  it first; `make_strategy` calls it again, which is a no-op)."""
  if args.num_cpu_devices:
    from compare_gan2.runner import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
    strategy_lib.split_cpu(args.num_cpu_devices)


def make_strategy(args: argparse.Namespace) -> Any:
  """The tf.distribute.Strategy of the strategy flags (CPU split first)."""
  from compare_gan2.runner import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  split_cpu(args)
  return strategy_lib.make_strategy(args.strategy, tpu=args.tpu)


def add_eval_flags(p: argparse.ArgumentParser) -> None:
  """The flags of the evaluation schedules."""
  p.add_argument("--score_filename", default="scores.csv")
  p.add_argument("--num_eval_averaging_runs", type=int, default=3)
  p.add_argument("--eval_poll_seconds", type=float, default=10.0,
                 help="continuous_eval: seconds between looks for checkpoints.")
  p.add_argument("--output_dir", default=None,
                 help="Evaluation schedules: write scores.csv, generators/ and "
                      "eval scalars here instead of --model_dir (needed when "
                      "--model_dir is read-only).")


def check_output_dir(flag: str, path: str) -> None:
  """Raises (one-line message) if the local directory `path` is a file or
  cannot be created; remote paths (gs://...) are left to TensorFlow."""
  if "://" in path:
    return
  path = os.path.abspath(os.path.expanduser(path))
  if os.path.exists(path) and not os.path.isdir(path):
    raise NotADirectoryError(f"{flag} '{path}' is a file, not a directory.")
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise NotADirectoryError(f"{flag} '{path}' cannot be created: '{existing}' is a "
                             "file, not a directory.")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise PermissionError(f"{flag} '{path}' cannot be " + (
        "written" if existing == path else "created") + f": no write permission in "
        f"'{existing}'.")


def saved_fake_data(model_dir: str) -> bool | None:
  """--data_fake_dataset as run.json in `model_dir` records it (None: no
  run.json, or one from before the field)."""
  from compare_gan2.runner.run_dir import RUN_INFO  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(model_dir, RUN_INFO)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f).get("fake_data")


def check_fake_data_flag(model_dir: str, fake_data: bool) -> None:
  """Refuses to continue a run on other data than its checkpoints saw:
  run.json records --data_fake_dataset."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  saved = saved_fake_data(model_dir)
  if saved is None or saved == fake_data or not tf.train.latest_checkpoint(model_dir):
    return
  was, fix = ("random (fake)", "pass") if saved else ("real", "drop")
  raise ValueError(f"{model_dir} holds checkpoints trained on {was} data (run.json); "
                   f"{fix} --data_fake_dataset to continue it, or use a new --model_dir.")


def print_json(obj: Any) -> None:
  print(json.dumps(obj, indent=2, sort_keys=True))
