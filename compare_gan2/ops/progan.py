"""ProGAN layers (Karras et al., 2018, arXiv:1710.10196): equalized learning
rate dense and convolution (optionally fused with a 2x box downscale),
pixelwise feature normalization, minibatch standard deviation, and the 2x box
downscale / nearest upscale of the progressive growing.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

SQRT2 = math.sqrt(2.0)


class _EqualizedLayer(keras.layers.Layer):
  """Base of the equalized learning rate layers.

  The kernel is stored ~ N(0, 1) and multiplied at run time by
  gain / sqrt(fan_in) (He's constant), so that Adam's per-weight step sizes
  act on every layer alike (paper, section 4.1).

  Args:
    gain: float. Defaults to `sqrt(2)` (ReLU-like activations).
    use_bias: bool. Add a bias (initialised at 0, not scaled).
  """

  def __init__(self, *, gain: float = SQRT2, use_bias: bool = True, **kwargs: Any):
    super().__init__(**kwargs)
    self.gain = float(gain)
    self.use_bias = use_bias

  def _build_kernel(self, shape: tuple[int, ...]) -> None:
    fan_in = math.prod(shape[:-1])
    self.scale = self.gain / math.sqrt(fan_in)
    self.kernel = self.add_weight(
        name="kernel", shape=shape,
        initializer=keras.initializers.RandomNormal(stddev=1.0))
    self.bias = None
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(shape[-1],),
                                  initializer="zeros")

  def scaled_kernel(self) -> tf.Tensor:
    """The kernel as the forward pass uses it: kernel * gain / sqrt(fan_in)."""
    return tf.convert_to_tensor(self.kernel) * self.scale

  def _add_bias(self, x: tf.Tensor) -> tf.Tensor:
    return x if self.bias is None else x + self.bias

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "gain": self.gain, "use_bias": self.use_bias}


class EqualizedDense(_EqualizedLayer):
  """Dense layer with equalized learning rate: x @ (W * gain / sqrt(fan_in)) + b.

  Args:
    units: int. Output features.
  """

  def __init__(self, units: int, **kwargs: Any):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    self._build_kernel((int(input_shape[-1]), self.units))

  def call(self, x):
    return self._add_bias(tf.matmul(x, self.scaled_kernel()))

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "units": self.units}


def box_blur_kernel(kernel: tf.Tensor) -> tf.Tensor:
  """[k, k, C_in, C_out] -> [k + 1, k + 1, C_in, C_out]: the mean of the
  kernel's four one-pixel shifts (the original pads and adds four slices).

  Written as one product with a constant 0/0.25 matrix: pad and slice have
  gradients whose own gradient XLA lacks (XlaDynamicUpdateSlice), which the
  WGAN-GP step's nested level conds need at 32 px and up under jit_compile.
  """
  k = int(kernel.shape[0])
  blur = np.zeros([k + 1, k + 1, k, k], np.float32)
  for i in range(k):
    for j in range(k):
      blur[i:i + 2, j:j + 2, i, j] = 0.25
  flat = tf.reshape(kernel, [k * k, -1])
  out = tf.matmul(tf.constant(blur.reshape((k + 1) ** 2, k * k), kernel.dtype), flat)
  return tf.reshape(out, [k + 1, k + 1, kernel.shape[2], kernel.shape[3]])


class EqualizedConv2D(_EqualizedLayer):
  """"Same" convolution with equalized learning rate (fan_in = k * k * C_in).

  With `downscale` it is the original's fused conv + 2x box downscale
  (conv2d_downscale2d): the k x k kernel is box-blurred to (k + 1) x (k + 1)
  (the mean of its four one-pixel shifts) and applied with stride 2, which
  equals downscale2d(conv(x)) before the bias: the layer pools before any
  activation that follows it. [B, H, W, C_in] -> [B, H / 2, W / 2, filters].

  Args:
    filters: int. Output channels.
    kernel_size: int. Square kernel side. Defaults to `3`.
    downscale: bool. Fuse a 2x box downscale (stride 2). Defaults to `False`.
  """

  def __init__(self, filters: int, kernel_size: int = 3, downscale: bool = False,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.downscale = downscale

  def build(self, input_shape):
    k = self.kernel_size
    self._build_kernel((k, k, int(input_shape[-1]), self.filters))

  def call(self, x):
    kernel = self.scaled_kernel()
    if not self.downscale:
      return self._add_bias(tf.nn.conv2d(x, kernel, strides=1, padding="SAME"))
    return self._add_bias(tf.nn.conv2d(x, box_blur_kernel(kernel), strides=2,
                                       padding="SAME"))

  def compute_output_shape(self, input_shape):
    b, h, w, _ = input_shape
    if self.downscale:
      h, w = (None if h is None else h // 2), (None if w is None else w // 2)
    return (b, h, w, self.filters)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "filters": self.filters,
            "kernel_size": self.kernel_size, "downscale": self.downscale}


class PixelNorm(keras.layers.Layer):
  """Pixelwise feature vector normalization: x * rsqrt(mean_c(x^2) + eps),
  over the last (channel) axis.

  Args:
    epsilon: float. Defaults to `1e-8`.
  """

  def __init__(self, epsilon: float = 1e-8, **kwargs: Any):
    super().__init__(**kwargs)
    self.epsilon = epsilon

  def call(self, x):
    return x * tf.math.rsqrt(
        tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + self.epsilon)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "epsilon": self.epsilon}


def group_size_for(batch: tf.Tensor | int, group_size: int) -> tf.Tensor:
  """The largest divisor of `batch` that is <= `group_size` (a tensor, so
  that a batch cut to a size known only at run time works too)."""
  candidates = tf.range(1, group_size + 1)
  divides = tf.equal(tf.math.floormod(tf.cast(batch, tf.int32), candidates), 0)
  return tf.reduce_max(tf.where(divides, candidates, 1))


MBSTD_GROUPINGS = ("strided", "consecutive")


class MinibatchStddev(keras.layers.Layer):
  """Minibatch standard deviation (paper, section 3): appends one feature map
  holding, for the example's group, the standard deviation of each feature
  over the group averaged over C, H, W.

  G is the largest divisor of the batch B that is <= `group_size` (the
  original takes min(group_size, B) and fails when that does not divide B).
  `grouping`:
    "strided" (the original's minibatch_stddev_layer): the batch is reshaped
      to [G, B / G, ...], so group m holds examples m, m + B/G, m + 2B/G, ...;
    "consecutive": groups are examples [g * G, (g + 1) * G), so a batch split
      over replicas in multiples of G gets the statistics one replica gets.

  Args:
    group_size: int. Defaults to `4`.
    epsilon: float. Added to the variance. Defaults to `1e-8`.
    grouping: str. "strided" or "consecutive". Defaults to `"strided"`.
  """

  def __init__(self, group_size: int = 4, epsilon: float = 1e-8,
               grouping: str = "strided", **kwargs: Any):
    super().__init__(**kwargs)
    if grouping not in MBSTD_GROUPINGS:
      raise ValueError(f"MinibatchStddev.grouping must be one of {MBSTD_GROUPINGS}. "
                       f"Received: {grouping!r}")
    self.group_size = group_size
    self.epsilon = epsilon
    self.grouping = grouping

  def call(self, x):
    shape = tf.shape(x)
    g = group_size_for(shape[0], self.group_size)
    strided = self.grouping == "strided"
    # The group axis: [G, B/G, H, W, C] (strided) or [B/G, G, H, W, C].
    axis = 0 if strided else 1
    y = tf.reshape(x, [g, -1, shape[1], shape[2], shape[3]] if strided
                   else [-1, g, shape[1], shape[2], shape[3]])
    y -= tf.reduce_mean(y, axis=axis, keepdims=True)
    y = tf.sqrt(tf.reduce_mean(tf.square(y), axis=axis) + self.epsilon)
    y = tf.reduce_mean(y, axis=[1, 2, 3])  # [B/G]: one scalar per group
    # Example n belongs to group n mod (B/G) (strided) or n // G.
    y = tf.tile(y, [g]) if strided else tf.repeat(y, g)
    y = tf.tile(y[:, None, None, None], [1, shape[1], shape[2], 1])
    return tf.concat([x, tf.cast(y, x.dtype)], axis=-1)

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], input_shape[-1] + 1)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "group_size": self.group_size,
            "epsilon": self.epsilon, "grouping": self.grouping}


def downscale2d(x: tf.Tensor, factor: int = 2) -> tf.Tensor:
  """Box filter: the mean of each factor x factor block (NHWC)."""
  if factor == 1:
    return x
  return tf.nn.avg_pool2d(x, factor, factor, "VALID")


def upscale2d(x: tf.Tensor, factor: int = 2) -> tf.Tensor:
  """Nearest-neighbour upscaling by an integer factor (NHWC)."""
  if factor == 1:
    return x
  # Reshape and tile with constant multiples rather than tf.repeat: inside
  # the levels' tf.cond, XLA needs the gradient's shapes as compile-time
  # constants, and tf.repeat's gradient reads its computed multiples.
  dynamic = tf.shape(x)
  _, h, w, c = (d if d is not None else dynamic[i] for i, d in enumerate(x.shape))
  x = tf.tile(x[:, :, None, :, None, :], [1, 1, factor, 1, factor, 1])
  return tf.reshape(x, [-1, h * factor, w * factor, c])


def block_average(x: tf.Tensor, factor: int) -> tf.Tensor:
  """upscale2d(downscale2d(x)): x at 1/factor of its resolution, same shape."""
  return upscale2d(downscale2d(x, factor), factor)
