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

from compare_gan2.architectures import base, resnet_trunk

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


class Generator(resnet_trunk.ResNetGenerator):
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
    super().__init__(ch=ch, output_activation=output_activation,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.channels = _check_channels(channels)
    up_blocks = (self.resolution // SEED_SIZE).bit_length() - 1
    self.make_trunk(SEED_SIZE, ch * self.channels[0], [
        (ch * m, "up" if i < up_blocks else "none", f"B{i + 1}")
        for i, m in enumerate(self.channels[1:])])

  def get_config(self):
    return {**super().get_config(), "channels": list(self.channels)}


class Discriminator(resnet_trunk.ResNetDiscriminator):
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
    super().__init__(ch=ch, project_y=project_y,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.channels = _check_channels(channels)
    widths = [ch * m for m in self.channels]
    blocks = []
    size = self.resolution
    for i, width in enumerate(widths):
      # The original pooled with SAME padding, which leaves a 1x1 map as it
      # is; at 32 px the last block therefore keeps the resolution.
      blocks.append((width, "down" if size > 1 else "none", f"B{i}"))
      size = (size + 1) // 2
    self.make_blocks(blocks)
    self.make_head(widths[-1], project_y)

  def get_config(self):
    return {**super().get_config(), "channels": list(self.channels)}


base.register("resnet5_arch", Generator, Discriminator,
              resolutions=RESOLUTIONS, gin_module="resnet5",
              test={"resolution": 32, "widths": {"ch": 4}})
