"""Spectral normalization (Miyato et al., 2018, arXiv:1802.05957).

The kernel W is reshaped to (rows, last axis) (compare_gan
arch_ops.spectral_norm: `tf.reshape(w, (-1, w.shape[-1]))`). A persistent
vector u estimates one singular vector; each training call runs exactly one
power iteration and stores the new u. Inference calls reuse u without changing
it (the original updated u on every call, a quirk we do not keep).

For transposed convolutions the original's kernel is [kh, kw, C_out, C_in], so
its matrix is (kh*kw*C_out, C_in); `spectral_norm.deconv_matrix` chooses
between that (the default) and the (kh*kw*C_in, C_out) matrix of our stored
[kh, kw, C_in, C_out] kernel. The two have different largest singular values.
"""

from __future__ import annotations

import gin
import tensorflow as tf

SINGULAR_VALUES = ("auto", "left", "right")
DECONV_MATRICES = ("original", "output_last")


@gin.configurable("spectral_norm")
def options(singular_value: str = "left",
            deconv_matrix: str = "original") -> dict[str, str]:
  """gin `spectral_norm.*`.

  Args:
    singular_value: "left" (u over the rows, the original's default),
      "right" (u over the columns) or "auto" (the shorter side; the
      original's BigGAN config sets it).
    deconv_matrix: "original": a transposed convolution's kernel is
      normalized as the original's [kh, kw, C_out, C_in] tensor, i.e. the
      (kh*kw*C_out, C_in) matrix; "output_last": as the (kh*kw*C_in, C_out)
      matrix, C_out last like the other layers.
  """
  if singular_value not in SINGULAR_VALUES:
    raise ValueError(
        f"`spectral_norm.singular_value` must be one of {SINGULAR_VALUES}. "
        f"Received: singular_value={singular_value!r}")
  if deconv_matrix not in DECONV_MATRICES:
    raise ValueError(
        f"`spectral_norm.deconv_matrix` must be one of {DECONV_MATRICES}. "
        f"Received: deconv_matrix={deconv_matrix!r}")
  return dict(singular_value=singular_value, deconv_matrix=deconv_matrix)


def singular_value_side() -> str:
  """Which singular vector u tracks: gin `spectral_norm.singular_value`."""
  return options()["singular_value"]


def deconv_matrix() -> str:
  """gin `spectral_norm.deconv_matrix`."""
  return options()["deconv_matrix"]


def resolve_side(kernel_shape: tuple[int, ...], singular_value: str) -> str:
  """"left" or "right": "auto" picks the smaller side of the (rows, C_out) matrix."""
  if singular_value not in SINGULAR_VALUES:
    raise ValueError(f"singular_value must be one of {SINGULAR_VALUES}. "
                     f"Received: singular_value={singular_value!r}")
  rows = 1
  for d in kernel_shape[:-1]:
    rows *= int(d)
  if singular_value == "auto":
    return "left" if rows <= int(kernel_shape[-1]) else "right"
  return singular_value


def u_shape(kernel_shape: tuple[int, ...], side: str) -> tuple[int, int]:
  """Shape of u: (rows, 1) for "left", (1, C_out) for "right"."""
  rows = 1
  for d in kernel_shape[:-1]:
    rows *= int(d)
  return (rows, 1) if side == "left" else (1, int(kernel_shape[-1]))


def _l2_normalize(x: tf.Tensor, epsilon: float) -> tf.Tensor:
  return tf.math.l2_normalize(x, axis=None, epsilon=epsilon)


def spectral_normalize(kernel: tf.Tensor, u: tf.Variable, side: str,
                       training: bool, epsilon: float = 1e-12) -> tf.Tensor:
  """Returns kernel / sigma(kernel); in training one power iteration updates u.

  Args:
    kernel: Tensor of rank >= 2; the last axis is C_out. Any float dtype.
    u: float32 Variable of shape `u_shape(kernel.shape, side)`, not autocast.
    side: "left" (u approximates the first left singular vector) or "right".
    training: bool. Run the power iteration and store the new u.
    epsilon: float. Epsilon of the l2 normalisations.
  """
  # The power iteration and the division run in float32 whatever the compute
  # dtype (u is a float32 variable); the result comes back in kernel's dtype.
  dtype = kernel.dtype
  kernel = tf.cast(kernel, tf.float32)
  w = tf.reshape(kernel, [-1, kernel.shape[-1]])
  if side == "left":
    w = tf.transpose(w)
  # With u as a row vector over the columns of w, both sides read the same:
  # v = normalize(u w^T), u' = normalize(v w), sigma = v w u'^T.
  u_val = tf.reshape(tf.convert_to_tensor(u), [1, -1])
  v = _l2_normalize(tf.matmul(u_val, w, transpose_b=True), epsilon)
  if training:
    u_val = _l2_normalize(tf.matmul(v, w), epsilon)
    u.assign(tf.reshape(u_val, u.shape))
  u_val = tf.stop_gradient(u_val)
  v = tf.stop_gradient(v)
  sigma = tf.matmul(tf.matmul(v, w), u_val, transpose_b=True)
  return tf.cast(kernel / tf.squeeze(sigma), dtype)
