"""`compare_gan2 sample`: samples of an exported generator or a TF-Hub
module (compare_gan2/tools/sample.py).

  compare_gan2 sample --generator /tmp/generator --num 16 --out samples/
  compare_gan2 sample --generator HANDLE --num 8 --labels 1,2 --truncation 1.0 \
      --seed 0 --out samples.npz
  compare_gan2 sample --generator HANDLE --num 4 --interpolate 8 --out strips/
"""

from __future__ import annotations

import argparse
from typing import Any


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--generator", required=True,
                 help="Export directory, TF1 Hub module directory, or URL/handle.")
  p.add_argument("--num", type=int, default=16, help="Number of samples.")
  p.add_argument("--labels", default=None,
                 help="Comma-separated classes, used in turn (default: random).")
  p.add_argument("--truncation", type=float, default=None,
                 help="Redraw |z| > T (normal z) or clip to [-T, T] (uniform z).")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--interpolate", type=int, default=0, metavar="K",
                 help="Also write interpolation strips of K steps, one per sample.")
  p.add_argument("--kind", default="spherical", choices=("linear", "spherical"),
                 help="Interpolation path.")
  p.add_argument("--out", required=True, help="Output folder, or a file ending in .npz.")
  p.add_argument("--overwrite", action="store_true",
                 help="Replace the samples an earlier call wrote to --out (its "
                      "sample_*.png, grid.png, interpolation.png, or the .npz); "
                      "without it such an --out is refused.")


def parse_labels(text: str | None) -> list[int] | None:
  """--labels: "1,2" -> [1, 2]; empty -> None (random labels)."""
  if not text:
    return None
  try:
    return [int(x) for x in text.split(",") if x.strip()]
  except ValueError as e:
    raise ValueError(f"--labels must be comma-separated integers. Received: {text!r}") from e


def precheck(args: argparse.Namespace) -> None:
  """Before TensorFlow loads: --out holds no earlier samples (or --overwrite)."""
  from compare_gan2.tools import sample  # pylint: disable=g-import-not-at-top
  sample.check_out(args.out, args.overwrite)


def run(args: argparse.Namespace) -> dict[str, Any]:
  from compare_gan2.tools import sample  # pylint: disable=g-import-not-at-top
  return sample.write_samples(args.generator, args.out, num=args.num,
                              labels=parse_labels(args.labels),
                              truncation=args.truncation, seed=args.seed,
                              interpolate=args.interpolate, kind=args.kind,
                              overwrite=args.overwrite)
