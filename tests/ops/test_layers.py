"""Numerical tests of compare_gan2.ops (Linear / Conv2D / Deconv2D) against independent numpy
computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops.layers import Conv2D, Deconv2D, Linear, conv1x1

from op_reference import _rng, _np, _np_conv2d_same, _np_deconv2d_same, _randomize


def test_linear_matches_numpy():
  rng = _rng(4)
  layer = Linear(5, bias_start=0.7)
  x = rng.normal(size=(3, 4))
  y = _np(layer(tf.constant(x, tf.float32)))
  np.testing.assert_array_equal(_np(layer.bias), np.full(5, 0.7, np.float32))
  np.testing.assert_allclose(y, x @ _np(layer.kernel) + 0.7, rtol=1e-5,
                             atol=1e-6)
  no_bias = Linear(5, use_bias=False)
  no_bias(tf.zeros((1, 4)))
  assert [v.name for v in no_bias.weights] == ["kernel"]


def test_conv1x1_is_a_matmul_per_pixel():
  rng = _rng(5)
  layer = conv1x1(6)
  x = rng.normal(size=(2, 3, 5, 4))
  layer(tf.zeros(x.shape))
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  assert y.shape == (2, 3, 5, 6)
  expected = x @ _np(layer.kernel)[0, 0] + _np(layer.bias)
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel_size, strides, hw", [
    (3, 1, (5, 6)), (3, 2, (8, 8)), (3, 2, (7, 5)), (4, 2, (6, 6))])
def test_conv2d_matches_numpy(kernel_size, strides, hw):
  rng = _rng(6)
  layer = Conv2D(3, kernel_size, strides)
  x = rng.normal(size=(2, *hw, 2))
  layer(tf.zeros(x.shape))
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  expected = _np_conv2d_same(x, _np(layer.kernel), strides) + _np(layer.bias)
  assert y.shape == expected.shape
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel_size, strides", [(5, 2), (4, 2), (3, 1)])
def test_deconv2d_matches_numpy(kernel_size, strides):
  rng = _rng(7)
  layer = Deconv2D(3, kernel_size, strides)
  x = rng.normal(size=(2, 4, 3, 2))
  layer(tf.zeros(x.shape))
  assert tuple(layer.kernel.shape) == (kernel_size, kernel_size, 2, 3)
  _randomize(layer, rng)
  y = _np(layer(tf.constant(x, tf.float32)))
  assert y.shape == (2, 4 * strides, 3 * strides, 3)
  expected = _np_deconv2d_same(x, _np(layer.kernel), strides) + _np(layer.bias)
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_deconv2d_default_doubles_spatial_size_in_a_function():
  layer = Deconv2D(7)
  f = tf.function(lambda x: layer(x),
                  input_signature=[tf.TensorSpec([None, 4, 4, 3])])
  y = f(tf.zeros((2, 4, 4, 3)))
  assert tuple(y.shape) == (2, 8, 8, 7)
  assert f.get_concrete_function().structured_outputs.shape.as_list() == [
      None, 8, 8, 7]


@pytest.mark.parametrize("make, shape", [
    (lambda: Linear(3, use_sn=True, singular_value="right", bias_start=0.1),
     (2, 4)),
    (lambda: Conv2D(3, 1, 2, use_wn=True, use_bias=False), (2, 4, 4, 2)),
    (lambda: Deconv2D(3, 3, 2, use_sn=True), (2, 2, 2, 2)),
])
def test_layer_config_round_trip(make, shape):
  layer = make()
  x = tf.random.normal(shape)
  y = layer(x, training=False)
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  clone(x, training=False)
  clone.set_weights(layer.get_weights())
  np.testing.assert_allclose(_np(clone(x, training=False)), _np(y), rtol=1e-6)
  restored = keras.saving.deserialize_keras_object(
      keras.saving.serialize_keras_object(layer))
  assert type(restored) is type(layer)
  assert restored.get_config() == config
