"""BigGAN for 32x32 images as in the PyTorch BigGAN code that produced the
DiffAugment paper's CIFAR numbers (mit-han-lab/data-efficient-gans,
DiffAugment-biggan-cifar/BigGAN.py and layers.py, resolution 32).

It differs from compare_gan's 32 px BigGAN (`resnet_biggan_arch`):
  G: z (no hierarchical split, no shared embedding) -> linear -> 4x4x(4 ch)
     -> three up-sampling blocks of width 4 ch -> BN, ReLU, 3x3 conv -> tanh.
     The class-conditional norms take their gains and offsets from plain
     embeddings of the label (gain = 1 + embed(y)), never spectrally
     normalized.
  D: four blocks of width 4 ch; only the first two down-sample (32 -> 16 ->
     8); the first block has no input ReLU; a block has a 1x1 shortcut conv
     when its width changes or it down-samples, else the identity; ReLU, sum
     pooling, linear output plus a projection of y with a spectrally
     normalized embedding.
  No attention (the CIFAR runs pass --G_attn 0 --D_attn 0).
Spectral norm tracks u over the output units of every layer (over the classes
for D's embedding), as layers.SN does. Images are in [0, 1] as everywhere in
this library (the original's tanh output is mapped by (x + 1) / 2).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops import BatchNorm, ConditionalBatchNorm, Conv2D, Linear
from compare_gan2.ops import downsample, make_normalization, upsample

RESOLUTION = 32
WIDTH = 4  # Block widths are 4 ch at 32 px in both networks (G_arch, D_arch).
D_DOWNSAMPLE = (True, True, False, False)
SN_SIDE = "right"  # u over the output units: layers.SN's u is [1, num_outputs].


def _norm(batch_norm_fn: Any, name: str) -> keras.layers.Layer:
  """G's block normalization. The conditional one is the original's ccbn:
  gain and offset are label embeddings (Linear without bias on one-hot y),
  without spectral norm whatever `G.spectral_norm` says."""
  if batch_norm_fn == "conditional_batch_norm":
    return ConditionalBatchNorm(use_sn=False, use_bias=False, gamma_offset=True,
                                name=name)
  return make_normalization(batch_norm_fn, name, use_sn=False)


@keras.saving.register_keras_serializable("compare_gan2")
class GBlock(keras.layers.Layer):
  """layers.GBlock with up-sampling: norm-ReLU-up-conv3x3-norm-ReLU-conv3x3
  plus up-then-1x1-conv shortcut. [B, H, W, C] -> [B, 2H, 2W, out_channels].

  Args:
    out_channels: int. Output channels.
    batch_norm_fn: normalization name; `None` for none.
    use_sn: bool. Spectral norm on the convolutions.
  """

  def __init__(self, out_channels: int, batch_norm_fn: Any = None,
               use_sn: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.out_channels = out_channels
    self.batch_norm_fn = batch_norm_fn
    self.use_sn = use_sn

  def build(self, input_shape, *args, **kwargs):
    conv = dict(use_sn=self.use_sn, singular_value=SN_SIDE)
    self.bn1 = _norm(self.batch_norm_fn, "bn1")
    self.bn2 = _norm(self.batch_norm_fn, "bn2")
    self.conv1 = Conv2D(self.out_channels, 3, name="conv1", **conv)
    self.conv2 = Conv2D(self.out_channels, 3, name="conv2", **conv)
    self.conv_sc = Conv2D(self.out_channels, 1, name="conv_sc", **conv)

  def call(self, x, y=None, training=None):
    h = tf.nn.relu(self.bn1(x, y=y, training=training))
    h = self.conv1(upsample(h, "nearest"), training=training)
    h = tf.nn.relu(self.bn2(h, y=y, training=training))
    h = self.conv2(h, training=training)
    return h + self.conv_sc(upsample(x, "nearest"), training=training)

  def get_config(self):
    return {**super().get_config(), "out_channels": self.out_channels,
            "batch_norm_fn": self.batch_norm_fn, "use_sn": self.use_sn}


@keras.saving.register_keras_serializable("compare_gan2")
class DBlock(keras.layers.Layer):
  """layers.DBlock (wide): [ReLU]-conv3x3-ReLU-conv3x3-[avg pool] plus a
  shortcut: a 1x1 conv when the width changes or the block down-samples
  (pooled too), else the identity. [B, H, W, C] -> [B, H', W', out_channels].

  Args:
    out_channels: int. Output channels (also the hidden width).
    down: bool. 2x2 average pooling at the end.
    preactivation: bool. ReLU on the input (every block but the first).
    use_sn: bool. Spectral norm on the convolutions.
  """

  def __init__(self, out_channels: int, down: bool = True,
               preactivation: bool = True, use_sn: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.out_channels = out_channels
    self.down = down
    self.preactivation = preactivation
    self.use_sn = use_sn

  def build(self, input_shape, *args, **kwargs):
    conv = dict(use_sn=self.use_sn, singular_value=SN_SIDE)
    self.conv1 = Conv2D(self.out_channels, 3, name="conv1", **conv)
    self.conv2 = Conv2D(self.out_channels, 3, name="conv2", **conv)
    self.conv_sc = None
    if int(input_shape[-1]) != self.out_channels or self.down:
      self.conv_sc = Conv2D(self.out_channels, 1, name="conv_sc", **conv)

  def call(self, x, training=None):
    h = tf.nn.relu(x) if self.preactivation else x
    h = self.conv1(h, training=training)
    h = self.conv2(tf.nn.relu(h), training=training)
    s = x
    if self.conv_sc is not None:
      # The original pools before the 1x1 conv in the first block and after
      # it in the others; both maps are linear and per pixel, so they commute.
      s = self.conv_sc(s, training=training)
    if self.down:
      h, s = downsample(h), downsample(s)
    return h + s

  def get_config(self):
    return {**super().get_config(), "out_channels": self.out_channels,
            "down": self.down, "preactivation": self.preactivation,
            "use_sn": self.use_sn}


class Generator(base.Generator):
  """BigGAN-CIFAR generator (BigGAN.py Generator, resolution 32, G_shared and
  hier off).

  Args:
    ch: int. Width multiplier (--G_ch); blocks have 4 ch channels. Defaults
      to `64`.
  """

  def __init__(self, *, ch: int = 64, **kwargs: Any):
    super().__init__(**kwargs)
    if self.resolution != RESOLUTION:
      raise ValueError(f"biggan_cifar is defined at resolution {RESOLUTION}. "
                       f"Received: resolution={self.resolution}")
    self.ch = ch
    width = WIDTH * ch
    sn = dict(use_sn=self.spectral_norm, singular_value=SN_SIDE)
    self.fc_noise = Linear(width * 16, name="fc_noise", **sn)
    self.blocks = [GBlock(width, self.batch_norm_fn, self.spectral_norm,
                          name=f"B{i + 1}") for i in range(3)]
    self.final_norm = BatchNorm(name="final_norm")
    self.final_conv = Conv2D(self.colors, 3, name="final_conv", **sn)

  def call(self, z, y=None, training=None):
    if not self.conditional:
      y = None
    net = self.fc_noise(z, training=training)
    net = tf.reshape(net, [-1, 4, 4, WIDTH * self.ch])
    for block in self.blocks:
      net = block(net, y=y, training=training)
    return self.output_images(net, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch}


class Discriminator(base.Discriminator):
  """BigGAN-CIFAR discriminator (BigGAN.py Discriminator, resolution 32,
  D_wide).

  Args:
    ch: int. Width multiplier (--D_ch); blocks have 4 ch channels. Defaults
      to `64`.
    project_y: bool. Projection of y when conditional. Defaults to `True`.
  """

  def __init__(self, *, ch: int = 64, project_y: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    if self.resolution != RESOLUTION:
      raise ValueError(f"biggan_cifar is defined at resolution {RESOLUTION}. "
                       f"Received: resolution={self.resolution}")
    self.ch = ch
    self.project_y = project_y
    width = WIDTH * ch
    sn = self.spectral_norm
    self.blocks = [DBlock(width, down, preactivation=i > 0, use_sn=sn,
                          name=f"B{i + 1}")
                   for i, down in enumerate(D_DOWNSAMPLE)]
    self.final_fc = Linear(1, use_sn=sn, singular_value=SN_SIDE, name="final_fc")
    self.embedding_fc = None
    if project_y and self.conditional:
      # SNEmbedding: the weight is [classes, width] and u runs over the
      # classes, the rows here.
      self.embedding_fc = Linear(width, use_sn=sn, use_bias=False,
                                 singular_value="left", name="embedding_fc")

  def call(self, x, y=None, training=None):
    net = x
    for block in self.blocks:
      net = block(net, training=training)
    h = tf.reduce_sum(tf.nn.relu(net), axis=[1, 2])
    return self.head(h, y, training)

  def get_config(self):
    return {**super().get_config(), "ch": self.ch, "project_y": self.project_y}


base.register("biggan_cifar_arch", Generator, Discriminator,
              resolutions=(RESOLUTION,), gin_module="biggan_cifar",
              test={"resolution": 32, "widths": {"ch": 2}})
