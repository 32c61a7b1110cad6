"""resnet5: its blocks at the default width per resolution, custom channels."""

import gin
import pytest

from compare_gan2.architectures import base
from compare_gan2.architectures import resnet5
from resnet_cases import Z_DIM, _blocks


@pytest.mark.parametrize("resolution,up", [(32, 3), (64, 4), (128, 5)])
def test_resnet5_structure_at_default_width(resolution, up):
  g = resnet5.Generator(resolution=resolution, colors=3, z_dim=128)
  d = resnet5.Discriminator(resolution=resolution, colors=3)
  assert g.fc_noise.units == 4 * 4 * 512
  # Always five blocks; those beyond log2(resolution / 4) keep the size.
  assert _blocks(g) == [
      (c, "up" if i < up else "none")
      for i, c in enumerate([512, 256, 256, 128, 64])]
  # B0 + five down blocks; at 32 px the map is 1x1 before the last block,
  # which the original's SAME pooling left unchanged.
  last = "none" if resolution == 32 else "down"
  assert _blocks(d) == [(64, "down"), (128, "down"), (256, "down"),
                          (256, "down"), (512, "down"), (512, last)]


def test_resnet5_custom_channels_and_layer_norm_build():
  gin.parse_config("""
      resnet5.Generator.ch = 2
      resnet5.Generator.channels = (4, 4, 2, 2, 1, 1)
      resnet5.Discriminator.ch = 2
      resnet5.Discriminator.channels = (1, 2, 2, 4, 4, 3)
      D.layer_norm = True
  """)
  g, d = base.build("resnet5_arch", resolution=32, colors=1, z_dim=Z_DIM)
  assert g.fc_noise.kernel.shape == (Z_DIM, 4 * 4 * 2 * 4)
  assert g.blocks[-1].out_channels == 2
  assert d.final_fc.kernel.shape == (2 * 3, 1)
  assert d.blocks[0].ln1.built
