"""The Gaussian mixtures mog_ring and mog_grid: modes, spreads, the ring's radius."""

import numpy as np
import pytest

from compare_gan2 import data
from compare_gan2.data import mixtures


def test_mixture_modes():
  for name, means, stddev in (("mog_ring", mixtures.RING_MEANS, 0.02),
                              ("mog_grid", mixtures.GRID_MEANS, 0.05)):
    ds = data.get_dataset(name)
    np.testing.assert_array_equal(ds.means, means)
    assert ds.split_sizes == {"train": 50000, "test": 5000}
    points, labels = ds.arrays("train")
    points = points.reshape(-1, 2)
    for k, mean in enumerate(means):
      mine = points[labels == k]
      assert len(mine) > 0.5 * len(points) / len(means)
      np.testing.assert_allclose(mine.mean(0), mean, atol=5 * stddev / 30)
      np.testing.assert_allclose(mine.std(0), stddev, rtol=0.1)
    modes = mixtures.assign_modes(points, means, 6 * stddev)
    np.testing.assert_array_equal(modes, labels)
  np.testing.assert_allclose(np.linalg.norm(mixtures.RING_MEANS, axis=1), 2.0,
                             rtol=1e-6)
  assert sorted(set(mixtures.GRID_MEANS[:, 0].tolist())) == [-4, -2, 0, 2, 4]
  assert len({tuple(m) for m in mixtures.GRID_MEANS.tolist()}) == 25
  # The data depend on data_seed only, not on dataset.seed.
  a = data.get_dataset("mog_ring", seed=1).arrays("test")[0]
  b = data.get_dataset("mog_ring", seed=2).arrays("test")[0]
  np.testing.assert_array_equal(a, b)


def test_mog_ring_radius_knob():
  """`mog_ring.radius`: PacGAN's ring (radius 1, std 0.01), written out as
  its config does: means (cos 2 pi k / 8, sin 2 pi k / 8)."""
  default = mixtures.mog_ring()
  assert default.radius == 2.0 and default.fingerprint == "mog_ring-std0.02-data_seed0-n50000-5000"
  ds = mixtures.mog_ring(radius=1.0, stddev=0.01, num_train_examples=4000)
  angles = 2 * np.pi * np.arange(8) / 8
  np.testing.assert_allclose(ds.means, np.stack([np.cos(angles), np.sin(angles)], -1),
                             atol=1e-6)
  assert "r1-std0.01" in ds.fingerprint
  points, labels = ds.arrays("train")
  points = points.reshape(-1, 2)
  np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=6 * 0.01)
  for k in range(8):
    np.testing.assert_allclose(points[labels == k].std(0), 0.01, rtol=0.15)
  for bad in (0, -1.0, True, "1"):
    with pytest.raises(ValueError, match="mog_ring.radius"):
      mixtures.mog_ring(radius=bad)
