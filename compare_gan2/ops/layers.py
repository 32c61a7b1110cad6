"""Linear, convolution and transposed convolution with optional spectral or
weight normalization of the kernel (compare_gan architectures/arch_ops.py)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from compare_gan2.ops import initializers
from compare_gan2.ops import spectral_norm as sn


class _NormalizedKernelLayer(keras.layers.Layer):
  """Base for layers with one kernel that may be spectrally or weight normalized.

  Args:
    use_sn: bool. Spectral normalization of the kernel. Defaults to `False`.
    use_wn: bool. Weight normalization (Salimans & Kingma, 2016): kernel =
      g * v / ||v|| per output unit. Defaults to `False`.
    use_bias: bool. Add a bias initialised at `bias_start`. Defaults to `True`.
    bias_start: float. Initial bias. Defaults to `0.0`.
    kernel_initializer: initializer name or config; `None` takes gin
      `weights.initializer`.
    singular_value: "auto" | "left" | "right"; `None` takes gin
      `spectral_norm.singular_value`.
  """

  def __init__(self, *, use_sn: bool = False, use_wn: bool = False,
               use_bias: bool = True, bias_start: float = 0.0,
               kernel_initializer: Any = None, singular_value: str | None = None,
               **kwargs: Any):
    super().__init__(**kwargs)
    if use_sn and use_wn:
      raise ValueError(f"{self.name}: use_sn and use_wn are exclusive. "
                       "Received: use_sn=True, use_wn=True")
    self.use_sn = use_sn
    self.use_wn = use_wn
    self.use_bias = use_bias
    self.bias_start = bias_start
    if kernel_initializer is None:
      kernel_initializer = initializers.weight_initializer()
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.singular_value = singular_value or sn.singular_value_side()

  def _sn_permutation(self) -> list[int] | None:
    """Axes order in which spectral norm sees the kernel before reshaping it
    to (-1, last axis); None for the stored order."""
    return None

  def _build_kernel(self, shape: tuple[int, ...], bias_units: int) -> None:
    self.kernel = self.add_weight(name="kernel", shape=shape,
                                  initializer=self.kernel_initializer)
    if self.use_sn:
      perm = self._sn_permutation()
      sn_shape = shape if perm is None else tuple(shape[i] for i in perm)
      self._sn_side = sn.resolve_side(sn_shape, self.singular_value)
      self.u = self.add_weight(
          name="u", shape=sn.u_shape(sn_shape, self._sn_side),
          initializer=keras.initializers.RandomNormal(stddev=1.0),
          # float32 under a bfloat16 policy too: the power iteration's state.
          trainable=False, aggregation="only_first_replica", autocast=False)
    if self.use_wn:
      self.g = self.add_weight(name="g", shape=(shape[-1],),
                               initializer="ones")
    if self.use_bias:
      self.bias = self.add_weight(
          name="bias", shape=(bias_units,),
          initializer=keras.initializers.Constant(self.bias_start))

  def normalized_kernel(self, training: bool | None = None) -> tf.Tensor:
    """The kernel as used in the forward pass."""
    kernel = tf.convert_to_tensor(self.kernel)
    if self.use_sn:
      perm = self._sn_permutation()
      if perm is None:
        return sn.spectral_normalize(kernel, self.u, self._sn_side, bool(training))
      # Normalize the permuted view (its sigma differs); permute back. The
      # permutations used are their own inverses.
      kernel = sn.spectral_normalize(tf.transpose(kernel, perm), self.u,
                                     self._sn_side, bool(training))
      return tf.transpose(kernel, perm)
    if self.use_wn:
      axes = list(range(len(kernel.shape) - 1))
      return self.g * tf.math.l2_normalize(kernel, axis=axes)
    return kernel

  def _add_bias(self, x: tf.Tensor) -> tf.Tensor:
    return x + self.bias if self.use_bias else x

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update({
        "use_sn": self.use_sn, "use_wn": self.use_wn, "use_bias": self.use_bias,
        "bias_start": self.bias_start,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "singular_value": self.singular_value,
    })
    return config


@keras.saving.register_keras_serializable("compare_gan2")
class Linear(_NormalizedKernelLayer):
  """Dense layer: [B, N] -> [B, units]."""

  def __init__(self, units: int, **kwargs: Any):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape: tuple[int, ...]) -> None:
    self._build_kernel((int(input_shape[-1]), self.units), self.units)

  def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    return self._add_bias(tf.matmul(x, self.normalized_kernel(training)))

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "units": self.units}


class _SquareKernelConv(_NormalizedKernelLayer):
  """Base of the convolutions: a [k, k, C_in, filters] kernel, a bias per
  filter, and `filters`, `kernel_size` and `strides` in the config."""

  def __init__(self, filters: int, kernel_size: int, strides: int,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.strides = strides

  def build(self, input_shape: tuple[int, ...]) -> None:
    k = self.kernel_size
    self._build_kernel((k, k, int(input_shape[-1]), self.filters), self.filters)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "filters": self.filters,
            "kernel_size": self.kernel_size, "strides": self.strides}


@keras.saving.register_keras_serializable("compare_gan2")
class Conv2D(_SquareKernelConv):
  """SAME-padded convolution: [B, H, W, C] -> [B, H/s, W/s, filters]."""

  def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1,
               **kwargs: Any):
    super().__init__(filters, kernel_size, strides, **kwargs)

  def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    y = tf.nn.conv2d(x, self.normalized_kernel(training), strides=self.strides,
                     padding="SAME")
    return self._add_bias(y)


def conv1x1(filters: int, **kwargs: Any) -> Conv2D:
  """A 1x1 convolution."""
  return Conv2D(filters, kernel_size=1, strides=1, **kwargs)


@keras.saving.register_keras_serializable("compare_gan2")
class Deconv2D(_SquareKernelConv):
  """SAME-padded transposed convolution: [B, H, W, C] -> [B, sH, sW, filters].

  The kernel is stored as [k, k, C_in, filters] so that weight normalization
  sees C_out last, like the other layers. Spectral normalization uses the
  matrix chosen by `deconv_matrix` (None: gin `spectral_norm.deconv_matrix`,
  default "original": the (k*k*filters, C_in) matrix of the original's
  [k, k, filters, C_in] kernel; "output_last": (k*k*C_in, filters)).
  """

  def __init__(self, filters: int, kernel_size: int = 5, strides: int = 2,
               deconv_matrix: str | None = None, **kwargs: Any):
    super().__init__(filters, kernel_size, strides, **kwargs)
    self.deconv_matrix = deconv_matrix or sn.deconv_matrix()
    if self.deconv_matrix not in sn.DECONV_MATRICES:
      raise ValueError(f"deconv_matrix must be one of {sn.DECONV_MATRICES}. "
                       f"Received: deconv_matrix={self.deconv_matrix!r}")

  def _sn_permutation(self) -> list[int] | None:
    return [0, 1, 3, 2] if self.deconv_matrix == "original" else None

  def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    kernel = tf.transpose(self.normalized_kernel(training), [0, 1, 3, 2])
    shape = tf.shape(x)
    out_shape = tf.stack([shape[0], shape[1] * self.strides,
                          shape[2] * self.strides, self.filters])
    y = tf.nn.conv2d_transpose(x, kernel, out_shape, strides=self.strides,
                               padding="SAME")
    y = tf.ensure_shape(y, [None, None if x.shape[1] is None else x.shape[1] * self.strides,
                            None if x.shape[2] is None else x.shape[2] * self.strides,
                            self.filters])
    return self._add_bias(y)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "deconv_matrix": self.deconv_matrix}
