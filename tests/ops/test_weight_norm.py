"""Numerical tests of compare_gan2.ops (weight norm) against independent numpy
computations."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops import normalization as norm
from compare_gan2.ops.layers import Conv2D, Deconv2D, Linear

from op_reference import _rng, _np, _holds, _as_matrix, _SN_LAYERS


@pytest.mark.parametrize("layer_name", sorted(_SN_LAYERS))
def test_weight_norm_columns_have_norm_g(layer_name):
  make, shape = _SN_LAYERS[layer_name]
  layer = make(use_wn=True)
  layer(tf.zeros(shape))
  g = _rng(3).uniform(0.5, 3.0, size=tuple(layer.g.shape))
  layer.g.assign(g)
  w = _as_matrix(layer.normalized_kernel())
  np.testing.assert_allclose(np.linalg.norm(w, axis=0), g, rtol=1e-5)
  # Direction unchanged.
  k = _as_matrix(layer.kernel)
  np.testing.assert_allclose(w, k / np.linalg.norm(k, axis=0) * g, rtol=1e-5)


def test_weight_norm_g_starts_at_one_and_is_trainable():
  layer = Linear(5, use_wn=True)
  layer(tf.zeros((1, 7)))
  np.testing.assert_array_equal(_np(layer.g), np.ones(5))
  assert _holds(layer.trainable_weights, layer.g)


@pytest.mark.parametrize("cls", [Linear, Conv2D, Deconv2D])
def test_spectral_and_weight_norm_are_exclusive(cls):
  with pytest.raises(ValueError, match="use_sn and use_wn"):
    cls(4, use_sn=True, use_wn=True)
