"""Example architecture: a linear G and a one-convolution D, for any
power-of-two resolution from 8 on."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Linear


class Generator(base.Generator):
  """Linear G: [B, z_dim] (+ one-hot y) -> [B, s, s, colors] in [0, 1]."""

  def __init__(self, **kwargs: Any):
    super().__init__(**kwargs)
    self.fc = Linear(self.resolution ** 2 * self.colors, use_sn=self.spectral_norm,
                     name="fc")

  def call(self, z, y=None, training=None):
    if self.conditional:
      z = tf.concat([z, y], axis=1)
    net = self.fc(z, training=training)
    net = tf.reshape(net, [-1, self.resolution, self.resolution, self.colors])
    return base.to_unit_range(net, "tanh")


class Discriminator(base.Discriminator):
  """One 3x3 stride-2 convolution of `ch` channels, leaky ReLU, mean over
  space: ([B, 1], [B, 1], h [B, ch]), plus the projection of y when
  conditional.

  Args:
    ch: int. Width of the convolution (gin `my_arch.Discriminator.ch`).
  """

  def __init__(self, *, ch: int = 16, **kwargs: Any):
    super().__init__(**kwargs)
    self.ch = ch
    self.conv = Conv2D(ch, 3, 2, use_sn=self.spectral_norm, name="conv")
    self.make_head(ch)

  def call(self, x, y=None, training=None):
    net = tf.nn.leaky_relu(self.conv(x, training=training), 0.2)
    return self.head(tf.reduce_mean(net, axis=[1, 2]), y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch}


# `test`: its tiny setting in the tests of every registered part (the
# smallest resolution it supports, narrow widths: one step in a second).
base.register("my_arch", Generator, Discriminator, gin_module="my_arch",
              test={"resolution": 8, "widths": {"ch": 4}})
