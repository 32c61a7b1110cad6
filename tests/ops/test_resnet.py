"""Numerical tests of compare_gan2.ops (resnet) against independent numpy
computations."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops import resnet

from op_reference import _rng, _np, _np_avgpool2, _randomize


def _np_unpool(x):
  b, h, w, c = x.shape
  y = np.zeros((b, 2 * h, 2 * w, c))
  y[:, ::2, ::2] = x
  return y


def test_upsample_and_downsample_match_numpy():
  x = _rng(20).normal(size=(2, 3, 4, 5))
  tx = tf.constant(x, tf.float32)
  near = _np(resnet.upsample(tx))
  np.testing.assert_allclose(near, x.repeat(2, axis=1).repeat(2, axis=2),
                             rtol=1e-6)
  np.testing.assert_allclose(_np(resnet.upsample(tx, "nearest")), near)
  np.testing.assert_allclose(_np(resnet.upsample(tx, "unpool")), _np_unpool(x),
                             rtol=1e-6)
  np.testing.assert_allclose(_np(resnet.downsample(tf.constant(near))), x,
                             rtol=1e-6)
  x4 = _rng(21).normal(size=(2, 4, 6, 3))
  np.testing.assert_allclose(_np(resnet.downsample(tf.constant(x4, tf.float32))),
                             _np_avgpool2(x4), rtol=1e-5, atol=1e-6)


def test_upsample_method_gin():
  assert resnet.upsample_method() == "nearest"
  gin.bind_parameter("upsample.method", "unpool")
  assert resnet.upsample_method() == "unpool"
  gin.bind_parameter("upsample.method", "bilinear")
  with pytest.raises(ValueError, match="bilinear"):
    resnet.upsample_method()


def _identity_block(block, x, **kwargs):
  """Runs `block`, zeroes conv2 so that only the shortcut path is left."""
  block(x, **kwargs)
  block.conv2.kernel.assign(tf.zeros_like(block.conv2.kernel))
  block.conv2.bias.assign(tf.zeros_like(block.conv2.bias))
  return _np(block(x, **kwargs))


@pytest.mark.parametrize("method", [None, "unpool"])
def test_resnet_block_auto_shortcut_up_is_resampled_identity(method):
  if method:
    gin.bind_parameter("upsample.method", method)
  x = _rng(22).normal(size=(2, 3, 3, 4))
  block = resnet.ResNetBlock(4, scale="up", shortcut="auto")
  y = _identity_block(block, tf.constant(x, tf.float32), training=True)
  assert block.conv_shortcut is None
  expected = _np_unpool(x) if method == "unpool" else x.repeat(2, 1).repeat(2, 2)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale, resample", [
    ("down", _np_avgpool2), ("none", lambda t: t)])
def test_resnet_block_auto_shortcut_is_resampled_identity(scale, resample):
  x = _rng(23).normal(size=(2, 4, 4, 8))
  block = resnet.ResNetBlock(8, scale=scale, shortcut="auto",
                             batch_norm_fn="batch_norm")
  y = _identity_block(block, tf.constant(x, tf.float32), training=True)
  np.testing.assert_allclose(y, resample(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", ["up", "down", "none"])
def test_resnet_block_conv_shortcut(scale):
  rng = _rng(24)
  x = rng.normal(size=(2, 4, 4, 4))
  block = resnet.ResNetBlock(4, scale=scale, shortcut="conv")
  block(tf.zeros(x.shape))
  assert block.conv_shortcut is not None
  assert block.conv_shortcut.kernel_size == 1
  _randomize(block.conv_shortcut, rng)
  y = _identity_block(block, tf.constant(x, tf.float32))
  ws = _np(block.conv_shortcut.kernel)[0, 0]
  bs = _np(block.conv_shortcut.bias)
  if scale == "up":
    expected = x.repeat(2, 1).repeat(2, 2) @ ws + bs
  elif scale == "down":
    expected = _np_avgpool2(x @ ws + bs)
  else:
    expected = x @ ws + bs
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale, out_hw", [("up", 8), ("down", 2), ("none", 4)])
@pytest.mark.parametrize("shortcut", ["conv", "auto"])
def test_resnet_block_shapes(scale, out_hw, shortcut):
  block = resnet.ResNetBlock(6, scale=scale, shortcut=shortcut,
                             batch_norm_fn="conditional_batch_norm",
                             layer_norm=True, use_sn=True)
  y = block(tf.random.normal((2, 4, 4, 3)), y=tf.random.normal((2, 5)),
            training=True)
  assert tuple(y.shape) == (2, out_hw, out_hw, 6)
  # Channels change, so "auto" needs a 1x1 conv too.
  assert block.conv_shortcut is not None


def test_resnet_block_config_round_trip_and_validation():
  block = resnet.ResNetBlock(4, scale="down", batch_norm_fn="batch_norm",
                             shortcut="auto", first_relu=False)
  config = block.get_config()
  assert config["batch_norm_fn"] == "batch_norm"
  clone = resnet.ResNetBlock.from_config(config)
  assert clone.get_config() == config
  x = tf.random.normal((2, 4, 4, 4))
  y = block(x, training=False)
  clone(x, training=False)
  clone.set_weights(block.get_weights())
  np.testing.assert_allclose(_np(clone(x, training=False)), _np(y), rtol=1e-5)
  with pytest.raises(ValueError, match="sideways"):
    resnet.ResNetBlock(4, scale="sideways")
  with pytest.raises(ValueError, match="identity"):
    resnet.ResNetBlock(4, shortcut="identity")
