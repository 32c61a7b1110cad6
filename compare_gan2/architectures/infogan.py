"""InfoGAN's networks for MNIST-like data (Chen et al., 2016,
arXiv:1606.03657, Appendix C.1), as in compare_gan's infogan.py. 28 and 32 px.

G: fc 1024, fc (s/4)^2 x 2ch, each normalized and leaky ReLU, reshape,
deconv 4x4/2 to ch (normalized, leaky ReLU), deconv 4x4/2 to colors, sigmoid.
D: conv 4x4/2 ch, leaky ReLU; conv 4x4/2 2ch, D's normalization, leaky ReLU;
fc 1024, D's normalization, leaky ReLU; linear plus projection of y.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Deconv2D, Linear
from compare_gan2.ops.feature_norm import normalize_features
from compare_gan2.ops.normalization import make_normalization

NAME = "infogan_arch"
RESOLUTIONS = (28, 32)
LEAK = 0.2


class Generator(base.Generator):
  """InfoGAN generator: [B, z_dim] -> [B, s, s, colors] in [0, 1] (sigmoid
  output, as the original).

  The original always used batch norm here and ignored G.batch_norm_fn. So
  G.batch_norm_fn left at `None` means batch_norm; set it to use another
  normalization (`@conditional_batch_norm` for a conditional G,
  `@no_batch_norm` for none).

  Args:
    ch: int. Width of the hidden deconvolution; the 2-D seed has 2 ch
      channels. Defaults to `64`.
    fc_dim: int. Width of the first dense layer. Defaults to `1024`.
  """

  def __init__(self, *, ch: int = 64, fc_dim: int = 1024, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    self.ch = ch
    self.fc_dim = fc_dim
    self.seed_size = self.resolution // 4
    sn = self.spectral_norm
    self.fc1 = Linear(fc_dim, use_sn=sn, name="g_fc1")
    self.fc2 = Linear(self.seed_size ** 2 * 2 * ch, use_sn=sn, name="g_fc2")
    self.deconv3 = Deconv2D(ch, 4, 2, use_sn=sn, name="g_dc3")
    self.deconv4 = Deconv2D(self.colors, 4, 2, use_sn=sn, name="g_dc4")
    self.norm1, self.norm2, self.norm3 = (self.norm(f"g_bn{i}") for i in (1, 2, 3))

  def norm(self, name: str) -> keras.layers.Layer:
    """G.batch_norm_fn, or batch_norm when it is unset."""
    return make_normalization(self.batch_norm_fn or "batch_norm", name,
                              self.spectral_norm)

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = self.fc1(z, training=training)
    net = normalize_features(self.norm1, net, y=y, z=z, training=training)
    net = self.fc2(tf.nn.leaky_relu(net, LEAK), training=training)
    # Normalized per unit of the flat layer, before the reshape, as the original.
    net = normalize_features(self.norm2, net, y=y, z=z, training=training)
    net = tf.reshape(tf.nn.leaky_relu(net, LEAK),
                     [-1, self.seed_size, self.seed_size, 2 * self.ch])
    net = self.deconv3(net, training=training)
    net = tf.nn.leaky_relu(self.norm3(net, y=y, z=z, training=training), LEAK)
    return tf.nn.sigmoid(self.deconv4(net, training=training))

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "fc_dim": self.fc_dim}


class Discriminator(base.Discriminator):
  """InfoGAN discriminator: [B, s, s, colors] -> ([B, 1], [B, 1],
  h [B, fc_dim]).

  D.layer_norm is not used (nor was it in the original).

  Args:
    ch: int. Width of the first convolution (the second has 2 ch). Defaults
      to `64`.
    fc_dim: int. Width of the dense layer, the size of h. Defaults to `1024`.
    project_y: bool. Projection of y when conditional (the original ignored y
      except in a conditional D.batch_norm_fn). Defaults to `True`.
  """

  def __init__(self, *, ch: int = 64, fc_dim: int = 1024,
               project_y: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    self.ch = ch
    self.fc_dim = fc_dim
    self.project_y = project_y
    sn = self.spectral_norm
    self.conv1 = Conv2D(ch, 4, 2, use_sn=sn, name="d_conv1")
    self.conv2 = Conv2D(2 * ch, 4, 2, use_sn=sn, name="d_conv2")
    self.norm2 = self.norm("d_bn2")
    self.fc3 = Linear(fc_dim, use_sn=sn, name="d_fc3")
    self.norm3 = self.norm("d_bn3")
    self.make_head(fc_dim, project_y)

  def call(self, x, y=None, training=None):
    net = tf.nn.leaky_relu(self.conv1(x, training=training), LEAK)
    net = self.conv2(net, training=training)
    net = tf.nn.leaky_relu(self.norm2(net, y=y, training=training), LEAK)
    net = tf.reshape(net, [-1, net.shape[1] * net.shape[2] * net.shape[3]])
    net = self.fc3(net, training=training)
    net = normalize_features(self.norm3, net, y=y, training=training)
    h = tf.nn.leaky_relu(net, LEAK)
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "fc_dim": self.fc_dim,
            "project_y": self.project_y}


base.register(NAME, Generator, Discriminator, resolutions=RESOLUTIONS,
              gin_module="infogan",
              test={"resolution": 28, "colors": 1, "widths": {"ch": 4, "fc_dim": 16}})
