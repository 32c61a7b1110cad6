"""BigGAN ResNet (Brock et al., 2019, arXiv:1809.11096), as in compare_gan's
resnet_biggan.py: hierarchical z, shared label embedding, conditional BN in G,
projection in D, self-attention at a chosen block. 32 to 512 px."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import BatchNorm, Conv2D, Linear, NonLocalBlock, ResNetBlock

G_CHANNELS = {512: [16, 16, 8, 8, 4, 2, 1, 1], 256: [16, 16, 8, 8, 4, 2, 1],
              128: [16, 16, 8, 4, 2, 1], 64: [16, 16, 8, 4, 2], 32: [4, 4, 4, 4]}
D_CHANNELS = {512: [1, 1, 2, 4, 8, 8, 16, 16], 256: [1, 2, 4, 8, 8, 16, 16],
              128: [1, 2, 4, 8, 16, 16], 64: [2, 4, 8, 16, 16], 32: [2, 2, 2, 2]}


def _block_names(blocks: str) -> set[str]:
  """"B4" or "B1,B2" -> {"B4"}, {"B1", "B2"}; "" -> set()."""
  return {b.strip() for b in blocks.split(",") if b.strip()}


class Generator(base.Generator):
  """BigGAN generator.

  Args:
    ch: int. Base width; block widths are ch times the multipliers of the
      resolution. Defaults to `96`.
    blocks_with_attention: str. Comma-separated block names ("B4") followed
      by self-attention. Defaults to `"B4"`.
    hierarchical_z: bool. Split z into blocks + 1 chunks: chunk 0 feeds the
      first linear layer, chunk i conditions block i's norms. Defaults to `True`.
    embed_z: bool. Linear embedding of z first. Defaults to `False`.
    embed_y: bool. Linear embedding (no bias) of y first. Defaults to `True`.
    embed_y_dim: int. Size of the y embedding. Defaults to `128`.
    embed_bias: bool. Bias in the z/y embeddings. Defaults to `False`.
  """

  def __init__(self, *, ch: int = 96, blocks_with_attention: str = "B4",
               hierarchical_z: bool = True, embed_z: bool = False,
               embed_y: bool = True, embed_y_dim: int = 128,
               embed_bias: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.ch = ch
    self.blocks_with_attention = blocks_with_attention
    self.hierarchical_z = hierarchical_z
    self.embed_z = embed_z
    self.embed_y = embed_y
    self.embed_y_dim = embed_y_dim
    self.embed_bias = embed_bias
    mult = G_CHANNELS[self.resolution]
    self.in_channels = [ch * m for m in mult[:-1]]
    self.out_channels = [ch * m for m in mult[1:]]
    num_blocks = len(self.in_channels)
    if hierarchical_z and self.z_dim % (num_blocks + 1):
      raise ValueError(
          f"hierarchical_z splits z into {num_blocks + 1} equal chunks at "
          f"{self.resolution} px; z_dim must be divisible by {num_blocks + 1}. "
          f"Received: z_dim={self.z_dim}")
    sn = self.spectral_norm
    self.z_embedding = (Linear(self.z_dim, use_bias=embed_bias, name="embed_z")
                        if embed_z else None)
    self.y_embedding = (Linear(embed_y_dim, use_bias=embed_bias, name="embed_y")
                        if embed_y and self.conditional else None)
    self.fc_noise = Linear(self.in_channels[0] * 16, use_sn=sn, name="fc_noise")
    attention = _block_names(blocks_with_attention)
    self.blocks, self.attention = [], {}
    for i, out in enumerate(self.out_channels):
      name = f"B{i + 1}"
      self.blocks.append(ResNetBlock(out, "up", self.batch_norm_fn,
                                     use_sn=sn, shortcut="conv", name=name))
      if name in attention:
        self.attention[i] = NonLocalBlock(use_sn=sn, name=f"{name}_non_local")
    self.final_norm = BatchNorm(name="final_norm")
    self.final_conv = Conv2D(self.colors, 3, use_sn=sn, name="final_conv")

  def call(self, z, y=None, training=None):
    if self.z_embedding is not None:
      z = self.z_embedding(z, training=training)
    if self.y_embedding is not None:
      y = self.y_embedding(y, training=training)
    if not self.conditional:
      y = None
    num_blocks = len(self.blocks)
    if self.hierarchical_z:
      chunks = tf.split(z, num_blocks + 1, axis=1)
      z0, z_per_block = chunks[0], chunks[1:]
      y_per_block = (z_per_block if y is None
                     else [tf.concat([zi, y], axis=1) for zi in z_per_block])
    else:
      z0, z_per_block, y_per_block = z, [z] * num_blocks, [y] * num_blocks
    net = self.fc_noise(z0, training=training)
    net = tf.reshape(net, [-1, 4, 4, self.in_channels[0]])
    for i, block in enumerate(self.blocks):
      net = block(net, y=y_per_block[i], z=z_per_block[i], training=training)
      if i in self.attention:
        net = self.attention[i](net, training=training)
    return self.output_images(net, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "blocks_with_attention": self.blocks_with_attention,
            "hierarchical_z": self.hierarchical_z, "embed_z": self.embed_z,
            "embed_y": self.embed_y, "embed_y_dim": self.embed_y_dim,
            "embed_bias": self.embed_bias}


class Discriminator(base.Discriminator):
  """BigGAN discriminator: down-sampling ResNet blocks, ReLU, sum pooling,
  linear output plus projection of y.

  Args:
    ch: int. Base width. Defaults to `96`.
    blocks_with_attention: str. Blocks followed by self-attention. Defaults
      to `"B1"`.
    project_y: bool. Projection of y when conditional. Defaults to `True`.
    shortcut: what blocks whose channels do not change add: "auto" (the
      identity, as BigGAN's paper code) or "drop" (nothing, as the
      original's `add_shortcut=in_channels != out_channels`); blocks that
      change channels have a 1x1 conv either way, so the parameter count is
      the same. Defaults to `"auto"`.
  """

  def __init__(self, *, ch: int = 96, blocks_with_attention: str = "B1",
               project_y: bool = True, shortcut: str = "auto", **kwargs: Any):
    super().__init__(**kwargs)
    if shortcut not in ("auto", "drop"):
      raise ValueError("resnet_biggan.Discriminator.shortcut must be 'auto' "
                       f"or 'drop'. Received: shortcut={shortcut!r}")
    self.shortcut = shortcut
    self.ch = ch
    self.blocks_with_attention = blocks_with_attention
    self.project_y = project_y
    out_channels = [ch * m for m in D_CHANNELS[self.resolution]]
    sn = self.spectral_norm
    attention = _block_names(blocks_with_attention)
    self.blocks, self.attention = [], {}
    for i, out in enumerate(out_channels):
      name = f"B{i + 1}"
      scale = "none" if i == len(out_channels) - 1 else "down"
      self.blocks.append(ResNetBlock(out, scale, self.batch_norm_fn,
                                     layer_norm=self.layer_norm, use_sn=sn,
                                     shortcut=shortcut, name=name))
      if name in attention:
        self.attention[i] = NonLocalBlock(use_sn=sn, name=f"{name}_non_local")
    self.make_head(out_channels[-1], project_y)

  def call(self, x, y=None, training=None):
    h = self.pooled_features(x, y, training, pool="sum")
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch,
            "blocks_with_attention": self.blocks_with_attention,
            "project_y": self.project_y, "shortcut": self.shortcut}


base.register("resnet_biggan_arch", Generator, Discriminator,
              resolutions=(32, 64, 128, 256, 512), gin_module="resnet_biggan",
              test={"resolution": 32, "widths": {"ch": 4}})
# The name of the same architecture in the original's BigGAN example config,
# with its own gin module (`resnet5_biggan.Generator.*`).
base.register("resnet5_biggan_arch", Generator, Discriminator,
              resolutions=(32, 64, 128, 256, 512), gin_module="resnet5_biggan",
              # The networks above again: under -m slow only.
              test={"resolution": 32, "widths": {"ch": 4}, "slow": True})
