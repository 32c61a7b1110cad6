"""`compare_gan2 score`: scores a folder of generated images against a
dataset or another folder, with the metrics of the evaluation.

  compare_gan2 score --real cifar10 --fake samples/ --metrics fid,kid
  compare_gan2 score --real real_images/ --fake samples/ --output scores.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any, Sequence

logger = logging.getLogger("compare_gan2")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  p = argparse.ArgumentParser(prog="compare_gan2 score",
                              description="Score generated images (a folder).")
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
  return p.parse_args(argv)


def _folder(path: str, resolution: int) -> Any:
  from compare_gan2.data import DATASETS  # pylint: disable=g-import-not-at-top
  return DATASETS.make("image_folder", path=path, resolution=resolution)


def score(args: argparse.Namespace) -> dict[str, Any]:
  """Loads both sides, extracts features, computes the metrics."""
  from compare_gan2 import config  # pylint: disable=g-import-not-at-top
  from compare_gan2.data import get_dataset
  from compare_gan2.runner.evaluate import Evaluator, eval_options
  config.parse([], args.gin_bindings)
  if os.path.isdir(args.real):
    real = _folder(args.real, args.resolution or 299)
  else:
    real = get_dataset(args.real, tfds_data_dir=args.tfds_data_dir)
  fake = _folder(args.fake, args.resolution or real.resolution)
  images = fake.arrays("train")[0]
  images = images.astype("float32") / 255.0 if images.dtype.kind == "u" else images
  if real.colors == 1 and images.shape[-1] == 3:  # grey data, RGB files
    images = images.mean(axis=-1, keepdims=True)
  num = min(args.num_samples or len(images), len(images))
  opts = eval_options(num_samples=num, metrics=args.metrics.split(","),
                      feature_extractor=args.feature_extractor, split=args.split)
  evaluator = Evaluator(real, opts)
  results = evaluator.score(images[:num])
  return {"real": args.real, "fake": args.fake, "num_samples": num,
          "feature_extractor": evaluator.extractor_name,
          "skipped_files": [str(f) for f in getattr(fake, "skipped_files", [])],
          **results}


def main(argv: Sequence[str]) -> dict[str, Any]:
  args = parse_args(argv)
  results = score(args)
  text = json.dumps(results, indent=2, sort_keys=True)
  print(text)
  if args.output:
    with open(args.output, "w") as f:
      f.write(text + "\n")
  return results
