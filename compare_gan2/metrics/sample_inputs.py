"""Small random `SampleSet`s a metric can score, for the tests of every
registered part: a metric names the one it needs when it registers
(`register_metric(test_inputs=...)`; default `features`)."""

from __future__ import annotations

import numpy as np

from compare_gan2.metrics.base import SampleSet


def features(rng: np.random.RandomState, n: int = 64, dim: int = 8,
             classes: int = 5) -> SampleSet:
  """Random images [n, 32, 32, 3], features, logits and labels."""
  return SampleSet(rng.rand(n, 32, 32, 3), rng.randn(n, dim), rng.randn(n, classes),
                   rng.randint(0, classes, n))


def points(rng: np.random.RandomState, n: int = 64) -> SampleSet:
  """Labelled points of 4 modes (corners of the unit square), as [n, 1, 1, 2]."""
  labels = rng.randint(0, 4, n)
  modes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
  values = modes[labels] + 0.05 * rng.randn(n, 2)
  return SampleSet(values.reshape(n, 1, 1, 2), values, None, labels)


def d_logits(rng: np.random.RandomState, n: int = 16) -> SampleSet:
  """Reals with D's logits [n, 1] (as features and logits)."""
  logits = rng.randn(n, 1)
  return SampleSet(rng.rand(n, 16, 16, 3), logits, logits, rng.randint(0, 5, n))


def large_images(rng: np.random.RandomState, n: int = 2) -> SampleSet:
  """Two grey images of 161 px: MS-SSIM's five scales of an 11 px window."""
  return SampleSet(rng.rand(n, 161, 161, 1), rng.randn(n, 4))
