"""Independent numpy computations the ops tests compare against."""

import keras
import numpy as np

from compare_gan2.ops import Conv2D, Deconv2D, Linear


def _rng(seed=0):
  return np.random.default_rng(seed)


def _np(t):
  return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def _unit(v, eps=1e-12):
  return v / max(np.linalg.norm(v), eps)


def _holds(variables, variable):
  return any(v is variable for v in variables)


def _as_matrix(kernel):
  kernel = _np(kernel)
  return kernel.reshape(-1, kernel.shape[-1])


def _same_pads(size, k, s):
  out = -(-size // s)
  total = max((out - 1) * s + k - size, 0)
  return out, total // 2


def _np_conv2d_same(x, k, s=1):
  """Direct numpy SAME convolution: x [B, H, W, Ci], k [kh, kw, Ci, Co]."""
  b, h, w, _ = x.shape
  kh, kw, _, co = k.shape
  oh, pt = _same_pads(h, kh, s)
  ow, pl = _same_pads(w, kw, s)
  y = np.zeros((b, oh, ow, co))
  for i in range(oh):
    for j in range(ow):
      for di in range(kh):
        for dj in range(kw):
          r, c = i * s + di - pt, j * s + dj - pl
          if 0 <= r < h and 0 <= c < w:
            y[:, i, j] += x[:, r, c] @ k[di, dj]
  return y


def _np_deconv2d_same(x, k, s):
  """numpy transposed SAME convolution (the adjoint of a stride-s conv).

  x [B, H, W, Ci], k [kh, kw, Ci, Co] (our Deconv2D layout) -> [B, sH, sW, Co].
  """
  b, h, w, _ = x.shape
  kh, kw, _, co = k.shape
  oh, ow = h * s, w * s
  _, pt = _same_pads(oh, kh, s)
  _, pl = _same_pads(ow, kw, s)
  y = np.zeros((b, oh, ow, co))
  for i in range(h):
    for j in range(w):
      for di in range(kh):
        for dj in range(kw):
          r, c = i * s + di - pt, j * s + dj - pl
          if 0 <= r < oh and 0 <= c < ow:
            y[:, r, c] += x[:, i, j] @ k[di, dj]
  return y


def _np_maxpool2(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _np_avgpool2(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _np_standardize(x, mean, var, eps=1e-3):
  return (x - mean) / np.sqrt(var + eps)


def _np_moments(x):
  axes = tuple(range(x.ndim - 1))
  return x.mean(axes), x.var(axes)


def _randomize(layer, rng):
  for v in layer.weights:
    v.assign(rng.normal(size=tuple(v.shape)))


def _bn_input(rng, shape=(8, 3, 3, 4)):
  # Channel means and scales far from 0 / 1 so that a wrong moment shows.
  return rng.normal(size=shape) * np.array([1.0, 2.0, 0.5, 3.0]) + np.array(
      [3.0, -1.0, 0.0, 10.0])


# Layers with their input shapes; rows of the (-1, C_out) kernel matrix noted.
_SN_LAYERS = {
    "linear": (lambda **kw: Linear(12, **kw), (3, 20)),          # 20 x 12
    "conv": (lambda **kw: Conv2D(6, 3, **kw), (2, 5, 5, 4)),     # 36 x 6
    # The original's matrix of a transposed conv: [k, k, out, in] -> 45 x 4.
    "deconv": (lambda **kw: Deconv2D(5, 3, **kw), (2, 3, 3, 4)),
}
