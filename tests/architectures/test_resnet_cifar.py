"""resnet_cifar: its blocks at the default width, the hierarchical z."""

import gin

from compare_gan2.architectures import base
from compare_gan2.architectures import resnet_cifar
from resnet_cases import NUM_CLASSES, Z_DIM, _blocks


def test_resnet_cifar_structure_at_default_width():
  # Constructing without calling creates no variables: cheap at full width.
  g = resnet_cifar.Generator(resolution=32, colors=3, z_dim=128)
  d = resnet_cifar.Discriminator(resolution=32, colors=3)
  assert g.fc_noise.units == 4 * 4 * 256
  assert _blocks(g) == [(256, "up")] * 3
  assert _blocks(d) == [(128, "down")] * 2 + [(128, "none")] * 2


def test_resnet_cifar_hierarchical_z_conditions_blocks_on_chunks():
  gin.parse_config("""
      resnet_cifar.Generator.ch = 8
      resnet_cifar.Generator.hierarchical_z = True
      resnet_cifar.Discriminator.ch = 8
      G.batch_norm_fn = @conditional_batch_norm
  """)
  g, _ = base.build("resnet_cifar_arch", resolution=32, colors=3, z_dim=Z_DIM,
                    num_classes=NUM_CLASSES)
  # fc_noise sees a quarter of z, block norms concat(z chunk, y) and, as in
  # the original, the final norm y alone.
  assert g.fc_noise.kernel.shape == (Z_DIM // 4, 16 * 8)
  cond_dim = Z_DIM // 4 + NUM_CLASSES
  assert g.blocks[0].bn1.gamma.kernel.shape == (cond_dim, 8)
  assert g.final_norm.gamma.kernel.shape == (NUM_CLASSES, 8)
