"""Inputs shared by the metric tests: seeded draws and textured images."""

import numpy as np

import tensorflow as tf


def _rng(seed=0):
  return np.random.RandomState(seed)


def _smooth_images(n, size, rng):
  """Textured images in [0, 1], so that all scales carry structure."""
  x = rng.rand(n, size, size, 3)
  x = tf.nn.avg_pool2d(x, 3, 1, "SAME").numpy()
  return np.clip(x, 0, 1)
