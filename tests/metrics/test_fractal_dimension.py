"""Correlation dimension of sets whose dimension is known."""

import numpy as np
import pytest


def test_fractal_dimension_of_known_sets():
  """Flat tori T^1, T^2, T^3 (no boundary, so no edge bias), rotated into
  10-D, have correlation dimensions 1, 2 and 3."""
  from compare_gan2.metrics import fractal_dimension
  rng = np.random.RandomState(0)
  rotation, _ = np.linalg.qr(rng.randn(10, 10))
  for dim in (1, 2, 3):
    angles = 2 * np.pi * rng.rand(2000, dim)
    torus = np.zeros([2000, 10])
    torus[:, :2 * dim] = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)
    assert fractal_dimension(torus @ rotation) == pytest.approx(dim, abs=0.15)
  with pytest.raises(ValueError, match="at least 10 points"):
    fractal_dimension(np.zeros([5, 3]))
  with pytest.raises(ValueError, match="identical points"):
    fractal_dimension(np.zeros([50, 3]))
