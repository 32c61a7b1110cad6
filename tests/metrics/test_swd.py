"""Sliced Wasserstein distance over Laplacian pyramid patches (REFERENCE.md sec. 8)."""

import numpy as np
import pytest

from compare_gan2 import metrics
from metric_cases import _rng, _smooth_images


def test_swd_identical_near_zero_and_grows_with_shift():
  rng = _rng(10)
  a, b = _smooth_images(32, 32, rng), _smooth_images(32, 32, rng)
  # Shift the patch distribution towards vertical stripes.
  stripes = (np.sin(np.arange(32) * 0.8)[None, None, :, None] + 1) / 2
  stripes = np.broadcast_to(stripes, a.shape)
  levels, same = metrics.sliced_wasserstein_distance(a, a, seed=0)
  assert len(levels) == 2 and same == pytest.approx(np.mean(levels))
  dists = [metrics.sliced_wasserstein_distance(
      a, (1 - t) * b + t * stripes, seed=0)[1] for t in (0.0, 0.5, 1.0)]
  # Identical sets differ only by the random patch draws.
  assert same < 0.2 * dists[1]
  assert dists[0] < dists[1] < dists[2]
