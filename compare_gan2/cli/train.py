"""`compare_gan2 train` (also `compare_gan2` with flags only, the original
main.py's call): train and/or evaluate one run configured by gin.

  compare_gan2 --model_dir /tmp/run                # the quickstart config
  compare_gan2 train --model_dir DIR --gin_config resnet_cifar10.gin \
      --gin_bindings "options.training_steps = 1000" --schedule train_and_eval
"""

from __future__ import annotations

import argparse
import logging

from compare_gan2.core.choices import SCHEDULES
from compare_gan2.cli import common
from compare_gan2.core.config_files import QUICKSTART, resolve_config


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--model_dir", required=True, help="Run directory.")
  common.add_gin_flags(p)
  p.add_argument("--schedule", default="train", choices=SCHEDULES)
  p.add_argument("--eval_every_steps", type=int, default=5000,
                 help="train_and_eval: steps between evaluations.")
  common.add_eval_flags(p)
  common.add_data_flags(p)
  common.add_strategy_flags(p)
  p.add_argument("--restart", action="store_true",
                 help="Train from step 0 although --model_dir holds a run (its "
                      "contents move to restarted-<time>/ inside it). Without "
                      "it, training resumes from the newest good checkpoint.")


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
  if args.restart and args.schedule == "continuous_eval":
    p.error("--restart trains from step 0; continuous_eval does not train. Pass it "
            "to the training command.")


def precheck(args: argparse.Namespace) -> None:
  """Before TensorFlow loads: --model_dir can be written."""
  common.check_output_dir("--model_dir", args.model_dir)


def run(args: argparse.Namespace) -> None:
  common.split_cpu(args)  # before any TF op
  import compare_gan2  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import Runner, run_schedule  # pylint: disable=g-import-not-at-top
  configs = [resolve_config(c) for c in (args.gin_config or [QUICKSTART])]
  compare_gan2.parse_gin(configs, args.gin_bindings)
  common.check_fake_data_flag(args.model_dir, args.data_fake_dataset)
  strategy = common.make_strategy(args)
  runner = Runner(args.model_dir, strategy=strategy, fake_data=args.data_fake_dataset,
                  tfds_data_dir=args.tfds_data_dir, restart=args.restart)
  run_schedule(runner, args.schedule, score_filename=args.score_filename,
               num_eval_averaging_runs=args.num_eval_averaging_runs,
               eval_every_steps=args.eval_every_steps, poll_seconds=args.eval_poll_seconds,
               output_dir=args.output_dir)
  logging.getLogger("compare_gan2").info("Done: %s", args.model_dir)
