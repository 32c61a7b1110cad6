"""ResNet for 48x48 images, STL-10 (Miyato et al., 2018, arXiv:1802.05957,
Table 5), as in compare_gan's resnet_stl.py.

G: linear z -> 6x6x(8 ch), up-sampling blocks 8ch -> 4ch -> 2ch -> ch (6 -> 48
px), norm-ReLU-conv3x3, (tanh + 1) / 2 (the original: sigmoid, knob
`output_activation`). D: "B0" ch (down), then 2ch, 4ch, 8ch
(down) and 16ch (no resampling): 48 -> 3 px; ReLU, mean over space, linear
plus projection of y.
"""

from __future__ import annotations

from typing import Any

from compare_gan2.architectures import base, resnet_trunk

SEED_SIZE = 6
# Output widths of the blocks, in units of ch (the original's "magic" lists).
G_CHANNELS = (4, 2, 1)
G_SEED_CHANNELS = 8
D_CHANNELS = (1, 2, 4, 8, 16)
# The last D block keeps the 3x3 resolution.
D_DOWN = (True, True, True, True, False)


class Generator(resnet_trunk.ResNetGenerator):
  """ResNet STL-10 generator: [B, z_dim] -> [B, 48, 48, colors] in [0, 1].

  Every norm is conditioned on the whole z (and y).

  Args:
    ch: int. Base width; the seed has 8 ch channels. Defaults to `64`.
    output_activation: "tanh" ((tanh(x) + 1) / 2) or "sigmoid" (sigmoid(x),
      the original's). Defaults to `"tanh"`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 64, output_activation: str = "tanh",
               shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(ch=ch, output_activation=output_activation,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.make_trunk(SEED_SIZE, G_SEED_CHANNELS * ch, [
        (m * ch, "up", f"B{i + 1}") for i, m in enumerate(G_CHANNELS)])


class Discriminator(resnet_trunk.ResNetDiscriminator):
  """ResNet STL-10 discriminator: [B, 48, 48, colors] -> ([B, 1], [B, 1],
  h [B, 16 ch]).

  Args:
    ch: int. Base width. Defaults to `64`.
    project_y: bool. Projection of y when conditional (the original had
      none). Defaults to `True`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 64, project_y: bool = True,
               shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(ch=ch, project_y=project_y,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.make_blocks([(m * ch, "down" if down else "none", f"B{i}")
                      for i, (m, down) in enumerate(zip(D_CHANNELS, D_DOWN))])
    self.make_head(D_CHANNELS[-1] * ch, project_y)


base.register("resnet_stl_arch", Generator, Discriminator,
              resolutions=(48,), gin_module="resnet_stl",
              test={"resolution": 48, "widths": {"ch": 4}})
