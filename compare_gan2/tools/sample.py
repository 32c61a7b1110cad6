"""Samples of pretrained generators: what `compare_gan2 sample` writes
(its flags, and those of `compare_gan2 export`, are in cli/).

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

import logging
import os
import re
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger("compare_gan2")

# What a folder --out gets besides the samples; `compare_gan2 score` skips them.
GRID_FILE = "grid.png"
INTERPOLATION_FILE = "interpolation.png"
SUMMARY_FILES = (GRID_FILE, INTERPOLATION_FILE)
_SAMPLE_FILE = re.compile(r"sample_\d{5,}\.png$")


def existing_samples(out: str) -> list[str]:
  """What an earlier `write_samples` left at `out`: the .npz file, or the
  folder's sample_*.png, grid.png and interpolation.png (nothing else)."""
  if out.endswith(".npz"):
    return [out] if os.path.exists(out) else []
  if not os.path.isdir(out):
    return []
  return sorted(os.path.join(out, n) for n in os.listdir(out)
                if _SAMPLE_FILE.match(n) or n in SUMMARY_FILES)


def check_out(out: str, overwrite: bool = False) -> list[str]:
  """Refuses (FileExistsError, one line) an `out` that holds samples
  already, unless `overwrite`: new samples would mix with stale ones, which
  `compare_gan2 score` then reads too. Returns the files to replace."""
  found = existing_samples(out)
  if found and not overwrite:
    what = (f"{len(found)} sample file(s): {os.path.basename(found[0])} ..."
            if len(found) > 1 else os.path.basename(found[0]))
    raise FileExistsError(
        f"--out '{out}' holds {what} from an earlier sample; new ones would mix with "
        "them (score reads them all). Choose a new --out, or pass --overwrite "
        "(overwrite=True) to remove those files first (only sample_*.png, grid.png "
        "and interpolation.png).")
  return found


def write_samples(generator: str, out: str, *, num: int = 16,
                  labels: Sequence[int] | None = None, truncation: float | None = None,
                  seed: int = 0, interpolate: int = 0,
                  kind: str = "spherical", overwrite: bool = False) -> dict[str, Any]:
  """Writes `num` samples of `generator` (an export directory, a TF1 Hub
  module directory, or a URL/handle) to `out`: a folder of PNGs plus grid.png,
  or a file ending in .npz (see the module docstring). `labels` are used in
  turn (default: random); `truncation` redraws |z| > T (normal z) or clips
  to [-T, T] (uniform z); `interpolate` >= 2 also writes one strip of that
  many steps per sample along a `kind` ("linear" or "spherical") path.
  Samples already at `out` are refused (`check_out`); `overwrite` removes
  them once the new ones are drawn. Returns the generator's description and
  the files written."""
  stale = check_out(out, overwrite)
  if num < 1:
    raise ValueError(f"--num must be >= 1. Received: {num}")
  if interpolate == 1 or interpolate < 0:
    raise ValueError(f"--interpolate must be >= 2. Received: {interpolate}")
  from compare_gan2.tools import hub  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import images as images_lib  # pylint: disable=g-import-not-at-top
  gen = hub.load_generator(generator)
  images, z, used = gen.sample(num, labels=None if labels is None else list(labels),
                               truncation=truncation, seed=seed, return_inputs=True)
  strips = strip_z = None
  if interpolate:
    rng = np.random.default_rng(seed + 1)
    ends = gen.sample_z(2 * num, truncation, rng)
    rows = [gen.interpolate(interpolate, ends[2 * i], ends[2 * i + 1],
                            labels=None if used is None else int(used[i]),
                            kind=kind, return_inputs=True)
            for i in range(num)]
    strips = np.stack([r[0] for r in rows])  # [num, K, H, W, C]
    strip_z = np.stack([r[1] for r in rows])
  for path in stale:
    os.remove(path)
  written = []
  if out.endswith(".npz"):
    arrays = {"images": images, "z": z,
              "labels": np.full([num], -1, np.int32) if used is None else used}
    if strips is not None:
      arrays.update(interpolation_images=strips, interpolation_z=strip_z)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out[:-4] + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)
    written.append(out)
  else:
    os.makedirs(out, exist_ok=True)
    for i, image in enumerate(images):
      grid = images_lib.image_grid(image[None], columns=1, padding=0)
      written.append(images_lib.save_png(grid, os.path.join(out, f"sample_{i:05d}.png")))
    written.append(images_lib.save_png(
        images_lib.image_grid(images), os.path.join(out, GRID_FILE)))
    if strips is not None:
      flat = strips.reshape((-1,) + strips.shape[2:])
      written.append(images_lib.save_png(
          images_lib.image_grid(flat, columns=interpolate),
          os.path.join(out, INTERPOLATION_FILE)))
  logger.info("Wrote %d file(s) to %s from %r", len(written), out, gen)
  return {"generator": repr(gen), "files": written}
