"""resnet_stl: its blocks at the default width."""

from compare_gan2.architectures import resnet_stl
from resnet_cases import _blocks


def test_resnet_stl_structure_at_default_width():
  g = resnet_stl.Generator(resolution=48, colors=3, z_dim=128)
  d = resnet_stl.Discriminator(resolution=48, colors=3)
  assert g.fc_noise.units == 6 * 6 * 512
  assert _blocks(g) == [(256, "up"), (128, "up"), (64, "up")]
  assert _blocks(d) == [(64, "down"), (128, "down"), (256, "down"),
                          (512, "down"), (1024, "none")]
  assert [b.name for b in d.blocks] == [f"B{i}" for i in range(5)]
