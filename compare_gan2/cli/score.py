"""`compare_gan2 score`: score a folder of images (compare_gan2/tools/score.py).

  compare_gan2 score --real cifar10 --fake samples/ --metrics fid,kid
  compare_gan2 score --real real_images/ --fake samples/ --output scores.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--real", required=True,
                 help="A dataset name (e.g. cifar10, digits) or a folder of images.")
  p.add_argument("--fake", required=True, help="A folder of generated images.")
  p.add_argument("--metrics", default="fid,kid", help="Comma-separated metric names.")
  p.add_argument("--feature_extractor", default="auto",
                 help="auto | inception | classifier | pixels")
  p.add_argument("--num_samples", type=int, default=None,
                 help="Images per side (default: all fake images).")
  p.add_argument("--resolution", type=int, default=None,
                 help="Resolution for folders (default: the real dataset's, or 299).")
  p.add_argument("--split", default=None, help="Real split (default: the eval split).")
  p.add_argument("--tfds_data_dir", default=None)
  p.add_argument("--gin_bindings", action="append", default=[])
  p.add_argument("--output", default=None, help="Also write the JSON here.")


def run(args: argparse.Namespace) -> dict[str, Any]:
  import compare_gan2  # pylint: disable=g-import-not-at-top
  from compare_gan2.tools import score  # pylint: disable=g-import-not-at-top
  compare_gan2.parse_gin([], args.gin_bindings)
  results = score.score(args.real, args.fake, metrics=args.metrics.split(","),
                        feature_extractor=args.feature_extractor,
                        num_samples=args.num_samples, resolution=args.resolution,
                        split=args.split, tfds_data_dir=args.tfds_data_dir)
  text = json.dumps(results, indent=2, sort_keys=True)
  print(text)
  if args.output:
    with open(args.output, "w") as f:
      f.write(text + "\n")
  return results
