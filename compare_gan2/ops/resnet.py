"""Up/down-sampling and the pre-activation ResNet block of compare_gan."""

from __future__ import annotations

from typing import Any

import gin
import keras
import tensorflow as tf

from compare_gan2.ops.layers import Conv2D
from compare_gan2.ops.normalization import LayerNorm, make_normalization

UPSAMPLE_METHODS = ("nearest", "unpool")
SHORTCUTS = ("conv", "auto", "drop")
SHORTCUT_KERNELS = (1, 3)


@gin.configurable("upsample")
def upsample_method(method: str = "nearest") -> str:
  """gin `upsample.method`: "nearest" (default) or "unpool" (the original's
  zero insertion, value at the top-left of each 2x2 cell)."""
  if method not in UPSAMPLE_METHODS:
    raise ValueError(f"`upsample.method` must be one of {UPSAMPLE_METHODS}. "
                     f"Received: method={method!r}")
  return method


def upsample(x: tf.Tensor, method: str = "nearest") -> tf.Tensor:
  """[B, H, W, C] -> [B, 2H, 2W, C]."""
  if method == "unpool":
    zeros = tf.zeros_like(x)
    row = tf.stack([x, zeros], axis=3)          # [B, H, W, 2, C]
    block = tf.stack([row, tf.zeros_like(row)], axis=2)  # [B, H, 2, W, 2, C]
    shape = tf.shape(x)
    return tf.reshape(block, [shape[0], x.shape[1] * 2, x.shape[2] * 2, x.shape[3]])
  return tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)


def downsample(x: tf.Tensor) -> tf.Tensor:
  """2x2 average pooling: [B, H, W, C] -> [B, H/2, W/2, C]."""
  return tf.nn.avg_pool2d(x, 2, 2, "VALID")


@keras.saving.register_keras_serializable("compare_gan2")
class ResNetBlock(keras.layers.Layer):
  """norm-ReLU-conv3x3-norm-ReLU-conv3x3 plus a shortcut (He et al., 2016).

  "up" upsamples before the first conv, "down" average-pools after the second;
  the shortcut is resampled the same way.

  Args:
    out_channels: int. Output channels.
    scale: "up" | "down" | "none".
    batch_norm_fn: normalization name or gin reference; `None` for none.
    layer_norm: bool. Layer norm after each normalization (D.layer_norm).
    use_sn: bool. Spectral norm on convolutions (and conditional norms).
    shortcut: "conv" (a conv, always: compare_gan's ResNetBlock), "auto" (a
      conv when the channels change, else the resampled identity), "drop" (a
      conv when the channels change, else no shortcut at all: compare_gan's
      BigGAN discriminator, `add_shortcut=in_channels != out_channels`).
      Defaults to `"conv"`.
    first_relu: bool. ReLU on the block input. Defaults to `True`.
    shortcut_kernel: int. Kernel size of the shortcut conv: 1, or 3 as in
      compare_gan's resnet_ops.ResNetBlock (BigGAN's block used 1).
      Defaults to `1`.
  """

  def __init__(self, out_channels: int, scale: str = "none",
               batch_norm_fn: Any = None, layer_norm: bool = False,
               use_sn: bool = False, shortcut: str = "conv",
               first_relu: bool = True, shortcut_kernel: int = 1,
               **kwargs: Any):
    super().__init__(**kwargs)
    if scale not in ("up", "down", "none"):
      raise ValueError(f"scale must be 'up', 'down' or 'none'. Received: {scale!r}")
    if shortcut not in SHORTCUTS:
      raise ValueError(f"shortcut must be one of {SHORTCUTS}. "
                       f"Received: shortcut={shortcut!r}")
    if shortcut_kernel not in SHORTCUT_KERNELS:
      raise ValueError(f"shortcut_kernel must be one of {SHORTCUT_KERNELS}. "
                       f"Received: shortcut_kernel={shortcut_kernel!r}")
    self.out_channels = out_channels
    self.scale = scale
    self.batch_norm_fn = batch_norm_fn
    self.layer_norm = layer_norm
    self.use_sn = use_sn
    self.shortcut = shortcut
    self.first_relu = first_relu
    self.shortcut_kernel = shortcut_kernel
    self.upsample_method = upsample_method()

  def build(self, input_shape, *args, **kwargs):
    in_channels = int(input_shape[-1])
    self.bn1 = make_normalization(self.batch_norm_fn, "bn1", self.use_sn)
    self.bn2 = make_normalization(self.batch_norm_fn, "bn2", self.use_sn)
    if self.layer_norm:
      self.ln1, self.ln2 = LayerNorm(name="ln1"), LayerNorm(name="ln2")
    self.conv1 = Conv2D(self.out_channels, 3, use_sn=self.use_sn, name="conv1")
    self.conv2 = Conv2D(self.out_channels, 3, use_sn=self.use_sn, name="conv2")
    self.conv_shortcut = None
    # "auto" and "drop" agree on when there is a conv; they differ without one.
    self.add_shortcut = self.shortcut != "drop" or in_channels != self.out_channels
    if self.shortcut == "conv" or in_channels != self.out_channels:
      self.conv_shortcut = Conv2D(self.out_channels, self.shortcut_kernel,
                                  use_sn=self.use_sn, name="conv_shortcut")

  def _resample_in(self, x):
    return upsample(x, self.upsample_method) if self.scale == "up" else x

  def _resample_out(self, x):
    return downsample(x) if self.scale == "down" else x

  def call(self, x, y=None, z=None, training=None):
    h = self.bn1(x, y=y, z=z, training=training)
    if self.layer_norm:
      h = self.ln1(h)
    if self.first_relu:
      h = tf.nn.relu(h)
    h = self.conv1(self._resample_in(h), training=training)
    h = self.bn2(h, y=y, z=z, training=training)
    if self.layer_norm:
      h = self.ln2(h)
    h = self.conv2(tf.nn.relu(h), training=training)
    h = self._resample_out(h)
    if not self.add_shortcut:
      return h
    s = self._resample_in(x)
    if self.conv_shortcut is not None:
      s = self.conv_shortcut(s, training=training)
    return h + self._resample_out(s)

  def get_config(self):
    from compare_gan2.core.registry import NORMALIZATIONS  # pylint: disable=g-import-not-at-top
    bn = None if self.batch_norm_fn is None else NORMALIZATIONS.name_of(self.batch_norm_fn)
    return {**super().get_config(), "out_channels": self.out_channels,
            "scale": self.scale, "batch_norm_fn": bn, "layer_norm": self.layer_norm,
            "use_sn": self.use_sn, "shortcut": self.shortcut,
            "first_relu": self.first_relu,
            "shortcut_kernel": self.shortcut_kernel}
