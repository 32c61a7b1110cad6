"""Kernel Inception Distance (Binkowski et al., 2018, arXiv:1801.01401)."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric


def _block_bounds(n: int, n_blocks: int) -> np.ndarray:
  """Block boundaries as TF-GAN splits them: the last blocks get one more."""
  v = n // n_blocks
  n_plusone = n - v * n_blocks
  sizes = [v] * (n_blocks - n_plusone) + [v + 1] * n_plusone
  return np.concatenate([[0], np.cumsum(sizes)])


def _mmd2_unbiased(r: np.ndarray, g: np.ndarray) -> float:
  """Unbiased MMD^2 with the cubic polynomial kernel (x.y/d + 1)^3."""
  dim = r.shape[1]
  m, n = r.shape[0], g.shape[0]
  k_rr = (r @ r.T / dim + 1.0) ** 3
  k_rg = (r @ g.T / dim + 1.0) ** 3
  k_gg = (g @ g.T / dim + 1.0) ** 3
  return float(-2.0 * k_rg.mean()
               + (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
               + (k_gg.sum() - np.trace(k_gg)) / (n * (n - 1)))


def kernel_distance(act1, act2,
                    max_block_size: int = 1024) -> tuple[float, float]:
  """KID between feature sets act1 (real) and act2 (generated).

  Returns (mean, std) over blocks, as TF-GAN's
  kernel_classifier_distance_and_std: std is the standard error of the mean
  (Bessel-corrected variance / n_blocks), NaN with a single block.
  """
  act1, act2 = _checks.check_features(act1, act2)
  if max_block_size < 2:
    raise ValueError(f"max_block_size must be >= 2, got {max_block_size}.")
  n_blocks = int(np.ceil(max(len(act1), len(act2)) / max_block_size))
  inds_r = _block_bounds(len(act1), n_blocks)
  inds_g = _block_bounds(len(act2), n_blocks)
  if np.min(np.diff(inds_r)) < 2 or np.min(np.diff(inds_g)) < 2:
    raise ValueError(
        "Every KID block needs at least 2 samples of each set; the smaller "
        f"set ({min(len(act1), len(act2))}) is too small for {n_blocks} "
        "blocks.")
  ests = np.array([
      _mmd2_unbiased(act1[inds_r[i]:inds_r[i + 1]],
                     act2[inds_g[i]:inds_g[i + 1]])
      for i in range(n_blocks)])
  mean = float(ests.mean())
  if n_blocks <= 1:
    return mean, float("nan")
  var = np.sum((ests - mean) ** 2) / (n_blocks - 1)
  return mean, float(np.sqrt(var / n_blocks))


@register_metric("kid", directions={"kid": -1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Kernel Inception Distance (the mean over blocks) of the features."""
  mean, _ = kernel_distance(real.features, fake.features)
  return {"kid": mean}
