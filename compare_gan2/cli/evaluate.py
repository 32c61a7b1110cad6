"""`compare_gan2 eval`: evaluate an existing run, without training it.

  compare_gan2 eval --model_dir RUN                     # every kept checkpoint
  compare_gan2 eval --model_dir RUN --schedule continuous_eval   # follow training
  compare_gan2 eval --model_dir READ_ONLY_RUN --output_dir SCORES/

The run's own gin config (its newest operative_config-*.gin) is parsed
first, then --gin_config files and --gin_bindings, and --data_fake_dataset
defaults to what run.json records, so a run evaluates as it was trained. The
operative config holds only what training used: the `eval.*` settings of a
run that did not evaluate while training come from --gin_config (the
training config, or a file of eval settings) or --gin_bindings.
"""

from __future__ import annotations

import argparse
import os
import re

from compare_gan2.cli import common
from compare_gan2.core.config_files import resolve_config

# The schedules that do not train (runner.run_schedule): eval_after_train on
# a finished run scores every kept checkpoint; continuous_eval scores each new
# one until training is done.
EVAL_SCHEDULES = ("eval_after_train", "continuous_eval")
_OPERATIVE_CONFIG = re.compile(r"operative_config-(\d+)\.gin$")


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--model_dir", required=True, help="Run directory (only read).")
  common.add_gin_flags(p, default="none; parsed after the run's newest "
                                  "operative_config-*.gin")
  p.add_argument("--schedule", default="eval_after_train", choices=EVAL_SCHEDULES,
                 help="eval_after_train: score every kept checkpoint of a finished "
                      "run; continuous_eval: score each checkpoint as training "
                      "writes it, until it is done.")
  common.add_eval_flags(p)
  common.add_data_flags(p, fake_default=None,
                        fake_help="Random data of the dataset's shape (default: as "
                                  "run.json records the training).")
  common.add_strategy_flags(p)


def operative_config(model_dir: str) -> str | None:
  """The newest operative_config-<step>.gin of the run in `model_dir`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  steps = {int(m[1]): name for name in tf.io.gfile.listdir(model_dir)
           if (m := _OPERATIVE_CONFIG.match(name))}
  return os.path.join(model_dir, steps[max(steps)]) if steps else None


def run(args: argparse.Namespace) -> None:
  common.split_cpu(args)  # before any TF op
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import compare_gan2  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import TRAIN_DONE, Runner, run_schedule  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.isdir(args.model_dir):
    raise FileNotFoundError(f"--model_dir '{args.model_dir}' is not a directory.")
  if (args.schedule == "eval_after_train"
      and not tf.io.gfile.exists(os.path.join(args.model_dir, TRAIN_DONE))):
    raise ValueError(
        f"{args.model_dir} has not finished training ({TRAIN_DONE} is missing); "
        "`compare_gan2 eval` does not train: pass --schedule continuous_eval to score "
        "its checkpoints while it trains, or finish it with `compare_gan2 train "
        "--schedule eval_after_train`.")
  configs = [resolve_config(c) for c in args.gin_config]
  own = operative_config(args.model_dir)
  if own is None and not configs:
    raise FileNotFoundError(f"--model_dir '{args.model_dir}' holds no "
                            "operative_config-*.gin (not a run directory, or training "
                            "has not started); pass --gin_config.")
  compare_gan2.parse_gin([own] * (own is not None) + configs, args.gin_bindings)
  fake_data = args.data_fake_dataset
  if fake_data is None:
    fake_data = bool(common.saved_fake_data(args.model_dir))
  common.check_fake_data_flag(args.model_dir, fake_data)
  # Read-only: evaluation never trains, renames or writes into the run.
  runner = Runner(args.model_dir, strategy=common.make_strategy(args), fake_data=fake_data,
                  tfds_data_dir=args.tfds_data_dir, read_only=True)
  run_schedule(runner, args.schedule, score_filename=args.score_filename,
               num_eval_averaging_runs=args.num_eval_averaging_runs,
               poll_seconds=args.eval_poll_seconds, output_dir=args.output_dir)
