"""SNDCGAN, the CNN of "Spectral Normalization for GANs" (Miyato et al., 2018,
arXiv:1802.05957, Table 3), as in compare_gan's sndcgan.py.

G: linear z -> s/8 x s/8 x 8ch (normalized as flat features), ReLU, three 4x4
stride-2 transposed convolutions (4ch, 2ch, ch) with G's normalization and
ReLU, a 3x3 stride-1 transposed convolution to colors; (tanh + 1) / 2.
D: seven convolutions alternating 3x3 stride 1 and 4x4 stride 2, leaky ReLU
0.1, no normalization; linear on the flattened s/8 x s/8 x 8ch features plus
projection of y.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Deconv2D, Linear
from compare_gan2.ops.feature_norm import normalize_features

NAME = "sndcgan_arch"
G_CHANNELS = (4, 2, 1)  # Widths of the stride-2 deconvolutions, units of ch.
G_SEED_CHANNELS = 8
# D widths in units of ch: compare_gan's (the default) and the paper's.
D_CHANNELS = (1, 2, 2, 4, 4, 8, 8)
D_CHANNELS_PAPER = (1, 1, 2, 2, 4, 4, 8)
D_KERNELS = (3, 4, 3, 4, 3, 4, 3)
D_STRIDES = (1, 2, 1, 2, 1, 2, 1)
LEAK = 0.1


class Generator(base.Generator):
  """SNDCGAN generator: [B, z_dim] -> [B, s, s, colors] in [0, 1].

  The first normalization acts on the linear layer's flat output (per unit,
  before the reshape), as in the original.

  Args:
    ch: int. Width of the last stride-2 layer; the seed has 8 ch channels.
      Defaults to `64`.
  """

  def __init__(self, *, ch: int = 64, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, None)
    self.ch = ch
    self.seed_size = self.resolution // 8
    sn = self.spectral_norm
    self.fc = Linear(self.seed_size ** 2 * G_SEED_CHANNELS * ch, use_sn=sn,
                     name="g_fc1")
    self.fc_norm = self.norm("g_bn1")
    self.norms = [self.norm(f"g_bn{i + 2}") for i in range(len(G_CHANNELS))]
    self.deconvs = [Deconv2D(m * ch, 4, 2, use_sn=sn, name=f"g_dc{i + 2}")
                    for i, m in enumerate(G_CHANNELS)]
    # A stride-1 transposed convolution, as the original; a conv in effect.
    self.final_deconv = Deconv2D(self.colors, 3, 1, use_sn=sn,
                                 name=f"g_dc{len(G_CHANNELS) + 2}")

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = self.fc(z, training=training)
    net = tf.nn.relu(normalize_features(self.fc_norm, net, y=y, z=z,
                                        training=training))
    net = tf.reshape(net, [-1, self.seed_size, self.seed_size,
                           G_SEED_CHANNELS * self.ch])
    for deconv, norm in zip(self.deconvs, self.norms):
      net = deconv(net, training=training)
      net = tf.nn.relu(norm(net, y=y, z=z, training=training))
    net = self.final_deconv(net, training=training)
    return (tf.nn.tanh(net) + 1.0) / 2.0

  def get_config(self):
    return {**super().get_config(), "ch": self.ch}


class Discriminator(base.Discriminator):
  """SNDCGAN discriminator: [B, s, s, colors] in [0, 1] -> ([B, 1], [B, 1],
  h [B, F]), F = (s/8)^2 * 8 ch (with the default multipliers).

  Images are mapped to [-1, 1] first, the range the paper trained on. Like the
  original, D has no normalization: D.batch_norm_fn and D.layer_norm are not
  used; spectral norm comes from `D.spectral_norm`.

  Args:
    ch: int. Base width. Defaults to `64`.
    channel_multipliers: seven widths in units of ch. Defaults to
      compare_gan's `(1, 2, 2, 4, 4, 8, 8)`; the paper's table has
      `(1, 1, 2, 2, 4, 4, 8)` (`D_CHANNELS_PAPER`).
    project_y: bool. Projection of y when conditional (the original ignored
      y). Defaults to `True`.
  """

  def __init__(self, *, ch: int = 64,
               channel_multipliers: Sequence[int] = D_CHANNELS,
               project_y: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    base.check_resolution(NAME, self.resolution, None)
    channel_multipliers = tuple(int(m) for m in channel_multipliers)
    if len(channel_multipliers) != len(D_KERNELS):
      raise ValueError(
          f"channel_multipliers must have {len(D_KERNELS)} entries. "
          f"Received: channel_multipliers={channel_multipliers}")
    self.ch = ch
    self.channel_multipliers = channel_multipliers
    self.project_y = project_y
    sn = self.spectral_norm
    self.convs = [Conv2D(m * ch, k, s, use_sn=sn, name=f"d_conv{i + 1}")
                  for i, (m, k, s) in enumerate(
                      zip(channel_multipliers, D_KERNELS, D_STRIDES))]
    features = (self.resolution // 8) ** 2 * channel_multipliers[-1] * ch
    self.make_head(features, project_y)

  def call(self, x, y=None, training=None):
    net = x * 2.0 - 1.0
    for conv in self.convs:
      net = tf.nn.leaky_relu(conv(net, training=training), LEAK)
    h = tf.reshape(net, [-1, net.shape[1] * net.shape[2] * net.shape[3]])
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "channel_multipliers": self.channel_multipliers,
            "project_y": self.project_y}


base.register(NAME, Generator, Discriminator, resolutions=None,
              gin_module="sndcgan",
              test={"resolution": 16, "widths": {"ch": 4}})
