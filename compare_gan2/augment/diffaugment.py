"""Differentiable augmentation (DiffAugment; Zhao et al., 2020,
arXiv:2006.10738), applied to real and fake images before D in both the D and
the G step so that D never sees un-augmented images and G's gradient flows
through the augmentation.

A policy is a comma-separated list of registered augmentations, applied in the
written order: "color,translation,cutout". Every draw is per example and comes
from the example's seed pair (`random_ops`), so a global batch is augmented the
same way on one device or split over replicas, and under XLA.

The ops' constants (brightness shift U[-0.5, 0.5), vacated pixels set to 0)
are in the units of the images they act on. The paper's two codes differ
there, and `DiffAugment.map_to_symmetric` picks one:
  True (default): images in [lo, hi] are mapped to [-1, 1], augmented and
    mapped back, as in the PyTorch BigGAN-CIFAR code, whose images are in
    [-1, 1] (DiffAugment-biggan-cifar). In this library's [0, 1] images a
    brightness shift is then U[-0.25, 0.25) and a vacated pixel reads 0.5
    (grey).
  False: the ops act on the images as they are, as in the TensorFlow
    compare_gan fork that produced the ImageNet numbers
    (DiffAugment-biggan-imagenet applies DiffAugment_tf.py to compare_gan's
    [0, 1] images): a shift is U[-0.5, 0.5) and a vacated pixel is 0 (black).
"""

from __future__ import annotations

from typing import Callable, Sequence

import gin
import tensorflow as tf

from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import AUGMENTATIONS

# An augmentation maps (images [B, H, W, C] in [-1, 1], seeds [B, 2], salt)
# to images of the same shape.
Augmentation = Callable[[tf.Tensor, tf.Tensor, int], tf.Tensor]


@AUGMENTATIONS.register("brightness")
def brightness(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """x + (u - 0.5), u ~ U[0, 1) per example."""
  u = per_example_uniform(seeds, [1, 1, 1], salt)
  return x + (u - 0.5)


@AUGMENTATIONS.register("saturation")
def saturation(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """(x - m) * 2u + m, m the per-pixel mean over channels."""
  u = per_example_uniform(seeds, [1, 1, 1], salt)
  m = tf.reduce_mean(x, axis=3, keepdims=True)
  return (x - m) * (2.0 * u) + m


@AUGMENTATIONS.register("contrast")
def contrast(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """(x - m) * (u + 0.5) + m, m the per-image mean over H, W, C."""
  u = per_example_uniform(seeds, [1, 1, 1], salt)
  m = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
  return (x - m) * (u + 0.5) + m


@AUGMENTATIONS.register("color")
def color(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """Brightness, saturation, contrast, each with its own draw."""
  x = brightness(x, seeds, salt)
  x = saturation(x, seeds, salt + 1)
  return contrast(x, seeds, salt + 2)


def _random_ints(seeds: tf.Tensor, salt: int, low: Sequence[int],
                 high: Sequence[int]) -> tf.Tensor:
  """Two integers per example, (row, col), the k-th uniform in
  [low[k], high[k]): int32 [B, 2]."""
  u = per_example_uniform(seeds, [2], salt)
  low, high = tf.constant(low, tf.int32), tf.constant(high, tf.int32)
  span = tf.cast(high - low, tf.float32)
  return tf.minimum(low + tf.cast(tf.floor(u * span), tf.int32), high - 1)


def _side(size: int, ratio: float) -> int:
  return int(size * ratio + 0.5)


def _reflect(index: tf.Tensor, size: int) -> tf.Tensor:
  """index mirrored into [0, size) without repeating the edge (numpy's and
  TensorFlow's "reflect": -1 -> 1, size -> size - 2); |shift| < size."""
  index = tf.abs(index)
  return (size - 1) - tf.abs((size - 1) - index)


def shift_images(x: tf.Tensor, offsets: tf.Tensor, padding: str = "zeros") -> tf.Tensor:
  """Moves image b by offsets[b] = (dy, dx) whole pixels.

  out[b, i, j] = x[b, i - dy, j - dx]; outside the image the pixel is 0
  (padding "zeros") or the image mirrored at its edge ("reflect", shifts
  smaller than the image). Built from gathers, so it is differentiable with
  respect to x.
  """
  h, w = x.shape[1], x.shape[2]
  if padding == "reflect":
    rows = _reflect(tf.range(h)[None, :] - offsets[:, :1], h)
    cols = _reflect(tf.range(w)[None, :] - offsets[:, 1:], w)
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)
  if padding != "zeros":
    raise ValueError(f"padding must be 'zeros' or 'reflect'. Received: {padding!r}")
  pad = max(h, w)
  padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
  rows = tf.range(h)[None, :] + pad - offsets[:, :1]
  cols = tf.range(w)[None, :] + pad - offsets[:, 1:]
  padded = tf.gather(padded, rows, axis=1, batch_dims=1)
  return tf.gather(padded, cols, axis=2, batch_dims=1)


@AUGMENTATIONS.register("translation")
def translation(x: tf.Tensor, seeds: tf.Tensor, salt: int,
                ratio: float = 0.125) -> tf.Tensor:
  """Shifts each image by integers in [-s, s] per axis, s = int(size * ratio
  + 0.5) of that axis (height for rows, width for columns), zero fill."""
  return shift_images(x, random_offsets(seeds, salt, x.shape[1:3], ratio))


def random_offsets(seeds: tf.Tensor, salt: int, size: Sequence[int],
                   ratio: float) -> tf.Tensor:
  """(dy, dx) per example, uniform integers in [-s, s] per axis, s =
  int(size * ratio + 0.5) of that axis: int32 [B, 2]."""
  sh, sw = _side(size[0], ratio), _side(size[1], ratio)
  return _random_ints(seeds, salt, (-sh, -sw), (sh + 1, sw + 1))


def random_flip(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
  """Mirrors each image left-right with probability 1/2 (its own draw)."""
  flip = per_example_uniform(seeds, [1, 1, 1], salt) < 0.5
  return tf.where(flip, tf.reverse(x, axis=[2]), x)



def cutout_mask(size: tuple[int, int], centres: tf.Tensor,
                side: tuple[int, int]) -> tf.Tensor:
  """1 outside, 0 inside a side[0] x side[1] rectangle per example: rows
  [cy - side[0] // 2, cy - side[0] // 2 + side[0]), columns likewise, clipped
  to the image. float [B, H, W, 1]."""
  start = centres - tf.constant([side[0] // 2, side[1] // 2], tf.int32)
  rows = tf.range(size[0])[None, :]
  cols = tf.range(size[1])[None, :]
  in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + side[0])
  in_cols = (cols >= start[:, 1:]) & (cols < start[:, 1:] + side[1])
  inside = in_rows[:, :, None] & in_cols[:, None, :]
  return 1.0 - tf.cast(inside, tf.float32)[..., None]


@AUGMENTATIONS.register("cutout")
def cutout(x: tf.Tensor, seeds: tf.Tensor, salt: int,
           ratio: float = 0.5) -> tf.Tensor:
  """Zeroes a rectangle of sides int(size * ratio + 0.5) per axis at a random
  centre (as the original: centre in [0, size + 1 - side % 2) per axis)."""
  h, w = x.shape[1], x.shape[2]
  side = (_side(h, ratio), _side(w, ratio))
  centres = _random_ints(seeds, salt, (0, 0),
                         (h + 1 - side[0] % 2, w + 1 - side[1] % 2))
  return x * cutout_mask((h, w), centres, side)



def parse_policy(policy: str | Sequence[str]) -> list[str]:
  """Names of a policy string; unknown names raise with the close matches."""
  names = policy.split(",") if isinstance(policy, str) else list(policy)
  names = [n.strip() for n in names if n.strip()]
  for name in names:
    AUGMENTATIONS.get(name)
  return names


def diff_augment(images: tf.Tensor, policy: str | Sequence[str], seeds: tf.Tensor,
                 salt: int = 0, data_range: tuple[float, float] = (-1.0, 1.0),
                 map_to_symmetric: bool = True) -> tf.Tensor:
  """Applies a DiffAugment policy to a batch.

  Args:
    images: float [B, H, W, C] in `data_range`.
    policy: "color,translation,cutout" or a list of registered names.
    seeds: int32 [B, 2] per-example seeds.
    salt: int. Makes independent draws for different uses of the same seeds
      (the real and the fake batch of one step).
    data_range: (lo, hi) of the images.
    map_to_symmetric: bool. Apply the ops in [-1, 1] (mapping `data_range`
      there and back) or, if False, to the images as they are.
  Returns images of the same shape and range convention.
  """
  names = parse_policy(policy)
  if not names:
    return images
  images = tf.convert_to_tensor(images, tf.float32)
  if images.shape.rank != 4:
    raise ValueError(f"diff_augment expects [B, H, W, C] images. Received shape {images.shape}")
  if not map_to_symmetric:
    return _apply(images, names, seeds, salt)
  lo, hi = data_range
  x = (images - lo) * (2.0 / (hi - lo)) - 1.0
  x = _apply(x, names, seeds, salt)
  return (x + 1.0) * ((hi - lo) / 2.0) + lo


def _apply(x: tf.Tensor, names: list[str], seeds: tf.Tensor, salt: int) -> tf.Tensor:
  for i, name in enumerate(names):
    x = AUGMENTATIONS.get(name)(x, seeds, salt * 1000 + i * 10)
  return x


@gin.configurable("DiffAugment")
class DiffAugment:
  """The augmentation of a GAN's D inputs, set from gin.

  Args:
    policy: comma-separated augmentations, "" for none (the default).
    penalty_on_augmented: bool. The penalty (R1, WGAN-GP, ...) sees the
      augmented reals and fakes (True, the paper's default) or the
      un-augmented ones (False).
    data_range: the range of the GAN's images; this library's are [0, 1].
    map_to_symmetric: bool. True (default): the ops act in [-1, 1], as in the
      PyTorch BigGAN-CIFAR code (grey fill, brightness +-0.25 of [0, 1]).
      False: they act on the [0, 1] images directly, as in the TensorFlow
      compare_gan fork of the ImageNet results (black fill, brightness +-0.5).
  """

  def __init__(self, policy: str = "", penalty_on_augmented: bool = True,
               data_range: tuple[float, float] = (0.0, 1.0),
               map_to_symmetric: bool = True):
    if not isinstance(map_to_symmetric, bool):
      raise ValueError("`DiffAugment.map_to_symmetric` must be True or False. "
                       f"Received: map_to_symmetric={map_to_symmetric!r}")
    self.names = parse_policy(policy)
    self.penalty_on_augmented = penalty_on_augmented
    self.data_range = tuple(data_range)
    self.map_to_symmetric = map_to_symmetric

  @property
  def policy(self) -> str:
    return ",".join(self.names)

  def __bool__(self) -> bool:
    return bool(self.names)

  def __call__(self, images: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
    return diff_augment(images, self.names, seeds, salt, self.data_range,
                        self.map_to_symmetric)
