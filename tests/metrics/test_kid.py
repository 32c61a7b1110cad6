"""KID against the kernel MMD written out in loops, blocks as TF-GAN (REFERENCE.md sec. 8)."""

import numpy as np
import pytest

from compare_gan2 import metrics
from metric_cases import _rng


def _mmd2_loops(x, y):
  d = x.shape[1]
  k = lambda a, b: (np.dot(a, b) / d + 1) ** 3
  m, n = len(x), len(y)
  kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
  kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
  kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
  return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2 * kxy / (m * n)


def test_kid_single_block_matches_loops():
  rng = _rng(3)
  x, y = rng.randn(12, 5), rng.randn(9, 5) + 0.5
  mean, std = metrics.kernel_distance(x, y)
  assert mean == pytest.approx(_mmd2_loops(x, y), rel=1e-10)
  assert np.isnan(std)  # One block: no spread to estimate, as in TF-GAN.


def test_kid_blocks_split_as_tfgan():
  rng = _rng(4)
  x, y = rng.randn(23, 3), rng.randn(17, 3) * 2
  # ceil(23 / 8) = 3 blocks; sizes 7,8,8 for x and 5,6,6 for y.
  ests = [_mmd2_loops(x[0:7], y[0:5]), _mmd2_loops(x[7:15], y[5:11]),
          _mmd2_loops(x[15:23], y[11:17])]
  mean, std = metrics.kernel_distance(x, y, max_block_size=8)
  assert mean == pytest.approx(np.mean(ests), rel=1e-10)
  assert std == pytest.approx(np.std(ests, ddof=1) / np.sqrt(3), rel=1e-9)


def test_kid_identical_distribution_near_zero():
  rng = _rng(5)
  same, _ = metrics.kernel_distance(rng.randn(300, 8), rng.randn(300, 8))
  shifted, _ = metrics.kernel_distance(rng.randn(300, 8),
                                       rng.randn(300, 8) + 1)
  assert abs(same) < 0.05 < shifted
