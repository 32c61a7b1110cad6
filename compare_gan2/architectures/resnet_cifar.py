"""ResNet for 32x32 images (Miyato et al., 2018, arXiv:1802.05957, Table 4), as
in compare_gan's resnet_cifar.py.

G: linear z -> 4x4x256, three up-sampling ResNet blocks of 256 channels,
norm-ReLU-conv3x3, (tanh + 1) / 2 (the original: sigmoid, knob
`output_activation`). D: four ResNet blocks of 128 channels (the
first two down-sample), ReLU, mean over space, linear plus projection of y.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base, resnet_trunk
from compare_gan2.ops import Linear

NUM_G_BLOCKS = 3
NUM_D_BLOCKS = 4
NUM_D_DOWN_BLOCKS = 2


class Generator(resnet_trunk.ResNetGenerator):
  """ResNet CIFAR generator: [B, z_dim] -> [B, 32, 32, colors] in [0, 1].

  Args:
    ch: int. Width of the 4x4 seed and of every block. Defaults to `256`.
    hierarchical_z: bool. Split z into 4 chunks: chunk 0 feeds the first
      linear layer, chunk i (concatenated to y when conditional) conditions
      block i's norms. Defaults to `False`.
    embed_z: bool. Linear embedding of z (same size) first. Defaults to `False`.
    embed_y: bool. Linear embedding of y to z_dim first. Defaults to `False`.
    output_activation: "tanh" ((tanh(x) + 1) / 2) or "sigmoid" (sigmoid(x),
      the original's). Defaults to `"tanh"`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 256, hierarchical_z: bool = False,
               embed_z: bool = False, embed_y: bool = False,
               output_activation: str = "tanh", shortcut_kernel: int = 1,
               **kwargs: Any):
    super().__init__(ch=ch, output_activation=output_activation,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.hierarchical_z = hierarchical_z
    self.embed_z = embed_z
    self.embed_y = embed_y
    if hierarchical_z and self.z_dim % (NUM_G_BLOCKS + 1):
      raise ValueError(
          f"hierarchical_z splits z into {NUM_G_BLOCKS + 1} equal chunks; "
          f"z_dim must be divisible by {NUM_G_BLOCKS + 1}. "
          f"Received: z_dim={self.z_dim}")
    sn = self.spectral_norm
    self.z_embedding = (Linear(self.z_dim, use_sn=sn, name="embed_z")
                        if embed_z else None)
    self.y_embedding = (Linear(self.z_dim, use_sn=sn, name="embed_y")
                        if embed_y and self.conditional else None)
    self.make_trunk(4, ch, [(ch, "up", f"B{i + 1}") for i in range(NUM_G_BLOCKS)])

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    if self.z_embedding is not None:
      z = self.z_embedding(z, training=training)
    if self.y_embedding is not None:
      y = self.y_embedding(y, training=training)
    if self.hierarchical_z:
      chunks = tf.split(z, NUM_G_BLOCKS + 1, axis=1)
      z0, z_per_block = chunks[0], chunks[1:]
      y_per_block = ([None] * NUM_G_BLOCKS if y is None
                     else [tf.concat([zi, y], axis=1) for zi in z_per_block])
    else:
      z0, z_per_block, y_per_block = z, [z] * NUM_G_BLOCKS, [y] * NUM_G_BLOCKS
    net = self.trunk(z0, z_per_block, y_per_block, training)
    return self.images(net, training, y=y, z=z)

  def get_config(self):
    return {**super().get_config(), "hierarchical_z": self.hierarchical_z,
            "embed_z": self.embed_z, "embed_y": self.embed_y}


class Discriminator(resnet_trunk.ResNetDiscriminator):
  """ResNet CIFAR discriminator: [B, 32, 32, colors] -> ([B, 1], [B, 1],
  h [B, ch]).

  Args:
    ch: int. Width of every block. Defaults to `128`.
    project_y: bool. Projection of y when conditional. Defaults to `True`
      (the original's default was `False`, i.e. a conditional D ignored y).
    embedding_initializer: "glorot_normal" or "weights" (gin
      `weights.initializer`, N(0, 0.02): the original's). Defaults to
      `"glorot_normal"`.
    shortcut_kernel: int. Kernel size of the blocks' conv shortcuts: 1, or 3
      as the original (resnet_ops.ResNetBlock). Defaults to `1`.
  """

  def __init__(self, *, ch: int = 128, project_y: bool = True,
               embedding_initializer: str = "glorot_normal",
               shortcut_kernel: int = 1, **kwargs: Any):
    super().__init__(ch=ch, project_y=project_y,
                     shortcut_kernel=shortcut_kernel, **kwargs)
    self.embedding_initializer = embedding_initializer
    self.make_blocks([(ch, "down" if i < NUM_D_DOWN_BLOCKS else "none", f"B{i + 1}")
                      for i in range(NUM_D_BLOCKS)])
    self.make_head(ch, project_y, embedding_initializer)

  def get_config(self):
    return {**super().get_config(),
            "embedding_initializer": self.embedding_initializer}


base.register("resnet_cifar_arch", Generator, Discriminator,
              resolutions=(32,), gin_module="resnet_cifar",
              test={"resolution": 32, "widths": {"ch": 4}})
