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


def _pacgan_metric_logger(points, means, variance):
  """PacGAN's MetricLogger.do (fjxmlzn/PacGAN, pacgan/extensions.py),
  transcribed: each point to its nearest mode in standardized distance, kept
  under 3; mode coverage = modes with a count; its entropy of coverage."""
  import scipy.stats  # pylint: disable=g-import-not-at-top
  detail = np.zeros(len(means))
  for point in points:
    dis = [np.sqrt(np.sum((point - m) ** 2 / variance)) for m in means]
    if min(dis) < 3:
      detail[int(np.argmin(dis))] += 1
  return (len(np.nonzero(detail)[0]), detail.sum() / len(points),
          scipy.stats.entropy(detail / detail.sum()))


def test_mode_kl_is_log_k_minus_pacgans_entropy_of_coverage():
  """PacGAN's Table 1 reverse KL, KL(p || uniform) = log K - H(p), from its
  code's per-mode counts; the modes and share agree with its logger too."""
  means, stddev = mixtures.GRID_MEANS, mixtures.GRID_STDDEV
  real_points, labels = mixtures.sample_mixture(means, stddev, 5000, seed=1)
  real = metric_base.SampleSet(real_points.reshape(-1, 1, 1, 2), None, labels=labels)
  rng = np.random.default_rng(4)
  hits = np.repeat(np.arange(7), [400, 200, 100, 50, 20, 5, 1])
  near = means[hits] + rng.normal(0, stddev, (len(hits), 2))
  fake_points = np.concatenate([near, rng.uniform(-1, 1, (200, 2))]).astype(np.float32)
  fake = metric_base.SampleSet(fake_points.reshape(-1, 1, 1, 2), None)
  modes, share, entropy = _pacgan_metric_logger(fake_points, means, stddev ** 2)
  kl = scores.METRICS.get("mode_kl")(real, fake)["mode_reverse_kl"]
  assert kl == pytest.approx(np.log(25) - entropy, rel=2e-3)
  assert scores.METRICS.get("modes_hit")(real, fake)["modes_hit"] == modes
  assert scores.METRICS.get("mode_coverage")(real, fake)["high_quality_fraction"] == \
      pytest.approx(share, abs=5e-3)  # the std is estimated from the real points
  assert metric_base.DIRECTIONS["mode_reverse_kl"] == -1
  # An even spread over all modes: 0; no high-quality sample: undefined.
  even = metric_base.SampleSet(np.repeat(means, 4, 0).reshape(-1, 1, 1, 2), None)
  assert scores.METRICS.get("mode_kl")(real, even)["mode_reverse_kl"] == pytest.approx(0, abs=1e-9)
  far = metric_base.SampleSet(np.full((10, 1, 1, 2), 9.0, np.float32), None)
  assert np.isnan(scores.METRICS.get("mode_kl")(real, far)["mode_reverse_kl"])
