"""`compare_gan2 infer-labels`: a label file from a rotation extractor
(compare_gan2/tools/labels/infer.py).

  compare_gan2 infer-labels --pretrained /tmp/rot --method kmeans \
      --num_clusters 10 --out /tmp/kmeans.npz
  compare_gan2 infer-labels --pretrained /tmp/rot --method semi_supervised \
      --labeled_fraction 0.1 --labels_seed 0 --out /tmp/s2gan.npz
"""

from __future__ import annotations

import argparse
from typing import Any

from compare_gan2.core.choices import LABEL_METHODS
from compare_gan2.cli import common


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--pretrained", required=True,
                 help="Directory written by `compare_gan2 pretrain`.")
  p.add_argument("--method", required=True, choices=LABEL_METHODS)
  p.add_argument("--out", required=True, help="Label file to write (.npz).")
  p.add_argument("--num_clusters", type=int, default=None,
                 help="kmeans: K (default: the dataset's classes).")
  p.add_argument("--labeled_fraction", type=float, default=None,
                 help="semi_supervised: fraction of true labels used.")
  p.add_argument("--labels_seed", type=int, default=0,
                 help="semi_supervised: the labelled subset (labels.seed).")
  p.add_argument("--seed", type=int, default=0, help="kmeans initialisation.")
  p.add_argument("--dataset", default=None,
                 help="Dataset (default: the one pretrained on).")
  p.add_argument("--pixel_baseline", action="store_true",
                 help="Also report the method on raw pixels.")
  p.add_argument("--tfds_data_dir", default=None)


def run(args: argparse.Namespace) -> dict[str, Any]:
  from compare_gan2.tools.labels import infer  # pylint: disable=g-import-not-at-top
  report = infer.infer_labels(args.pretrained, args.out, method=args.method,
                              num_clusters=args.num_clusters,
                              labeled_fraction=args.labeled_fraction,
                              labels_seed=args.labels_seed, seed=args.seed,
                              dataset=args.dataset, pixel_baseline=args.pixel_baseline,
                              tfds_data_dir=args.tfds_data_dir)
  common.print_json(report)
  return report
