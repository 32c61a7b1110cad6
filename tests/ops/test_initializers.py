"""Numerical tests of compare_gan2.ops (initializers) against independent numpy
computations."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops import initializers
from compare_gan2.ops.layers import Linear

from op_reference import _np


def _kernel(units=256, inputs=256):
  layer = Linear(units)
  layer(tf.zeros((1, inputs)))
  return _np(layer.kernel), _np(layer.bias)


def test_initializer_normal_default():
  w, b = _kernel()
  assert w.std() == pytest.approx(0.02, rel=0.03)
  assert abs(w.mean()) < 1e-3
  assert np.abs(w).max() > 0.06  # untruncated: beyond 3 stddev in 65k draws
  np.testing.assert_array_equal(b, 0.0)


def test_initializer_stddev_binding():
  gin.bind_parameter("weights.stddev", 0.5)
  w, _ = _kernel()
  assert w.std() == pytest.approx(0.5, rel=0.03)


def test_initializer_truncated():
  gin.bind_parameter("weights.initializer", "truncated")
  w, _ = _kernel()
  assert np.abs(w).max() <= 2 * 0.02 + 1e-7
  # Truncating N(0, s) at 2s leaves a std of about 0.88 s.
  assert w.std() == pytest.approx(0.88 * 0.02, rel=0.05)


def test_initializer_orthogonal():
  gin.bind_parameter("weights.initializer", "orthogonal")
  w, _ = _kernel(64, 64)
  np.testing.assert_allclose(w.T @ w, np.eye(64), atol=1e-5)


def test_initializer_unknown_raises():
  gin.bind_parameter("weights.initializer", "xavier_magic")
  with pytest.raises(ValueError, match="xavier_magic"):
    Linear(4)
  with pytest.raises(ValueError, match="xavier_magic"):
    initializers.weight_initializer()


def test_initializer_explicit_overrides_gin():
  gin.bind_parameter("weights.initializer", "orthogonal")
  layer = Linear(3, kernel_initializer="ones")
  layer(tf.zeros((1, 2)))
  np.testing.assert_array_equal(_np(layer.kernel), np.ones((2, 3)))
