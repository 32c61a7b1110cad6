"""ResNet with five blocks in G and D (Gulrajani et al., 2017,
arXiv:1704.00028, gan_64x64.py), as in compare_gan's resnet5.py. 128 px, also
32 and 64.

G: linear z -> 4x4x(8 ch), five ResNet blocks ch * channels[i] ->
ch * channels[i + 1]; the first log2(resolution / 4) of them up-sample, the
rest keep the resolution. Then norm-ReLU-conv3x3, (tanh + 1) / 2 (the
original: sigmoid, knob `output_activation`).
D: "B0" (colors -> ch, down), five down-sampling blocks, ReLU, mean over
space, linear plus projection of y.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Linear, ResNetBlock

SEED_SIZE = 4
NUM_BLOCKS = 5
RESOLUTIONS = (32, 64, 128)


def _check_channels(channels: Sequence[int]) -> tuple[int, ...]:
  channels = tuple(int(c) for c in channels)
  if len(channels) != NUM_BLOCKS + 1:
    raise ValueError(f"channels must list {NUM_BLOCKS + 1} multipliers (the "
                     f"input of the first block and the outputs of the "
                     f"{NUM_BLOCKS} blocks). Received: channels={channels}")
  return channels


class Generator(base.Generator):
  """ResNet5 generator: [B, z_dim] -> [B, res, res, colors] in [0, 1].

  Every norm is conditioned on the whole z (and y).

  Args:
    ch: int. Base width. Defaults to `64`.
    channels: 6 ints. Width multipliers of the seed and of the five block
      outputs. Defaults to `(8, 8, 4, 4, 2, 1)`.
    output_activation: "tanh" ((tanh(x) + 1) / 2) or "sigmoid" (sigmoid(x),
      the original's). Defaults to `"tanh"`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 64,
               channels: Sequence[int] = (8, 8, 4, 4, 2, 1),
               output_activation: str = "tanh", shortcut_kernel: int = 1,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.output_activation = base.check_output_activation(output_activation)
    self.shortcut_kernel = shortcut_kernel
    self.ch = ch
    self.channels = _check_channels(channels)
    sn = self.spectral_norm
    up_blocks = (self.resolution // SEED_SIZE).bit_length() - 1
    self.fc_noise = Linear(SEED_SIZE * SEED_SIZE * ch * self.channels[0],
                           use_sn=sn, name="fc_noise")
    self.blocks = [ResNetBlock(ch * m, "up" if i < up_blocks else "none",
                               self.batch_norm_fn, use_sn=sn, shortcut="conv",
                               shortcut_kernel=shortcut_kernel,
                               name=f"B{i + 1}")
                   for i, m in enumerate(self.channels[1:])]
    self.final_norm = self.norm("final_norm")
    self.final_conv = Conv2D(self.colors, 3, use_sn=sn, name="final_conv")

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = self.fc_noise(z, training=training)
    net = tf.reshape(net, [-1, SEED_SIZE, SEED_SIZE, self.ch * self.channels[0]])
    for block in self.blocks:
      net = block(net, y=y, z=z, training=training)
    return self.output_images(net, training, self.output_activation, y=y, z=z)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "channels": list(self.channels),
            "output_activation": self.output_activation,
            "shortcut_kernel": self.shortcut_kernel}


class Discriminator(base.Discriminator):
  """ResNet5 discriminator: [B, res, res, colors] -> ([B, 1], [B, 1],
  h [B, ch * channels[-1]]).

  Args:
    ch: int. Base width. Defaults to `64`.
    channels: 6 ints. Width multipliers of "B0" and of the five blocks after
      it. Defaults to `(1, 2, 4, 4, 8, 8)`.
    project_y: bool. Projection of y when conditional (the original had
      none). Defaults to `True`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 64,
               channels: Sequence[int] = (1, 2, 4, 4, 8, 8),
               project_y: bool = True, shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.shortcut_kernel = shortcut_kernel
    self.ch = ch
    self.channels = _check_channels(channels)
    self.project_y = project_y
    widths = [ch * m for m in self.channels]
    self.blocks = []
    size = self.resolution
    for i, width in enumerate(widths):
      # The original pooled with SAME padding, which leaves a 1x1 map as it
      # is; at 32 px the last block therefore keeps the resolution.
      scale = "down" if size > 1 else "none"
      size = (size + 1) // 2
      self.blocks.append(ResNetBlock(
          width, scale, self.batch_norm_fn, layer_norm=self.layer_norm,
          use_sn=self.spectral_norm, shortcut="conv",
          shortcut_kernel=shortcut_kernel, name=f"B{i}"))
    self.make_head(widths[-1], project_y)

  def call(self, x, y=None, training=None):
    h = self.pooled_features(x, y, training, pool="mean")
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "channels": list(self.channels), "project_y": self.project_y,
            "shortcut_kernel": self.shortcut_kernel}


base.register("resnet5_arch", Generator, Discriminator,
              resolutions=RESOLUTIONS, gin_module="resnet5")
