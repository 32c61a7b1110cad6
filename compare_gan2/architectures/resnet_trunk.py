"""The trunk shared by the original's plain ResNet architectures
(resnet_cifar, resnet5, resnet_stl, resnet30); each architecture file keeps
only its widths, resolutions and what else differs.

G: linear z -> [seed, seed, seed channels], ResNet blocks whose norms see
(y, z), then norm-ReLU-conv3x3 (or conv3x3 alone) and the output activation.
D: ResNet blocks, ReLU, mean over space, linear plus projection of y.
Every block has a conv shortcut of `shortcut_kernel` unless the architecture
asks otherwise (resnet30's "auto").
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import Conv2D, Linear, ResNetBlock

# (output channels, "up" | "down" | "none", layer name) of one block.
BlockSpec = tuple[int, str, str]


class ResNetGenerator(base.Generator):
  """Base of the plain ResNet generators.

  A subclass creates its own layers (embeddings) first, then calls
  `make_trunk`; its `call` may split z per block and call `trunk` and
  `images` (the default `call` conditions every block on the whole z and y).

  Args:
    ch: int. Base width.
    output_activation: "tanh" ((tanh(x) + 1) / 2) or "sigmoid" (sigmoid(x),
      the original's).
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock).
  """

  def __init__(self, *, ch: int, output_activation: str = "tanh",
               shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.output_activation = base.check_output_activation(output_activation)
    self.shortcut_kernel = shortcut_kernel
    self.ch = ch

  def make_trunk(self, seed_size: int, seed_channels: int,
                 blocks: Sequence[BlockSpec], *, shortcut: str = "conv",
                 final_norm: bool = True) -> None:
    """Creates `fc_noise` (z -> [seed_size, seed_size, seed_channels]), the
    `blocks`, `final_norm` (when `final_norm`) and `final_conv`, in this
    order (the order of the weights, which checkpoints rely on)."""
    sn = self.spectral_norm
    self.seed_shape = (seed_size, seed_size, seed_channels)
    self.fc_noise = Linear(seed_size * seed_size * seed_channels, use_sn=sn,
                           name="fc_noise")
    self.blocks = [ResNetBlock(width, scale, self.batch_norm_fn, use_sn=sn,
                               shortcut=shortcut,
                               shortcut_kernel=self.shortcut_kernel, name=name)
                   for width, scale, name in blocks]
    self.final_norm = self.norm("final_norm") if final_norm else None
    self.final_conv = Conv2D(self.colors, 3, use_sn=sn, name="final_conv")

  def trunk(self, z0: tf.Tensor, z_per_block: Sequence[Any],
            y_per_block: Sequence[Any], training: bool | None) -> tf.Tensor:
    """fc_noise(z0) as the seed map, then block i conditioned on
    (y_per_block[i], z_per_block[i]): [B, res, res, C]."""
    net = tf.reshape(self.fc_noise(z0, training=training), [-1, *self.seed_shape])
    for block, zi, yi in zip(self.blocks, z_per_block, y_per_block):
      net = block(net, y=yi, z=zi, training=training)
    return net

  def images(self, net: tf.Tensor, training: bool | None,
             **condition: Any) -> tf.Tensor:
    """Images in [0, 1] from the trunk's output: norm-ReLU-conv3x3, or
    conv3x3 alone without a final norm, then the output activation."""
    if self.final_norm is None:
      return base.to_unit_range(self.final_conv(net, training=training),
                                self.output_activation)
    return self.output_images(net, training, self.output_activation, **condition)

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    n = len(self.blocks)
    net = self.trunk(z, [z] * n, [y] * n, training)
    return self.images(net, training, y=y, z=z)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "output_activation": self.output_activation,
            "shortcut_kernel": self.shortcut_kernel}


class ResNetDiscriminator(base.Discriminator):
  """Base of the plain ResNet discriminators: `make_blocks`, then the
  default `call` pools the blocks' ReLU output by its mean and applies the
  head made by `make_head`.

  Args:
    ch: int. Base width.
    project_y: bool. Projection of y when conditional.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock).
  """

  def __init__(self, *, ch: int, project_y: bool = True,
               shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.shortcut_kernel = shortcut_kernel
    self.ch = ch
    self.project_y = project_y

  def make_blocks(self, blocks: Sequence[BlockSpec], *,
                  shortcut: str = "conv") -> None:
    """`self.blocks`: D's norms, layer norm and spectral norm."""
    self.blocks = [ResNetBlock(width, scale, self.batch_norm_fn,
                               layer_norm=self.layer_norm,
                               use_sn=self.spectral_norm, shortcut=shortcut,
                               shortcut_kernel=self.shortcut_kernel, name=name)
                   for width, scale, name in blocks]

  def call(self, x, y=None, training=None):
    h = self.pooled_features(x, y, training, pool="mean")
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "project_y": self.project_y,
            "shortcut_kernel": self.shortcut_kernel}
