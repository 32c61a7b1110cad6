"""MS-SSIM against tf.image.ssim_multiscale, and the diversity score (REFERENCE.md sec. 8)."""

import numpy as np
import pytest

import tensorflow as tf

from compare_gan2 import metrics
from metric_cases import _rng, _smooth_images


@pytest.mark.parametrize("size", [176, 181])
def test_ms_ssim_matches_tf(size):
  rng = _rng(7)
  a = _smooth_images(3, size, rng)
  b = np.clip(a + 0.1 * rng.randn(*a.shape), 0, 1)
  expected = tf.image.ssim_multiscale(
      tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=1.0,
      filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
  got = metrics.ms_ssim(a, b, max_val=1.0)
  assert got.shape == (3,)
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_ms_ssim_identical_is_one_and_diversity():
  rng = _rng(8)
  images = _smooth_images(4, 176, rng)
  np.testing.assert_allclose(metrics.ms_ssim(images, images), 1.0, atol=1e-9)
  diverse = metrics.ms_ssim_diversity(images, num_pairs=6, seed=0)
  collapsed = metrics.ms_ssim_diversity(np.repeat(images[:1], 4, axis=0),
                                        num_pairs=6, seed=0)
  assert diverse < 0.9 and collapsed == pytest.approx(1.0)


def test_ms_ssim_rejects_small_images():
  x = np.zeros((1, 64, 64, 3))
  with pytest.raises(ValueError, match="at least 161x161"):
    metrics.ms_ssim(x, x)
