"""Non-local (self-attention) block of SAGAN (Zhang et al., 2019, arXiv:1805.08318)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.ops.layers import conv1x1


@keras.saving.register_keras_serializable("compare_gan2")
class NonLocalBlock(keras.layers.Layer):
  """x + sigma * conv1x1(softmax(theta phi^T) g), sigma a scalar initialised at 0.

  theta, phi: 1x1 convs to C/8; g: 1x1 conv to C/2; phi and g are 2x2 max-pooled.
  No biases. Input and output [B, H, W, C].

  Args:
    use_sn: bool. Spectral norm on the four 1x1 convolutions.
  """

  def __init__(self, use_sn: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.use_sn = use_sn

  def build(self, input_shape):
    c = int(input_shape[-1])
    if c % 8:
      raise ValueError(f"{self.name}: channels must be divisible by 8. "
                       f"Received: input_shape={tuple(input_shape)}")
    kw = dict(use_sn=self.use_sn, use_bias=False)
    self.theta = conv1x1(c // 8, name="theta", **kw)
    self.phi = conv1x1(c // 8, name="phi", **kw)
    self.g = conv1x1(c // 2, name="g", **kw)
    self.attn_out = conv1x1(c, name="attn", **kw)
    self.sigma = self.add_weight(name="sigma", shape=(), initializer="zeros")

  def call(self, x, training=None):
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    pool = lambda t: tf.nn.max_pool2d(t, 2, 2, "VALID")
    theta = tf.reshape(self.theta(x, training=training), [-1, h * w, c // 8])
    phi = tf.reshape(pool(self.phi(x, training=training)), [-1, h * w // 4, c // 8])
    g = tf.reshape(pool(self.g(x, training=training)), [-1, h * w // 4, c // 2])
    attn = tf.nn.softmax(tf.matmul(theta, phi, transpose_b=True))
    o = tf.reshape(tf.matmul(attn, g), [-1, h, w, c // 2])
    return x + self.sigma * self.attn_out(o, training=training)

  def get_config(self):
    return {**super().get_config(), "use_sn": self.use_sn}
