"""PRD curves and their F-beta scores (REFERENCE.md sec. 8)."""

import numpy as np
import pytest

from compare_gan2 import metrics
from metric_cases import _rng


def test_prd_identical_and_disjoint():
  rng = _rng(9)
  real = rng.randn(400, 4)
  fake = rng.randn(400, 4)
  p, r = metrics.prd(real, fake, num_clusters=5, num_runs=2)
  assert p.shape == r.shape == (1001,)
  f8, f18 = metrics.prd_f_beta(p, r)
  assert f8 > 0.9 and f18 > 0.9
  p, r = metrics.prd(real, fake + 100.0, num_clusters=5, num_runs=2)
  f8, f18 = metrics.prd_f_beta(p, r)
  assert f8 < 0.05 and f18 < 0.05


def test_prd_f_beta_known_curve():
  # Perfect curve: precision 1 for every recall up to 1.
  f8, f18 = metrics.prd_f_beta(np.array([1.0, 1.0]), np.array([0.5, 1.0]))
  assert f8 == pytest.approx(1.0) and f18 == pytest.approx(1.0)
