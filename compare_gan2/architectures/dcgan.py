"""DCGAN (Radford et al., 2016, arXiv:1511.06434), as in compare_gan's
dcgan.py.

G: linear z -> s/16 x s/16 x 8ch, norm, ReLU, then four 5x5 stride-2
transposed convolutions (4ch, 2ch, ch, colors), each but the last followed by
G's normalization and ReLU; (tanh + 1) / 2. D: four 5x5 stride-2 convolutions
(ch, 2ch, 4ch, 8ch) with leaky ReLU 0.2, D's normalization after all but the
first; linear on the flattened s/16 x s/16 x 8ch features plus projection of y.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Deconv2D, Linear

NAME = "dcgan_arch"
# Four stride-2 layers: the seed is s/16, so any power of two from 16 on.
RESOLUTIONS = tuple(2 ** k for k in range(4, 11))
G_CHANNELS = (4, 2, 1)  # Widths of the hidden deconvolutions, in units of ch.
G_SEED_CHANNELS = 8
D_CHANNELS = (1, 2, 4, 8)
KERNEL_SIZE = 5
LEAK = 0.2


class Generator(base.Generator):
  """DCGAN generator: [B, z_dim] -> [B, s, s, colors] in [0, 1].

  G.batch_norm_fn defaults to none, as in the original; the DCGAN configs set
  `G.batch_norm_fn = @batch_norm`.

  Args:
    ch: int. Width of the last hidden layer; the seed has 8 ch channels.
      Defaults to `64` (the original's gf_dim).
  """

  def __init__(self, *, ch: int = 64, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    self.ch = ch
    self.seed_size = self.resolution // 16
    sn = self.spectral_norm
    self.fc = Linear(self.seed_size ** 2 * G_SEED_CHANNELS * ch, use_sn=sn,
                     name="g_fc1")
    widths = [m * ch for m in G_CHANNELS] + [self.colors]
    self.norms = [self.norm(f"g_bn{i + 1}") for i in range(len(widths))]
    self.deconvs = [Deconv2D(w, KERNEL_SIZE, 2, use_sn=sn, name=f"g_dc{i + 1}")
                    for i, w in enumerate(widths)]

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = self.fc(z, training=training)
    net = tf.reshape(net, [-1, self.seed_size, self.seed_size,
                           G_SEED_CHANNELS * self.ch])
    for norm, deconv in zip(self.norms, self.deconvs):
      net = tf.nn.relu(norm(net, y=y, z=z, training=training))
      net = deconv(net, training=training)
    return (tf.nn.tanh(net) + 1.0) / 2.0

  def get_config(self):
    return {**super().get_config(), "ch": self.ch}


class Discriminator(base.Discriminator):
  """DCGAN discriminator: [B, s, s, colors] -> ([B, 1], [B, 1], h [B, F]),
  F = (s/16)^2 * 8 ch.

  The original returned h as the last feature map; here it is flattened, as
  the head and the other architectures need. D.layer_norm is not used (nor was
  it in the original).

  Args:
    ch: int. Width of the first convolution. Defaults to `64` (df_dim).
    project_y: bool. Projection of y when conditional (the original ignored y
      except in a conditional D.batch_norm_fn). Defaults to `True`.
  """

  def __init__(self, *, ch: int = 64, project_y: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    self.ch = ch
    self.project_y = project_y
    sn = self.spectral_norm
    self.convs = [Conv2D(m * ch, KERNEL_SIZE, 2, use_sn=sn, name=f"d_conv{i + 1}")
                  for i, m in enumerate(D_CHANNELS)]
    # No normalization on the first layer (DCGAN paper, section 3).
    self.norms = [None] + [self.norm(f"d_bn{i}")
                           for i in range(1, len(D_CHANNELS))]
    self.make_head((self.resolution // 16) ** 2 * D_CHANNELS[-1] * ch, project_y)

  def call(self, x, y=None, training=None):
    net = x
    for conv, norm in zip(self.convs, self.norms):
      net = conv(net, training=training)
      if norm is not None:
        net = norm(net, y=y, training=training)
      net = tf.nn.leaky_relu(net, LEAK)
    h = tf.reshape(net, [-1, net.shape[1] * net.shape[2] * net.shape[3]])
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "project_y": self.project_y}


base.register(NAME, Generator, Discriminator, resolutions=RESOLUTIONS,
              gin_module="dcgan",
              test={"resolution": 16, "widths": {"ch": 4}})
