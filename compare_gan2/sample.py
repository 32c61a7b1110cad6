"""`compare_gan2 export` and `compare_gan2 sample`: pretrained generators.

  compare_gan2 export --model_dir RUN [--step N] --out /tmp/generator
  compare_gan2 sample --generator /tmp/generator --num 16 --out samples/
  compare_gan2 sample --generator HANDLE --num 8 --labels 1,2 --truncation 1.0 \
      --seed 0 --out samples.npz
  compare_gan2 sample --generator HANDLE --num 4 --interpolate 8 --out strips/

A folder --out gets sample_00000.png ... and grid.png (with --interpolate:
interpolation.png, one row of K steps per sample); an --out ending in .npz
gets arrays images [N, H, W, C] in [0, 1], z and labels (and, with
--interpolate, the strips' images and z as interpolation_images/_z).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any, Sequence

import numpy as np

from compare_gan2 import cli

logger = logging.getLogger("compare_gan2")

# What a folder --out gets besides the samples; `compare_gan2 score` skips them.
GRID_FILE = "grid.png"
INTERPOLATION_FILE = "interpolation.png"
SUMMARY_FILES = (GRID_FILE, INTERPOLATION_FILE)


def parse_export_args(argv: Sequence[str]) -> argparse.Namespace:
  p = cli.ArgumentParser(
      prog="compare_gan2 export",
      description="Export a run's (EMA) generator and discriminator as a SavedModel "
                  "with the signatures of the compare_gan TF-Hub modules.")
  p.add_argument("--model_dir", required=True, help="Run directory.")
  p.add_argument("--step", type=int, default=None,
                 help="Checkpoint step (default: the latest).")
  p.add_argument("--out", required=True, help="Directory to write (new or empty).")
  return p.parse_args(argv)


def export_main(argv: Sequence[str]) -> str:
  args = parse_export_args(argv)
  from compare_gan2 import hub  # pylint: disable=g-import-not-at-top
  path = hub.export_generator(args.model_dir, args.out, step=args.step)
  print(path)
  return path


def _labels(text: str | None) -> list[int] | None:
  if not text:
    return None
  try:
    return [int(x) for x in text.split(",") if x.strip()]
  except ValueError as e:
    raise ValueError(f"--labels must be comma-separated integers. Received: {text!r}") from e


def parse_sample_args(argv: Sequence[str]) -> argparse.Namespace:
  p = cli.ArgumentParser(
      prog="compare_gan2 sample",
      description="Sample images from an exported generator or a TF-Hub module.")
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
  return p.parse_args(argv)


def sample_main(argv: Sequence[str]) -> dict[str, Any]:
  args = parse_sample_args(argv)
  if args.num < 1:
    raise ValueError(f"--num must be >= 1. Received: {args.num}")
  if args.interpolate == 1 or args.interpolate < 0:
    raise ValueError(f"--interpolate must be >= 2. Received: {args.interpolate}")
  from compare_gan2 import hub  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import images as images_lib  # pylint: disable=g-import-not-at-top
  gen = hub.load_generator(args.generator)
  labels = _labels(args.labels)
  images, z, used = gen.sample(args.num, labels=labels, truncation=args.truncation,
                               seed=args.seed, return_inputs=True)
  strips = strip_z = None
  if args.interpolate:
    rng = np.random.default_rng(args.seed + 1)
    ends = gen.sample_z(2 * args.num, args.truncation, rng)
    rows = [gen.interpolate(args.interpolate, ends[2 * i], ends[2 * i + 1],
                            labels=None if used is None else int(used[i]),
                            kind=args.kind, return_inputs=True)
            for i in range(args.num)]
    strips = np.stack([r[0] for r in rows])  # [num, K, H, W, C]
    strip_z = np.stack([r[1] for r in rows])
  written = []
  if args.out.endswith(".npz"):
    arrays = {"images": images, "z": z,
              "labels": np.full([args.num], -1, np.int32) if used is None else used}
    if strips is not None:
      arrays.update(interpolation_images=strips, interpolation_z=strip_z)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out[:-4] + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, args.out)
    written.append(args.out)
  else:
    os.makedirs(args.out, exist_ok=True)
    for i, image in enumerate(images):
      grid = images_lib.image_grid(image[None], columns=1, padding=0)
      written.append(images_lib.save_png(grid, os.path.join(args.out, f"sample_{i:05d}.png")))
    written.append(images_lib.save_png(
        images_lib.image_grid(images), os.path.join(args.out, GRID_FILE)))
    if strips is not None:
      flat = strips.reshape((-1,) + strips.shape[2:])
      written.append(images_lib.save_png(
          images_lib.image_grid(flat, columns=args.interpolate),
          os.path.join(args.out, INTERPOLATION_FILE)))
  logger.info("Wrote %d file(s) to %s from %r", len(written), args.out, gen)
  return {"generator": repr(gen), "files": written}
