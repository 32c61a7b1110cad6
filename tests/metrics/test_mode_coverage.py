"""Mode coverage and modes hit on the ring of Gaussians, against counts written out."""

import numpy as np
import pytest

from compare_gan2.data import mixtures
from compare_gan2.metrics import scores
from compare_gan2.metrics import base as metric_base


def test_mode_coverage_counts_modes():
  means, stddev = mixtures.RING_MEANS, mixtures.RING_STDDEV
  real_points, labels = mixtures.sample_mixture(means, stddev, 4000, seed=1)
  real = metric_base.SampleSet(real_points.reshape(-1, 1, 1, 2), None, labels=labels)
  rng = np.random.default_rng(2)
  # 5 modes hit (one of them only by a few points), plus far-away points.
  hits = np.repeat([0, 1, 2, 3, 4], [300, 300, 300, 300, 2])
  near = means[hits] + rng.normal(0, stddev, (len(hits), 2))
  far = rng.uniform(-0.5, 0.5, (400, 2))  # the ring's empty middle
  fake_points = np.concatenate([near, far]).astype(np.float32)
  fake = metric_base.SampleSet(fake_points.reshape(-1, 1, 1, 2), None)
  out = scores.METRICS.get("mode_coverage")(real, fake)
  # Independently: within 3 std of the true means; covered with >= N/K/10.
  d = np.linalg.norm(fake_points[:, None] - means[None], axis=-1)
  high = d.min(1) <= 3 * stddev
  counts = np.bincount(d.argmin(1)[high], minlength=8)
  assert out["high_quality_fraction"] == pytest.approx(high.mean(), abs=2e-3)
  assert out["modes_covered"] == np.sum(counts >= 0.1 * len(fake_points) / 8) == 4


def test_modes_hit_counts_any_high_quality_sample():
  """VEEGAN's / PacGAN's count: a mode with one sample within 3 std counts
  (PacGAN's MetricLogger: the modes with a nonzero count)."""
  means, stddev = mixtures.RING_MEANS, mixtures.RING_STDDEV
  real_points, labels = mixtures.sample_mixture(means, stddev, 4000, seed=1)
  real = metric_base.SampleSet(real_points.reshape(-1, 1, 1, 2), None, labels=labels)
  rng = np.random.default_rng(3)
  hits = np.repeat([0, 1, 2, 3, 4, 5], [300, 300, 300, 300, 2, 1])
  near = means[hits] + rng.normal(0, stddev / 2, (len(hits), 2))
  far = rng.uniform(-0.5, 0.5, (400, 2))
  fake_points = np.concatenate([near, far]).astype(np.float32)
  fake = metric_base.SampleSet(fake_points.reshape(-1, 1, 1, 2), None)
  d = np.linalg.norm(fake_points[:, None] - means[None], axis=-1)
  counts = np.bincount(d.argmin(1)[d.min(1) <= 3 * stddev], minlength=8)
  assert scores.METRICS.get("modes_hit")(real, fake)["modes_hit"] == np.sum(counts > 0) == 6
  assert scores.METRICS.get("mode_coverage")(real, fake)["modes_covered"] == 4
  assert metric_base.DIRECTIONS["modes_hit"] == 1


def test_mode_coverage_needs_points():
  real = metric_base.SampleSet(np.zeros((4, 2, 2, 1)), None, labels=np.zeros(4, int))
  with pytest.raises(ValueError, match="2-D points"):
    scores.METRICS.get("mode_coverage")(real, real)
