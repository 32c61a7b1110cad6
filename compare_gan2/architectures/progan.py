"""ProGAN networks (Karras et al., 2018, arXiv:1710.10196), progressive
growing with a level of detail held in a variable.

Both networks hold a non-trainable scalar `lod` (the original's convention:
0 at full resolution, log2(resolution) - 2 at 4x4). It is a tensor, so the
shapes stay static and one traced training step serves every phase; the
blocks finer than the current level sit in `tf.cond` branches that are not
run (their gradients are zero), as in the original's "recursive" structure.

G: z pixel-normed (one-hot y appended when conditional), dense to 4x4 (gain
sqrt(2)/4, one bias per channel as the original's apply_bias after its
reshape), conv 3x3, then per doubling: nearest upscale, two conv 3x3; leaky
ReLU 0.2 and pixel norm after every layer. (The original fuses the upscale
into a transposed conv by default; that is the same function with the 3x3
kernel stored flipped.) A 1x1 toRGB (gain 1) per
resolution. At level lod the output is
  lerp(upscale(toRGB_prev(h_prev)), toRGB_new(h_new), alpha), alpha = 1 - frac(lod),
nearest-upscaled to full resolution: G always returns full-size images.
The linear toRGB output x (data in [-1, 1], as the original) is returned as
x / 2 + 1 / 2, so images are in [0, 1]; in inference mode they are clipped
to [0, 1] (not in training, so that G's gradient is never cut).

D mirrors G on full-size images in [0, 1] (mapped to [-1, 1]): the input is
box-downscaled to the level, 1x1 fromRGB per resolution, per halving two
conv 3x3 and a 2x box downscale; during a transition the new block's output
is lerped with fromRGB of the 2x-downscaled input. The second conv of a block
pools before its bias and activation (`fused_scale`, the original's default
fused conv2d_downscale2d; False: activation, then pooling). The 4x4 block:
minibatch stddev (groups strided over the batch as the original's), conv 3x3,
dense nf(0) (its output is h), dense to 1 (gain 1).

Widths: nf(stage) = min(fmap_base / 2^(stage * fmap_decay), fmap_max) with
stage = log2(res) - 1, as the original (8192, 1.0, 512 by default).

Conditional (num_classes > 0): G appends the one-hot y to the normalized z;
D adds the projection logit += sum(embed(y) * h) (the original used an
auxiliary classifier; projection is what the rest of compare_gan2 uses).
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf

from compare_gan2.architectures import base
from compare_gan2.ops.progan import (MBSTD_GROUPINGS, SQRT2, EqualizedConv2D,
                                     EqualizedDense, MinibatchStddev, PixelNorm,
                                     downscale2d, upscale2d)

NAME = "progan_arch"
RESOLUTIONS = tuple(2 ** k for k in range(3, 11))  # 8 ... 1024
LEAK = 0.2
DENSE_BIASES = ("per_channel", "per_unit")


def num_features(stage: int, fmap_base: int, fmap_decay: float,
                 fmap_max: int) -> int:
  """Channels of the feature maps at resolution 2^(stage + 1)."""
  return min(int(fmap_base / 2.0 ** (stage * fmap_decay)), fmap_max)


def max_lod(resolution: int) -> int:
  """The lod of the 4x4 level: log2(resolution) - 2."""
  return int(math.log2(resolution)) - 2


def lerp_clip(a: tf.Tensor, b: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
  """a + (b - a) * clip(t, 0, 1); t (float32) is cast to a's dtype."""
  return a + (b - a) * tf.cast(tf.clip_by_value(t, 0.0, 1.0), a.dtype)


def _lrelu(x: tf.Tensor) -> tf.Tensor:
  return tf.nn.leaky_relu(x, LEAK)


def _check_options(name: str, net: Any) -> None:
  if net.batch_norm_fn is not None or net.spectral_norm:
    raise ValueError(
        f"{name}: ProGAN networks use pixel norm and equalized learning rate; "
        "G/D.batch_norm_fn and spectral_norm are not supported. Received: "
        f"batch_norm_fn={net.batch_norm_fn!r}, spectral_norm={net.spectral_norm}")


class _Progressive:
  """What G and D share: the widths, the level count and the `lod` variable."""

  def _init_progressive(self, fmap_base: int, fmap_decay: float,
                        fmap_max: int) -> None:
    base.check_resolution(NAME, self.resolution, RESOLUTIONS)
    self.fmap_base, self.fmap_decay, self.fmap_max = fmap_base, fmap_decay, fmap_max
    self.resolution_log2 = int(math.log2(self.resolution))
    self.max_lod = self.resolution_log2 - 2
    # Replicas assign the same value; the first one's is kept.
    # Never autocast: a bfloat16 lod would step the fade-ins by 1/64.
    self.lod = self.add_weight(name="lod", shape=(), initializer="zeros",
                               trainable=False, aggregation="only_first_replica",
                               autocast=False)

  def nf(self, stage: int) -> int:
    return num_features(stage, self.fmap_base, self.fmap_decay, self.fmap_max)

  def _progressive_config(self) -> dict[str, Any]:
    return {"fmap_base": self.fmap_base, "fmap_decay": self.fmap_decay,
            "fmap_max": self.fmap_max}


def _built(layer: Any, shape: tuple[Any, ...]) -> Any:
  """Creates the layer's weights now: layers of levels not yet grown are
  only called inside untaken tf.cond branches."""
  layer.build(shape)
  return layer


class Generator(_Progressive, base.Generator):
  """ProGAN generator: [B, z_dim] -> [B, res, res, colors] in [0, 1].

  Args:
    fmap_base, fmap_decay, fmap_max: the width rule (see the module doc).
    normalize_latents: bool. Pixel norm on z. Defaults to `True`.
    dense_bias: str. Bias of the dense layer to 4x4: "per_channel" (nf(1)
      biases, the original's) or "per_unit" (16 * nf(1), one per output).
      Defaults to `"per_channel"`.
  """

  def __init__(self, *, fmap_base: int = 8192, fmap_decay: float = 1.0,
               fmap_max: int = 512, normalize_latents: bool = True,
               dense_bias: str = "per_channel", **kwargs: Any):
    super().__init__(**kwargs)
    _check_options(NAME, self)
    if dense_bias not in DENSE_BIASES:
      raise ValueError(f"progan.Generator.dense_bias must be one of {DENSE_BIASES}. "
                       f"Received: {dense_bias!r}")
    self._init_progressive(fmap_base, fmap_decay, fmap_max)
    self.normalize_latents = normalize_latents
    self.dense_bias = dense_bias
    self.pixel_norm = PixelNorm(name="pixel_norm")
    nf1 = self.nf(1)
    per_unit = dense_bias == "per_unit"
    self.dense = _built(EqualizedDense(16 * nf1, gain=SQRT2 / 4, use_bias=per_unit,
                                       name="g_4x4_dense"),
                        (None, self.z_dim + self.num_classes))
    self.dense_channel_bias = None
    if not per_unit:
      self.dense_channel_bias = self.add_weight(
          name="g_4x4_dense_bias", shape=(nf1,), initializer="zeros")
    self.conv4 = _built(EqualizedConv2D(nf1, 3, name="g_4x4_conv"), (None, 4, 4, nf1))
    # blocks[i], to_rgb[i] belong to resolution 2^(i + 2) (blocks[0] unused).
    self.blocks = [None]
    self.to_rgb = [_built(EqualizedConv2D(self.colors, 1, gain=1.0, name="g_torgb_4"),
                          (None, 4, 4, nf1))]
    for s in range(3, self.resolution_log2 + 1):
      r, c_in, c = 2 ** s, self.nf(s - 2), self.nf(s - 1)
      self.blocks.append([
          _built(EqualizedConv2D(c, 3, name=f"g_{r}_conv0"), (None, r, r, c_in)),
          _built(EqualizedConv2D(c, 3, name=f"g_{r}_conv1"), (None, r, r, c))])
      self.to_rgb.append(_built(EqualizedConv2D(self.colors, 1, gain=1.0,
                                                name=f"g_torgb_{r}"), (None, r, r, c)))

  def block(self, x: tf.Tensor, s: int) -> tf.Tensor:
    """Block of resolution 2^s: for s = 2 x is the latent input [B, z(+y)]."""
    if s == 2:
      x = tf.reshape(self.dense(x), [-1, 4, 4, self.nf(1)])
      if self.dense_channel_bias is not None:
        x += self.dense_channel_bias
      x = self.pixel_norm(_lrelu(x))
      return self.pixel_norm(_lrelu(self.conv4(x)))
    x = upscale2d(x)
    for conv in self.blocks[s - 2]:
      x = self.pixel_norm(_lrelu(conv(x)))
    return x

  def rgb(self, h: tf.Tensor, s: int) -> tf.Tensor:
    """toRGB of resolution 2^s: the linear output, data in [-1, 1]."""
    return self.to_rgb[s - 2](h)

  def latent_input(self, z: tf.Tensor, y: tf.Tensor | None) -> tf.Tensor:
    x = self.pixel_norm(z) if self.normalize_latents else z
    if self.conditional:
      if y is None:
        raise ValueError(f"{self.name}: a conditional generator needs labels y. "
                         "Received: y=None")
      x = tf.concat([x, tf.cast(y, x.dtype)], axis=1)
    return x

  def _grow(self, x: tf.Tensor, s: int, lod_in: tf.Tensor) -> tf.Tensor:
    """Full-size linear output from the input `x` of block s (features of
    level s - 1) at level of detail `lod_in`."""
    h = self.block(x, s)
    lod = self.resolution_log2 - s

    def here():
      return upscale2d(self.rgb(h, s), 2 ** lod)

    out = here
    if s > 2:
      def fade():  # lod < lod_in < lod + 1: alpha = 1 - (lod_in - lod)
        new = self.rgb(h, s)
        old = upscale2d(self.rgb(x, s - 1))
        return upscale2d(lerp_clip(new, old, lod_in - lod), 2 ** lod)
      out = lambda here=out: tf.cond(lod_in > lod, fade, here)
    if lod > 0:
      out = lambda here=out: tf.cond(lod_in < lod,
                                     lambda: self._grow(h, s + 1, lod_in), here)
    return out()

  def call(self, z, y=None, training=None):
    lod_in = tf.convert_to_tensor(self.lod)
    x = self._grow(self.latent_input(z, y), 2, lod_in)
    images = x * 0.5 + 0.5
    if not training:
      images = tf.clip_by_value(images, 0.0, 1.0)
    return images

  def get_config(self):
    return {**super().get_config(), **self._progressive_config(),
            "normalize_latents": self.normalize_latents, "dense_bias": self.dense_bias}


class Discriminator(_Progressive, base.Discriminator):
  """ProGAN discriminator: full-size [B, res, res, colors] in [0, 1] ->
  ([B, 1], [B, 1], h [B, nf(0)]).

  Args:
    fmap_base, fmap_decay, fmap_max: the width rule (see the module doc).
    mbstd_group_size: int. Minibatch stddev group; <= 1 turns it off.
      Defaults to `4`.
    mbstd_grouping: str. "strided" (the original's) or "consecutive" (the
      same statistics on any replica count when each replica's batch is a
      multiple of the group), see ops.progan.MinibatchStddev. Defaults to
      `"strided"`.
    fused_scale: bool. The second conv of each block pools before its bias
      and activation (the original's default fused conv + downscale); False:
      conv, bias, activation, then pooling (the original's fused_scale=False).
      Defaults to `True`.
  """

  def __init__(self, *, fmap_base: int = 8192, fmap_decay: float = 1.0,
               fmap_max: int = 512, mbstd_group_size: int = 4,
               mbstd_grouping: str = "strided", fused_scale: bool = True,
               **kwargs: Any):
    super().__init__(**kwargs)
    _check_options(NAME, self)
    if mbstd_grouping not in MBSTD_GROUPINGS:
      raise ValueError(f"progan.Discriminator.mbstd_grouping must be one of "
                       f"{MBSTD_GROUPINGS}. Received: {mbstd_grouping!r}")
    self._init_progressive(fmap_base, fmap_decay, fmap_max)
    self.mbstd_group_size = mbstd_group_size
    self.mbstd_grouping = mbstd_grouping
    self.fused_scale = fused_scale
    # from_rgb[i], blocks[i] belong to resolution 2^(i + 2).
    self.from_rgb, self.blocks = [], [None]
    for s in range(2, self.resolution_log2 + 1):
      r = 2 ** s
      self.from_rgb.append(_built(EqualizedConv2D(self.nf(s - 1), 1, name=f"d_fromrgb_{r}"),
                                  (None, r, r, self.colors)))
      if s > 2:
        c = self.nf(s - 1)
        self.blocks.append([
            _built(EqualizedConv2D(c, 3, name=f"d_{r}_conv0"), (None, r, r, c)),
            _built(EqualizedConv2D(self.nf(s - 2), 3, downscale=fused_scale,
                                   name=f"d_{r}_conv1"), (None, r, r, c))])
    nf0, nf1 = self.nf(0), self.nf(1)
    self.mbstd = None
    extra = 0
    if mbstd_group_size > 1:
      self.mbstd = MinibatchStddev(mbstd_group_size, grouping=mbstd_grouping,
                                   name="minibatch_stddev")
      extra = 1
    self.conv4 = _built(EqualizedConv2D(nf1, 3, name="d_4x4_conv"),
                        (None, 4, 4, nf1 + extra))
    self.dense0 = _built(EqualizedDense(nf0, name="d_4x4_dense0"), (None, 16 * nf1))
    self.dense1 = _built(EqualizedDense(1, gain=1.0, name="d_4x4_dense1"), (None, nf0))
    self.embedding = None
    if self.conditional:
      self.embedding = _built(EqualizedDense(nf0, gain=1.0, use_bias=False,
                                             name="d_embedding"),
                              (None, self.num_classes))

  def from_images(self, images: tf.Tensor, s: int) -> tf.Tensor:
    """fromRGB of level s on the input box-downscaled to 2^s."""
    x = downscale2d(images, 2 ** (self.resolution_log2 - s))
    return _lrelu(self.from_rgb[s - 2](x))

  def block(self, x: tf.Tensor, s: int) -> tf.Tensor:
    """Block of resolution 2^s, s > 2: two convs and a 2x downscale (fused
    into the second conv, before its activation, with `fused_scale`)."""
    for conv in self.blocks[s - 2]:
      x = _lrelu(conv(x))
    return x if self.fused_scale else downscale2d(x)

  def _grow(self, images: tf.Tensor, s: int, lod_in: tf.Tensor) -> tf.Tensor:
    """Output of block s (s > 2), features of level s - 1."""
    lod = self.resolution_log2 - s

    def direct():
      return self.from_images(images, s)

    x = direct
    if lod > 0:
      x = lambda: tf.cond(lod_in < lod,
                          lambda: self._grow(images, s + 1, lod_in), direct)
    y = self.block(x(), s)

    def fade():  # the 2x-downscaled path weighs lod_in - lod
      return lerp_clip(y, self.from_images(images, s - 1), lod_in - lod)

    return tf.cond(lod_in > lod, fade, lambda: y)

  def call(self, x, y=None, training=None):
    images = tf.convert_to_tensor(x) * 2.0 - 1.0
    lod_in = tf.convert_to_tensor(self.lod)
    if self.max_lod > 0:
      net = tf.cond(lod_in < self.max_lod,
                    lambda: self._grow(images, 3, lod_in),
                    lambda: self.from_images(images, 2))
    else:
      net = self.from_images(images, 2)
    if self.mbstd is not None:
      net = self.mbstd(net)
    net = _lrelu(self.conv4(net))
    net = tf.reshape(net, [-1, 16 * self.nf(1)])
    h = _lrelu(self.dense0(net))
    logits = self.dense1(h)
    if self.embedding is not None:
      if y is None:
        raise ValueError(f"{self.name}: a conditional discriminator needs labels y. "
                         "Received: y=None")
      logits += tf.reduce_sum(self.embedding(tf.cast(y, h.dtype)) * h, axis=1,
                              keepdims=True)
    return tf.nn.sigmoid(logits), logits, h

  def get_config(self):
    return {**super().get_config(), **self._progressive_config(),
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_grouping": self.mbstd_grouping, "fused_scale": self.fused_scale}


base.register(NAME, Generator, Discriminator, resolutions=RESOLUTIONS,
              gin_module="progan",
              # Linear toRGB, clipped in inference only (clipping in training
              # would cut G's gradient); the toRGB/fromRGB of the other levels
              # get no gradient; pixel norm built in (no G/D.batch_norm_fn).
              test={"resolution": 8, "widths": {"fmap_base": 64, "fmap_max": 8},
                    "output": "unbounded_in_training", "progressive": True,
                    "batch_norm": False})
