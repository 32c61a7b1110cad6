"""BigGAN-deep (Brock et al., 2019, arXiv:1809.11096, Tables 5-7), as in
compare_gan's resnet_biggan_deep.py. 128, 256 and 512 px.

Differences to BigGAN (resnet_biggan_arch), as in the original:
- Two bottleneck ResNet blocks per resolution: norm-ReLU-conv1x1 down to
  max(in, out) / 4 channels, two 3x3 convs, conv1x1 up to the output width.
- Identity shortcuts: G drops the surplus channels, D appends channels made
  by a 1x1 conv of the (pooled) input.
- z is not chunked: every norm of G is conditioned on concat(z, embed_y(y)).
- Self-attention right after the block whose output is 64x64 (in G the "up"
  block, in D the block that keeps the resolution).
- Base width `ch` 128 instead of 96.

Parameter counts at 128 px, 1000 classes, z_dim 128, conditional batch norm
in G, projection in D: G 50,244,484, D 34,590,210 (as the original).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import BatchNorm, Conv2D, LayerNorm, Linear, NonLocalBlock
from compare_gan2.ops.normalization import make_normalization
from compare_gan2.ops.resnet import downsample, upsample, upsample_method

# Channel multipliers of the block inputs/outputs: in = ch * m[:-1],
# out = ch * m[1:] (Tables 5-7 of the paper; the original's lists).
G_CHANNELS = {512: [16] * 4 + [8] * 4 + [4, 4, 2, 2, 1, 1, 1],
              256: [16] * 4 + [8] * 4 + [4, 4, 2, 2, 1],
              128: [16] * 4 + [8] * 2 + [4, 4, 2, 2, 1]}
D_CHANNELS = {512: [1, 1, 1, 2, 2, 4, 4] + [8] * 4 + [16] * 4,
              256: [1, 2, 2, 4, 4] + [8] * 4 + [16] * 4,
              128: [1, 2, 2, 4, 4] + [8] * 2 + [16] * 4}
ATTENTION_RESOLUTION = 64


@keras.saving.register_keras_serializable("compare_gan2")
class BigGanDeepResNetBlock(keras.layers.Layer):
  """Bottleneck ResNet block with an identity shortcut, for G and D.

  Residual path, b = max(in_channels, out_channels) // 4:
  norm-ReLU-conv1x1(b) ; norm-ReLU-[up]-conv3x3(b) ; norm-ReLU-conv3x3(b) ;
  norm-ReLU-[down]-conv1x1(out_channels).
  Shortcut: the input, its first `out_channels` channels when the block
  narrows; upsampled ("up") or 2x2 average-pooled ("down"); when the block
  widens, followed by the channels of a 1x1 conv (with bias) of itself.

  Input [B, H, W, in_channels] -> [B, H', W', out_channels].

  Args:
    in_channels: int. Input channels.
    out_channels: int. Output channels.
    scale: "up" | "down" | "none".
    batch_norm_fn: normalization name or gin reference; `None` for none.
    layer_norm: bool. Layer norm after each normalization (D.layer_norm).
    use_sn: bool. Spectral norm on convolutions (and conditional norms).
  """

  def __init__(self, in_channels: int, out_channels: int, scale: str = "none",
               batch_norm_fn: Any = None, layer_norm: bool = False,
               use_sn: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    if scale not in ("up", "down", "none"):
      raise ValueError(f"scale must be 'up', 'down' or 'none'. Received: {scale!r}")
    if in_channels > out_channels and scale == "down":
      raise ValueError("A down-sampling block cannot narrow (the shortcut only "
                       f"adds channels). Received: in_channels={in_channels}, "
                       f"out_channels={out_channels}, scale='down'")
    if in_channels < out_channels and scale == "up":
      raise ValueError("An up-sampling block cannot widen (the shortcut only "
                       f"drops channels). Received: in_channels={in_channels}, "
                       f"out_channels={out_channels}, scale='up'")
    self.in_channels = in_channels
    self.out_channels = out_channels
    self.scale = scale
    self.batch_norm_fn = batch_norm_fn
    self.layer_norm = layer_norm
    self.use_sn = use_sn
    self.upsample_method = upsample_method()
    b = max(in_channels, out_channels) // 4
    if b < 1:
      raise ValueError("max(in_channels, out_channels) must be >= 4. Received: "
                       f"in_channels={in_channels}, out_channels={out_channels}")
    self.bottleneck_channels = b
    self.norms = [make_normalization(batch_norm_fn, f"bn{i}", use_sn)
                  for i in range(1, 5)]
    self.layer_norms = ([LayerNorm(name=f"ln{i}") for i in range(1, 5)]
                        if layer_norm else None)
    self.conv1 = Conv2D(b, 1, use_sn=use_sn, name="conv1")
    self.conv2 = Conv2D(b, 3, use_sn=use_sn, name="conv2")
    self.conv3 = Conv2D(b, 3, use_sn=use_sn, name="conv3")
    self.conv4 = Conv2D(out_channels, 1, use_sn=use_sn, name="conv4")
    self.add_channels = None
    if out_channels > in_channels:
      self.add_channels = Conv2D(out_channels - in_channels, 1, use_sn=use_sn,
                                 name="add_channels")

  def _norm_relu(self, i, x, y, z, training):
    x = self.norms[i](x, y=y, z=z, training=training)
    if self.layer_norms is not None:
      x = self.layer_norms[i](x)
    return tf.nn.relu(x)

  def shortcut(self, x, training=None):
    """The identity path: [B, H, W, in] -> [B, H', W', out]."""
    s = x[..., :self.out_channels] if self.in_channels > self.out_channels else x
    if self.scale == "up":
      s = upsample(s, self.upsample_method)
    elif self.scale == "down":
      s = downsample(s)
    if self.add_channels is not None:
      s = tf.concat([s, self.add_channels(s, training=training)], axis=-1)
    return s

  def call(self, x, y=None, z=None, training=None):
    if x.shape[-1] != self.in_channels:
      raise ValueError(f"{self.name}: expected {self.in_channels} input "
                       f"channels. Received: input shape {tuple(x.shape)}")
    h = self.conv1(self._norm_relu(0, x, y, z, training), training=training)
    h = self._norm_relu(1, h, y, z, training)
    if self.scale == "up":
      h = upsample(h, self.upsample_method)
    h = self.conv2(h, training=training)
    h = self.conv3(self._norm_relu(2, h, y, z, training), training=training)
    h = self._norm_relu(3, h, y, z, training)
    if self.scale == "down":
      h = downsample(h)  # Before the 1x1 conv, as in the original (same result).
    h = self.conv4(h, training=training)
    return h + self.shortcut(x, training=training)

  def get_config(self):
    from compare_gan2.core.registry import NORMALIZATIONS  # pylint: disable=g-import-not-at-top
    bn = (None if self.batch_norm_fn is None
          else NORMALIZATIONS.name_of(self.batch_norm_fn))
    return {**super().get_config(), "in_channels": self.in_channels,
            "out_channels": self.out_channels, "scale": self.scale,
            "batch_norm_fn": bn, "layer_norm": self.layer_norm,
            "use_sn": self.use_sn}


class Generator(base.Generator):
  """BigGAN-deep generator.

  z [B, z_dim], y [B, num_classes] or None -> images [B, res, res, colors] in
  [0, 1]. Blocks alternate "none" and "up", starting from a 4x4 seed.

  Args:
    ch: int. Base width; block widths are ch times the multipliers of the
      resolution. Defaults to `128`.
    embed_y: bool. Linear embedding (no bias, no spectral norm) of y before
      it is concatenated to z. Defaults to `True`.
    embed_y_dim: int. Size of the y embedding. Defaults to `128`.
  """

  def __init__(self, *, ch: int = 128, embed_y: bool = True,
               embed_y_dim: int = 128, **kwargs: Any):
    super().__init__(**kwargs)
    self.ch = ch
    self.embed_y = embed_y
    self.embed_y_dim = embed_y_dim
    mult = G_CHANNELS[self.resolution]
    self.in_channels = [ch * m for m in mult[:-1]]
    self.out_channels = [ch * m for m in mult[1:]]
    sn = self.spectral_norm
    self.y_embedding = (Linear(embed_y_dim, use_bias=False, name="embed_y")
                        if embed_y and self.conditional else None)
    self.fc_noise = Linear(self.in_channels[0] * 16, use_sn=sn, name="fc_noise")
    self.blocks, self.attention = [], {}
    size = 4
    for i, (c_in, c_out) in enumerate(zip(self.in_channels, self.out_channels)):
      scale = "none" if i % 2 == 0 else "up"
      self.blocks.append(BigGanDeepResNetBlock(
          c_in, c_out, scale, self.batch_norm_fn, use_sn=sn, name=f"B{i + 1}"))
      if scale == "up":
        size *= 2
        if size == ATTENTION_RESOLUTION:
          self.attention[i] = NonLocalBlock(use_sn=sn, name="non_local_block")
    self.final_norm = BatchNorm(name="final_norm")
    self.final_conv = Conv2D(self.colors, 3, use_sn=sn, name="final_conv")

  def call(self, z, y=None, training=None):
    cond = None
    if self.conditional:
      if y is None:
        raise ValueError(f"{self.name}: a conditional generator needs labels y. "
                         "Received: y=None")
      if self.y_embedding is not None:
        y = self.y_embedding(y, training=training)
      cond = tf.concat([z, y], axis=1)
    # The original passed concat(z, y) as both z and y of the norms; z stays
    # the latent here so that self-modulation does not see y twice.
    net = self.fc_noise(z if cond is None else cond, training=training)
    net = tf.reshape(net, [-1, 4, 4, self.in_channels[0]])
    for i, block in enumerate(self.blocks):
      net = block(net, y=cond, z=z, training=training)
      if i in self.attention:
        net = self.attention[i](net, training=training)
    return self.output_images(net, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "embed_y": self.embed_y,
            "embed_y_dim": self.embed_y_dim}


class Discriminator(base.Discriminator):
  """BigGAN-deep discriminator: conv3x3, bottleneck blocks alternating "down"
  and "none", ReLU, sum pooling, linear output plus projection of y.

  x [B, res, res, colors], y [B, num_classes] or None -> (probs [B, 1],
  logits [B, 1], h [B, 16 * ch]).

  Args:
    ch: int. Base width. Defaults to `128`.
    project_y: bool. Projection of y when conditional. Defaults to `True`.
  """

  def __init__(self, *, ch: int = 128, project_y: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    self.ch = ch
    self.project_y = project_y
    mult = D_CHANNELS[self.resolution]
    in_channels = [ch * m for m in mult[:-1]]
    out_channels = [ch * m for m in mult[1:]]
    sn = self.spectral_norm
    self.initial_conv = Conv2D(in_channels[0], 3, use_sn=sn, name="initial_conv")
    self.blocks, self.attention = [], {}
    size = self.resolution
    for i, (c_in, c_out) in enumerate(zip(in_channels, out_channels)):
      scale = "down" if i % 2 == 0 else "none"
      self.blocks.append(BigGanDeepResNetBlock(
          c_in, c_out, scale, self.batch_norm_fn, layer_norm=self.layer_norm,
          use_sn=sn, name=f"B{i + 1}"))
      if scale == "down":
        size //= 2
      elif size == ATTENTION_RESOLUTION:
        self.attention[i] = NonLocalBlock(use_sn=sn, name="non_local_block")
    self.make_head(out_channels[-1], project_y)

  def call(self, x, y=None, training=None):
    h = self.pooled_features(self.initial_conv(x, training=training), y, training, pool="sum")
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "project_y": self.project_y}


base.register("resnet_biggan_deep_arch", Generator, Discriminator,
              resolutions=(128, 256, 512), gin_module="resnet_biggan_deep",
              test={"resolution": 128, "widths": {"ch": 8}, "slow": True})
