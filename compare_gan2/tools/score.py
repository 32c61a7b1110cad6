"""Scoring a folder of generated images against a dataset or another
folder, with the metrics of the evaluation (`compare_gan2 score`, whose
flags are in cli/score.py):

  compare_gan2 score --real cifar10 --fake samples/ --metrics fid,kid
  compare_gan2 score --real real_images/ --fake samples/ --output scores.json

A folder's grid.png and interpolation.png (what `compare_gan2 sample` writes
next to its samples) are not scored. Scoring is refused up front when it
would need more memory than is available (pixel features of large images:
FID's covariance matrices take D^2 x 8 bytes each for D = H*W*C features).
FID with fewer samples than feature dimensions (N <= D; 2048 for Inception
pool_3) gets a warning: the covariance estimate is then singular and the
score mostly measures the sample size (FID falls as N grows).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

from compare_gan2.tools.sample import SUMMARY_FILES

logger = logging.getLogger("compare_gan2")


def _folder(path: str, resolution: int, *, decode: bool = True) -> Any:
  from compare_gan2.data import DATASETS  # pylint: disable=g-import-not-at-top
  folder = DATASETS.make("image_folder", path=path, resolution=resolution,
                         exclude=SUMMARY_FILES, fake=not decode)
  for name in folder.excluded_files:
    logger.info("Not scored: %s (written by compare_gan2 sample).", name)
  return folder


def available_memory() -> int | None:
  """Bytes of memory available to this process (Linux MemAvailable), or None."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  try:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
  except (ValueError, OSError, AttributeError):
    return None


def memory_needed(num_images: int, resolution: int, colors: int, *,
                  pixel_features: bool, fid: bool) -> int:
  """Bytes that scoring `num_images` (both sides together) holds at once:
  the images (uint8 and float32), and with pixel features their float64
  copy and FID's two D x D float64 covariances plus one D x D product."""
  dims = resolution * resolution * colors
  total = num_images * dims * (1 + 4)
  if pixel_features:
    total += num_images * dims * 8 + (3 * dims * dims * 8 if fid else 0)
  return total


def _check_memory(metrics: Sequence[str], extractor: str, num_images: int,
                  resolution: int, colors: int) -> None:
  available = available_memory()
  pixels, fid = extractor == "pixels", "fid" in metrics
  need = memory_needed(num_images, resolution, colors, pixel_features=pixels, fid=fid)
  if available is None or need <= available:
    return
  fits = [r for r in range(resolution - 1, 0, -1)
          if memory_needed(num_images, r, colors, pixel_features=pixels, fid=fid) <= available]
  advice = (f"pass --resolution {fits[0]} or less" if fits else "use fewer images")
  if pixels:
    advice += " or --feature_extractor inception"
  gib = 2.0 ** 30
  raise MemoryError(
      f"Scoring {num_images} images at {resolution}x{resolution}x{colors} with "
      f"{extractor} features needs about {need / gib:,.1f} GiB"
      + (f" (FID's covariances over {resolution * resolution * colors} pixel "
         "features)" if pixels and fid else "")
      + f", more than the {available / gib:,.1f} GiB available: {advice}.")


def score(real: str, fake: str, *, metrics: Sequence[str] = ("fid", "kid"),
          feature_extractor: str = "auto", num_samples: int | None = None,
          resolution: int | None = None, split: str | None = None,
          tfds_data_dir: str | None = None) -> dict[str, Any]:
  """Scores the images in folder `fake` against `real` (a dataset name or a
  folder): loads both sides, extracts features, computes `metrics`.

  num_samples: images per side (default: all fake images). resolution: of
  folders (default: the real dataset's, or 299). split: the real split
  (default: the eval split). Other evaluation settings come from gin
  (`eval.*`, parsed before). Returns the scores, the settings used, the
  files skipped or excluded and the warnings.
  """
  import compare_gan2  # pylint: disable=g-import-not-at-top
  from compare_gan2.data import get_dataset
  from compare_gan2.metrics import extractors
  from compare_gan2.metrics.evaluation import Evaluator, eval_options
  from compare_gan2.metrics import scores as scores_lib
  compare_gan2.register_all()
  metrics = list(metrics)
  on_d = [m for m in metrics if scores_lib.scores_discriminator(m)]
  if on_d:
    raise ValueError(
        f"Metric '{on_d[0]}' scores a run's discriminator, which a folder of "
        "images does not have: name it in a run's eval.metrics instead "
        f"(compare_gan2 eval). Received: metrics={metrics}")
  real_name, fake_dir = real, fake
  real_is_folder = os.path.isdir(real_name)
  if real_is_folder:
    real = _folder(real_name, resolution or 299, decode=False)
  else:
    real = get_dataset(real_name, tfds_data_dir=tfds_data_dir)
  resolution = resolution or real.resolution
  fake = _folder(fake_dir, resolution, decode=False)  # lists the files only
  extractor = (extractors.auto_name(real) if feature_extractor == "auto"
               else feature_extractor)
  num_fake = min(num_samples or len(fake.files), len(fake.files))
  _check_memory(metrics, extractor, 2 * num_fake, resolution, real.colors)
  if real_is_folder:
    real = _folder(real_name, resolution)
  fake = _folder(fake_dir, resolution)
  images = fake.arrays("train")[0]
  images = images.astype("float32") / 255.0 if images.dtype.kind == "u" else images
  if real.colors == 1 and images.shape[-1] == 3:  # grey data, RGB files
    images = images.mean(axis=-1, keepdims=True)
  num = min(num_samples or len(images), len(images))
  opts = eval_options(num_samples=num, metrics=metrics,
                      feature_extractor=feature_extractor, split=split)
  evaluator = Evaluator(real, opts)
  results = evaluator.score(images[:num])
  warnings = []
  dims = evaluator.real().features.shape[1]
  if "fid" in results and num <= dims:
    warnings.append(
        f"FID from {num} samples with {dims} {evaluator.extractor_name} features: "
        "fewer samples than features make the covariance singular, and the score "
        f"mostly measures the sample size; use more than {dims} samples, or compare "
        "FIDs only at equal sample sizes (KID is unbiased at any size).")
  for warning in warnings:
    logger.warning("Warning: %s", warning)
  return {"real": real_name, "fake": fake_dir, "num_samples": num,
          "feature_extractor": evaluator.extractor_name,
          "skipped_files": [str(f) for f in getattr(fake, "skipped_files", [])],
          "excluded_files": list(fake.excluded_files), "warnings": warnings,
          **results}
