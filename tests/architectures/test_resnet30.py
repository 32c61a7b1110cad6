"""resnet30: its blocks and shortcuts at the default width."""

from compare_gan2.architectures import resnet30
from resnet_cases import _blocks


def test_resnet30_structure_at_default_width():
  g = resnet30.Generator(resolution=128, colors=3, z_dim=128)
  d = resnet30.Discriminator(resolution=128, colors=3)
  assert len(g.blocks) == len(d.blocks) == 6 * 5 + 5
  g_widths = [512, 256, 128, 64, 32, 16]
  expected_g = []
  for s, w in enumerate(g_widths):
    expected_g += [(w, "none")] * 5 + ([(w // 2, "up")] if s < 5 else [])
  assert _blocks(g) == expected_g
  expected_d = []
  for s, w in enumerate([16, 32, 64, 128, 256, 512]):
    expected_d += [(w, "none")] * 5 + ([(w * 2, "down")] if s < 5 else [])
  assert _blocks(d) == expected_d
  assert d.color_conv.filters == 16
  assert g.blocks[5].name == "B_0_up" and d.blocks[5].name == "B_0_down"
  # Identity shortcuts where shape and width stay (ResNetBlock "auto").
  assert {b.shortcut for b in g.blocks + d.blocks} == {"auto"}
  g = resnet30.Generator(resolution=128, colors=3, z_dim=128, shortcut="conv")
  assert {b.shortcut for b in g.blocks} == {"conv"}
