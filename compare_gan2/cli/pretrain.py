"""`compare_gan2 pretrain`: a rotation-prediction feature extractor for
label inference (compare_gan2/tools/labels/pretrain.py).

  compare_gan2 pretrain --out /tmp/rot --dataset digits --steps 300
"""

from __future__ import annotations

import argparse
from typing import Any

from compare_gan2.cli import common


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--out", required=True, help="Output directory (resumable).")
  p.add_argument("--dataset", required=True, help="Dataset name, e.g. digits.")
  p.add_argument("--steps", type=int, default=600)
  p.add_argument("--batch_size", type=int, default=32)
  p.add_argument("--width", type=int, default=None,
                 help="First-stage channels (default 16 small, 64 resnet50).")
  p.add_argument("--arch", default="auto", choices=("auto", "small", "resnet50"))
  p.add_argument("--learning_rate", type=float, default=1e-3)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--log_every", type=int, default=50)
  p.add_argument("--tfds_data_dir", default=None)
  common.add_strategy_flags(p)


def run(args: argparse.Namespace) -> dict[str, Any]:
  strategy = common.make_strategy(args)  # before the model: splits the CPU first
  from compare_gan2.tools.labels import pretrain  # pylint: disable=g-import-not-at-top
  info = pretrain.pretrain(args.out, args.dataset, steps=args.steps,
                           batch_size=args.batch_size, width=args.width, arch=args.arch,
                           learning_rate=args.learning_rate, seed=args.seed,
                           strategy=strategy, log_every=args.log_every,
                           tfds_data_dir=args.tfds_data_dir)
  common.print_json(info)
  return info
