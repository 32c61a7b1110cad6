"""Numerical tests of compare_gan2.ops (NonLocalBlock) against independent numpy
computations."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops.attention import NonLocalBlock

from op_reference import _rng, _np, _holds, _np_maxpool2


def _np_softmax(a):
  a = a - a.max(-1, keepdims=True)
  e = np.exp(a)
  return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("use_sn", [False, True])
def test_non_local_block_matches_numpy(use_sn):
  rng = _rng(19)
  b, h, w, c = 2, 4, 6, 16
  x = rng.normal(size=(b, h, w, c))
  tx = tf.constant(x, tf.float32)
  block = NonLocalBlock(use_sn=use_sn)
  y0 = block(tx, training=False)
  assert float(_np(block.sigma)) == 0.0
  np.testing.assert_array_equal(_np(y0), _np(tx))
  for conv in (block.theta, block.phi, block.g, block.attn_out):
    assert not conv.use_bias and conv.kernel_size == 1
    conv.kernel.assign(rng.normal(size=tuple(conv.kernel.shape)) * 0.3)
  block.sigma.assign(1.0)
  y = _np(block(tx, training=False))

  def k(conv):
    return _np(conv.normalized_kernel(training=False))[0, 0]

  assert k(block.theta).shape == (c, c // 8)
  assert k(block.g).shape == (c, c // 2)
  assert k(block.attn_out).shape == (c // 2, c)
  theta = (x @ k(block.theta)).reshape(b, h * w, c // 8)
  phi = _np_maxpool2(x @ k(block.phi)).reshape(b, h * w // 4, c // 8)
  g = _np_maxpool2(x @ k(block.g)).reshape(b, h * w // 4, c // 2)
  attn = _np_softmax(theta @ phi.transpose(0, 2, 1))
  o = (attn @ g).reshape(b, h, w, c // 2) @ k(block.attn_out)
  np.testing.assert_allclose(y, x + o, rtol=1e-4, atol=1e-4)
  assert _holds(block.trainable_weights, block.sigma)


def test_non_local_block_channels_not_divisible_by_8_raise():
  with pytest.raises(ValueError, match="divisible by 8"):
    NonLocalBlock()(tf.zeros((1, 4, 4, 12)))
