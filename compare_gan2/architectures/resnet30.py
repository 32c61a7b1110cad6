"""ResNet with 30 blocks in six superblocks (Gulrajani et al., 2017,
arXiv:1704.00028, gan_64x64.py, deepened to 128 px), as in compare_gan's
resnet30.py.

G: linear z -> 4x4x(8 ch); superblock s (0..5) is five ResNet blocks of
8 ch / 2^s channels, the first five superblocks are followed by an
up-sampling block halving the width (4 -> 128 px); conv3x3, (tanh + 1) / 2
(no final norm or ReLU, as in the original; the original's sigmoid is
`output_activation = "sigmoid"`).
D: conv3x3 to ch / 4; superblock s is five blocks of ch / 4 * 2^s channels,
the first five followed by a down-sampling block doubling the width
(128 -> 4 px); the 4x4x(8 ch) map, flattened, is h; linear plus projection.

Shortcuts: by default the 30 blocks that keep shape and width have identity
shortcuts, as in Gulrajani et al.'s code; compare_gan gave every block a conv
shortcut (`shortcut="conv"`, with `shortcut_kernel=3` as there; 1x1 by
default), which with 0.02-stddev initial weights shrinks D's signal by orders
of magnitude over 35 blocks.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base, resnet_trunk
from compare_gan2.ops import Conv2D

SEED_SIZE = 4
NUM_SUPERBLOCKS = 6
BLOCKS_PER_SUPERBLOCK = 5
SHORTCUTS = ("auto", "conv")


def _check_options(ch: int, shortcut: str) -> None:
  # Widths go from 8 ch down to ch / 4 (G) and from ch / 4 up to 8 ch (D).
  if ch < 4 or ch % 4:
    raise ValueError(f"resnet30: ch must be a positive multiple of 4. "
                     f"Received: ch={ch}")
  if shortcut not in SHORTCUTS:
    raise ValueError(f"resnet30: shortcut must be one of {SHORTCUTS}. "
                     f"Received: shortcut={shortcut!r}")


def _superblocks(width: int, scale: str) -> list[resnet_trunk.BlockSpec]:
  """The 35 blocks: each superblock of `width` channels is followed (but the
  last) by a `scale` block named "B_<s>_<scale>" that halves ("up") or
  doubles ("down") the width."""
  blocks = []
  for s in range(NUM_SUPERBLOCKS):
    blocks += [(width, "none", f"B_{s}_{i}") for i in range(BLOCKS_PER_SUPERBLOCK)]
    if s < NUM_SUPERBLOCKS - 1:
      width = width // 2 if scale == "up" else width * 2
      blocks.append((width, scale, f"B_{s}_{scale}"))
  return blocks


class Generator(resnet_trunk.ResNetGenerator):
  """ResNet30 generator: [B, z_dim] -> [B, 128, 128, colors] in [0, 1].

  Every norm is conditioned on the whole z (and y).

  Args:
    ch: int. Base width, divisible by 4; the seed has 8 ch channels, the last
      superblock ch / 4. Defaults to `64`.
    shortcut: "auto" (identity where a block keeps shape and width, else a
      conv) or "conv" (always a conv, as compare_gan). Defaults to `"auto"`.
    shortcut_kernel: int. Kernel size of the conv shortcuts: 1, or 3 as the
      original (resnet_ops.ResNetBlock). Defaults to `1`.
    output_activation: "tanh" ((tanh(x) + 1) / 2) or "sigmoid" (sigmoid(x),
      the original's). Defaults to `"tanh"`.
  """

  def __init__(self, *, ch: int = 64, shortcut: str = "auto",
               shortcut_kernel: int = 1, output_activation: str = "tanh",
               **kwargs: Any):
    _check_options(ch, shortcut)
    super().__init__(ch=ch, output_activation=output_activation,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.shortcut = shortcut
    self.make_trunk(SEED_SIZE, 8 * ch, _superblocks(8 * ch, "up"),
                    shortcut=shortcut, final_norm=False)

  def get_config(self):
    return {**super().get_config(), "shortcut": self.shortcut}


class Discriminator(resnet_trunk.ResNetDiscriminator):
  """ResNet30 discriminator: [B, 128, 128, colors] -> ([B, 1], [B, 1],
  h [B, 4 * 4 * 8 ch]).

  Args:
    ch: int. Base width, divisible by 4; the first conv has ch / 4 channels,
      the last superblock 8 ch. Defaults to `64`.
    shortcut: "auto" or "conv", as for the generator. Defaults to `"auto"`.
    shortcut_kernel: int. 1 or 3, as for the generator. Defaults to `1`.
    project_y: bool. Projection of y when conditional (the original had
      none). Defaults to `True`.
  """

  def __init__(self, *, ch: int = 64, shortcut: str = "auto",
               shortcut_kernel: int = 1, project_y: bool = True, **kwargs: Any):
    _check_options(ch, shortcut)
    super().__init__(ch=ch, project_y=project_y,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.shortcut = shortcut
    self.color_conv = Conv2D(ch // 4, 3, use_sn=self.spectral_norm,
                             name="color_conv")
    # The original named the down-sampling blocks "B_<s>_up" as in G.
    self.make_blocks(_superblocks(ch // 4, "down"), shortcut=shortcut)
    self.make_head(SEED_SIZE * SEED_SIZE * 8 * ch, project_y)

  def call(self, x, y=None, training=None):
    net = self.color_conv(x, training=training)
    for block in self.blocks:
      net = block(net, y=y, training=training)
    h = tf.reshape(net, [-1, SEED_SIZE * SEED_SIZE * 8 * self.ch])
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "shortcut": self.shortcut}


base.register("resnet30_arch", Generator, Discriminator,
              resolutions=(128,), gin_module="resnet30",
              test={"resolution": 128, "widths": {"ch": 4}, "slow": True})
