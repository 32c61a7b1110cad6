"""ADA's augmentation pipeline (Karras et al., "Training Generative
Adversarial Networks with Limited Data", NeurIPS 2020, arXiv:2006.06676), as
NVlabs/stylegan2-ada `training/augment.py` defines it: every op is applied to
an example with probability p (times its multiplier, 1 in the pipelines
here); the geometric ops make one inverse matrix per example that is executed
once (reflect padding, 2x upsampling with the sym6 wavelet, bilinear
sampling, filtered 2x downsampling); the colour ops make one 4x4 matrix.

Images are mapped from `data_range` to [-1, 1] (the original's range, in
which its strengths are given) and back. Every random draw is per example,
from the example's seed pair (`random_ops`), so a global batch is augmented
the same on one device or split over replicas, and under XLA. `draw` makes
the draws; `augment_with_draws` takes any draws (tests feed the same ones to
the original's formulas).

The controller of p (the original's `rt` heuristic) is `gans/adaptive.py`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf

from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import AUGMENTATIONS

Draws = dict[str, tf.Tensor]

BLIT = ("xflip", "rotate90", "xint")
GEOM = ("scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
# The original's `--augpipe` sets that this library offers.
PIPELINES = {"blit": BLIT, "geom": GEOM, "color": COLOR, "bg": BLIT + GEOM,
             "bgc": BLIT + GEOM + COLOR}

# The original's default strengths (`augment_pipeline`'s keyword defaults).
STRENGTHS = {"xint_max": 0.125, "scale_std": 0.2, "rotate_max": 1.0, "aniso_std": 0.2,
             "xfrac_std": 0.125, "brightness_std": 0.2, "contrast_std": 0.5,
             "hue_max": 1.0, "saturation_std": 1.0}

# Low-pass filter of the geometric ops: the sym6 wavelet's decomposition
# coefficients (PyWavelets' `sym6.dec_lo`, reversed), as the original uses.
SYM6 = np.array([
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
    -0.048311742585633, 0.4910559419267466, 0.787641141030194, 0.3379294217276218,
    -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
    0.0017677118642428036, -0.007800708325034148])
FILTER_PAD = len(SYM6) // 4  # the original's Hz_pad

# Per op: the names of its draws and their per-example shapes; "u" draws are
# uniform [0, 1), "n" draws standard normal, "gate" decides if the op applies.
_DRAWS = {
    "xflip": {"u": 1}, "rotate90": {"u": 1}, "xint": {"u": 2}, "scale": {"n": 1},
    "rotate_pre": {"u": 1}, "aniso": {"n": 1}, "rotate_post": {"u": 1},
    "xfrac": {"n": 2}, "brightness": {"n": 1}, "contrast": {"n": 1},
    "lumaflip": {"u": 1}, "hue": {"u": 1}, "saturation": {"n": 1}}


def draw(seeds: tf.Tensor, salt: int) -> Draws:
  """Every draw of the pipeline, per example: "<op>_gate" and "<op>_u" or
  "<op>_n" float32 [B] (or [B, 2] for the translations)."""
  draws = {}
  for k, (op, kinds) in enumerate(_DRAWS.items()):
    # Apart from DiffAugment's salt * 1000 + 10 i (it shares the salts).
    base = salt * 1000 + 500 + 10 * k
    draws[f"{op}_gate"] = per_example_uniform(seeds, [], base)
    for kind, size in kinds.items():
      u = per_example_uniform(seeds, [size], base + 1)
      if kind == "n":
        # u is a multiple of 2^-24 in [0, 1): the centre of its cell is
        # strictly inside (0, 1), where the inverse normal CDF is finite.
        u = tf.math.ndtri(u + 2.0 ** -25)
      draws[f"{op}_{kind}"] = u if size == 2 else u[:, 0]
  return draws


# --- Matrices (batched, float32) ----------------------------------------------

def _stack(rows: Sequence[Sequence[tf.Tensor | float]], batch: tf.Tensor) -> tf.Tensor:
  """[B, n, n] from rows of scalars and [B] tensors."""
  elems = [tf.broadcast_to(tf.cast(e, tf.float32), [batch]) for row in rows for e in row]
  n = len(rows)
  return tf.reshape(tf.stack(elems, axis=-1), [batch, n, n])


def _translate(tx, ty, b):
  return _stack([[1, 0, tx], [0, 1, ty], [0, 0, 1]], b)


def _scale(sx, sy, b):
  return _stack([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], b)


def _rotate(theta, b):
  c, s = tf.cos(theta), tf.sin(theta)
  return _stack([[c, -s, 0], [s, c, 0], [0, 0, 1]], b)


def _exp2(x: tf.Tensor) -> tf.Tensor:
  return tf.pow(2.0, x)


def _gate(draws: Draws, op: str, p: tf.Tensor, value: tf.Tensor, off: float) -> tf.Tensor:
  """value where the op applies to the example (gate < p), else `off`."""
  on = draws[f"{op}_gate"] < p
  if value.shape.rank == 2:
    on = on[:, None]
  return tf.where(on, value, tf.fill(tf.shape(value), tf.constant(off, tf.float32)))


def geometric_matrix(draws: Draws, p: tf.Tensor, ops: Sequence[str], size: Sequence[int],
                     strengths: dict[str, float] | None = None) -> tf.Tensor:
  """The inverse transform G_inv [B, 3, 3] (output pixel -> input pixel, in
  pixels from the image centre), the product of the chosen ops in the
  original's order; size = (height, width)."""
  s = {**STRENGTHS, **(strengths or {})}
  b = tf.shape(draws["xflip_gate"])[0]
  h, w = size
  g = tf.eye(3, batch_shape=[b])
  if "xflip" in ops:
    i = _gate(draws, "xflip", p, tf.floor(draws["xflip_u"] * 2), 0.0)
    g = g @ _scale(1.0 - 2.0 * i, 1.0, b)
  if "rotate90" in ops:
    i = _gate(draws, "rotate90", p, tf.floor(draws["rotate90_u"] * 4), 0.0)
    g = g @ _rotate(np.pi / 2 * i, b)
  if "xint" in ops:
    t = _gate(draws, "xint", p, (draws["xint_u"] * 2 - 1) * s["xint_max"], 0.0)
    g = g @ _translate(-tf.round(t[:, 0] * w), -tf.round(t[:, 1] * h), b)
  if "scale" in ops:
    k = _gate(draws, "scale", p, _exp2(draws["scale_n"] * s["scale_std"]), 1.0)
    g = g @ _scale(1.0 / k, 1.0 / k, b)
  # Pre- and post-rotation each with p_rot: P(either) = p.
  p_rot = 1.0 - tf.sqrt(tf.clip_by_value(1.0 - p, 0.0, 1.0))
  for op in ("rotate_pre", "aniso", "rotate_post"):
    if op == "aniso" and "aniso" in ops:
      k = _gate(draws, "aniso", p, _exp2(draws["aniso_n"] * s["aniso_std"]), 1.0)
      g = g @ _scale(1.0 / k, k, b)
    elif op != "aniso" and "rotate" in ops:
      theta = _gate(draws, op, p_rot, (draws[f"{op}_u"] * 2 - 1) * np.pi * s["rotate_max"],
                    0.0)
      g = g @ _rotate(theta, b)
  if "xfrac" in ops:
    t = _gate(draws, "xfrac", p, draws["xfrac_n"] * s["xfrac_std"], 0.0)
    g = g @ _translate(-t[:, 0] * w, -t[:, 1] * h, b)
  return g


def color_matrix(draws: Draws, p: tf.Tensor, ops: Sequence[str], channels: int,
                 strengths: dict[str, float] | None = None) -> tf.Tensor:
  """C [B, 4, 4] (colour in -> colour out, homogeneous); hue and saturation
  only for RGB, as the original."""
  s = {**STRENGTHS, **(strengths or {})}
  b = tf.shape(draws["xflip_gate"])[0]
  eye = tf.eye(4, batch_shape=[b])
  c = eye
  v = tf.constant(np.array([1, 1, 1, 0]) / np.sqrt(3), tf.float32)  # the luma axis
  vv = v[:, None] * v[None, :]
  if "brightness" in ops:
    t = _gate(draws, "brightness", p, draws["brightness_n"] * s["brightness_std"], 0.0)
    c = _stack([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], b) @ c
  if "contrast" in ops:
    k = _gate(draws, "contrast", p, _exp2(draws["contrast_n"] * s["contrast_std"]), 1.0)
    c = _stack([[k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]], b) @ c
  if "lumaflip" in ops:
    i = _gate(draws, "lumaflip", p, tf.floor(draws["lumaflip_u"] * 2), 0.0)
    c = (eye - 2.0 * vv * i[:, None, None]) @ c  # a Householder reflection
  if "hue" in ops and channels > 1:
    theta = _gate(draws, "hue", p, (draws["hue_u"] * 2 - 1) * np.pi * s["hue_max"], 0.0)
    c = _rotation_about(v, theta) @ c
  if "saturation" in ops and channels > 1:
    k = _gate(draws, "saturation", p, _exp2(draws["saturation_n"] * s["saturation_std"]),
              1.0)
    c = (vv + (tf.eye(4) - vv) * k[:, None, None]) @ c
  return c


def _rotation_about(v: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
  """Rotation by theta [B] about the unit axis v (Rodrigues), 4x4 homogeneous."""
  x, y, z = v[0], v[1], v[2]
  s, c = tf.sin(theta), tf.cos(theta)
  cc = 1.0 - c
  return _stack([[x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
                 [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
                 [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
                 [0, 0, 0, 1]], tf.shape(theta)[0])


def apply_color(x: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
  """C applied to NHWC images of 3 channels, or (its mean row) of 1."""
  channels = x.shape[-1]
  if channels == 3:
    return tf.einsum("bij,bhwj->bhwi", c[:, :3, :3], x) + c[:, None, None, :3, 3]
  if channels == 1:
    row = tf.reduce_mean(c[:, :3, :], axis=1)  # [B, 4]
    gain = tf.reduce_sum(row[:, :3], axis=1)
    return x * gain[:, None, None, None] + row[:, None, None, None, 3]
  raise ValueError(f"ADA's colour ops need 1 or 3 channels. Received: {channels}")


# --- Executing the geometric transform ------------------------------------------

def _fir(x: tf.Tensor, taps: np.ndarray, axis: int, stride: int = 1) -> tf.Tensor:
  """Correlation (no flip, no padding) of NHWC images with 1-D taps along
  axis 1 (rows) or 2 (columns), every `stride`-th output kept."""
  k = len(taps)
  shape = [k, 1] if axis == 1 else [1, k]
  f = tf.constant(np.asarray(taps, np.float32).reshape(shape + [1, 1]))
  f = tf.tile(f, [1, 1, x.shape[-1], 1])
  strides = [1, stride, 1, 1] if axis == 1 else [1, 1, stride, 1]
  return tf.nn.depthwise_conv2d(x, f, strides=strides, padding="VALID")


def _upsample2x(x: tf.Tensor, taps: np.ndarray) -> tf.Tensor:
  """Zero insertion then the filter (a convolution, gain 2 per axis), output
  2x the input; the sample grid is the original's (pads 6 and 5 for 12 taps)."""
  k = len(taps)
  lo, hi = (k + 1) // 2, (k - 2) // 2
  for axis in (2, 1):
    zeros = tf.zeros_like(x)
    x = tf.stack([x, zeros], axis=axis + 1)
    shape = tf.concat([tf.shape(x)[:axis], [x.shape[axis] * 2], tf.shape(x)[axis + 2:]], 0)
    x = tf.reshape(x, shape)
    pad = [[0, 0]] * 4
    pad[axis] = [lo, hi]
    x = _fir(tf.pad(x, pad), taps[::-1] * 2.0, axis)
  return x


def _downsample2x(x: tf.Tensor, taps: np.ndarray) -> tf.Tensor:
  """The filter (a correlation, gain 1) then every second sample, cropping
  2 * FILTER_PAD samples of the input on each side in all (output = input / 2
  - 2 * FILTER_PAD)."""
  crop = 2 * FILTER_PAD - (len(taps) - 1) // 2
  for axis in (2, 1):
    n = x.shape[axis]
    x = tf.gather(x, tf.range(crop, n - crop), axis=axis)
    x = _fir(x, taps, axis, stride=2)
  return x


def _bilinear(x: tf.Tensor, coords: tf.Tensor) -> tf.Tensor:
  """x [B, H, W, C] read at coords [B, N, 2] (x, y in pixels, pixel centres
  at integers), bilinear, zero outside the image; [B, N, C]."""
  h, w, c = x.shape[1], x.shape[2], x.shape[3]
  flat = tf.reshape(x, [-1, h * w, c])
  x0 = tf.floor(coords)
  frac = coords - x0
  x0 = tf.cast(x0, tf.int32)
  out = 0.0
  for dy in (0, 1):
    for dx in (0, 1):
      cx, cy = x0[..., 0] + dx, x0[..., 1] + dy
      inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
      index = tf.clip_by_value(cy, 0, h - 1) * w + tf.clip_by_value(cx, 0, w - 1)
      weight = ((frac[..., 0] if dx else 1.0 - frac[..., 0])
                * (frac[..., 1] if dy else 1.0 - frac[..., 1]))
      weight = tf.where(inside, weight, 0.0)
      out += tf.gather(flat, index, batch_dims=1) * weight[..., None]
  return out


def _margins(g_inv: tf.Tensor, size: Sequence[int], per_example: bool) -> tf.Tensor:
  """The original's reflect padding (x0, y0, x1, y1) [B, 4] float: the
  transformed corners' reach plus 2 * FILTER_PAD, clipped to [0, size - 1];
  the batch's maximum (the original) or each example's."""
  h, w = size
  cx, cy = (w - 1) / 2, (h - 1) / 2
  corners = tf.constant([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], tf.float32)
  xy = (g_inv @ corners)[:, :2, :]
  reach = tf.concat([tf.reduce_max(-xy, axis=2), tf.reduce_max(xy, axis=2)], axis=1)
  if not per_example:
    reach = tf.broadcast_to(tf.reduce_max(reach, axis=0, keepdims=True), tf.shape(reach))
  reach += tf.constant([2 * FILTER_PAD - cx, 2 * FILTER_PAD - cy] * 2, tf.float32)
  return tf.math.ceil(tf.clip_by_value(reach, 0.0, tf.constant([w - 1, h - 1] * 2, tf.float32)))


def _window(n: int, start: tf.Tensor, stop: tf.Tensor) -> tf.Tensor:
  """[B, n]: 1 for indices in [start, stop) of each example, else 0."""
  i = tf.range(n, dtype=tf.float32)[None, :]
  return tf.cast((i >= start[:, None]) & (i < stop[:, None]), tf.float32)


def execute_geometric(x: tf.Tensor, g_inv: tf.Tensor, per_example_margin: bool = True
                      ) -> tf.Tensor:
  """Resamples NHWC images through G_inv as the original does.

  The original pads each batch by its own (data-dependent) margin. Here the
  padding is the largest the original can use (size - 1, static shapes for
  XLA) and the pixels outside the original's margin are zeroed before and
  after upsampling, which gives the original's values. per_example_margin:
  each example's margin (independent of how the batch is split over
  replicas), or False: the batch's maximum, exactly the original's.
  """
  b, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
  px, py = w - 1, h - 1
  m = _margins(g_inv, (h, w), per_example_margin)
  x = tf.pad(x, [[0, 0], [py, py], [px, px], [0, 0]], mode="REFLECT")
  rows = _window(h + 2 * py, py - m[:, 1], py + h + m[:, 3])
  cols = _window(w + 2 * px, px - m[:, 0], px + w + m[:, 2])
  x *= rows[:, :, None, None] * cols[:, None, :, None]
  x = _upsample2x(x, SYM6 / SYM6.sum())
  rows = _window(2 * (h + 2 * py), 2 * (py - m[:, 1]), 2 * (py + h + m[:, 3]))
  cols = _window(2 * (w + 2 * px), 2 * (px - m[:, 0]), 2 * (px + w + m[:, 2]))
  x *= rows[:, :, None, None] * cols[:, None, :, None]
  # Output sample k (upsampled, FILTER_PAD output pixels of border) sits at
  # (k + 1) / 2 - (size + 2 * FILTER_PAD) / 2 from the centre; G_inv maps it
  # into the input, whose pixel 0 is at 2 * pad of the upsampled image.
  ho, wo = 2 * (h + 2 * FILTER_PAD), 2 * (w + 2 * FILTER_PAD)
  qx = (tf.range(wo, dtype=tf.float32) + 1.0) / 2 - (w + 2 * FILTER_PAD) / 2
  qy = (tf.range(ho, dtype=tf.float32) + 1.0) / 2 - (h + 2 * FILTER_PAD) / 2
  gy, gx = tf.meshgrid(qy, qx, indexing="ij")
  grid = tf.stack([tf.reshape(gx, [-1]), tf.reshape(gy, [-1]), tf.ones([ho * wo])], 0)
  src = (g_inv @ grid[None])[:, :2, :]  # [B, 2, N]
  src = 2.0 * src + tf.constant([[2 * px + w - 1], [2 * py + h - 1]], tf.float32)
  x = _bilinear(x, tf.transpose(src, [0, 2, 1]))
  x = tf.reshape(x, [b, ho, wo, x.shape[-1]])
  return _downsample2x(x, SYM6 / SYM6.sum())


def augment_with_draws(images: tf.Tensor, p: tf.Tensor | float, draws: Draws,
                       ops: Sequence[str] = PIPELINES["bgc"],
                       strengths: dict[str, float] | None = None,
                       per_example_margin: bool = True) -> tf.Tensor:
  """ADA's pipeline on NHWC images in [-1, 1] with probability p and the
  given draws (`draw`); differentiable with respect to the images."""
  unknown = sorted(set(ops) - set(PIPELINES["bgc"]))
  if unknown:
    raise ValueError(f"Unknown ADA ops {unknown}. Known: {', '.join(PIPELINES['bgc'])}.")
  x = tf.convert_to_tensor(images, tf.float32)
  p = tf.cast(p, tf.float32)
  draws = {k: tf.convert_to_tensor(v, tf.float32) for k, v in draws.items()}
  h, w, channels = x.shape[1], x.shape[2], x.shape[3]
  if any(op in ops for op in BLIT + GEOM):
    x = execute_geometric(x, geometric_matrix(draws, p, ops, (h, w), strengths),
                          per_example_margin)
  if any(op in ops for op in COLOR):
    x = apply_color(x, color_matrix(draws, p, ops, channels, strengths))
  return x


def ada_augment(images: tf.Tensor, p: tf.Tensor | float, seeds: tf.Tensor, salt: int,
                ops: Sequence[str] = PIPELINES["bgc"],
                data_range: tuple[float, float] = (0.0, 1.0), **kwargs) -> tf.Tensor:
  """ADA's pipeline on images in `data_range` (mapped to [-1, 1] and back),
  draws from the examples' seeds."""
  lo, hi = data_range
  x = (tf.convert_to_tensor(images, tf.float32) - lo) * (2.0 / (hi - lo)) - 1.0
  x = augment_with_draws(x, p, draw(seeds, salt), ops, **kwargs)
  return (x + 1.0) * ((hi - lo) / 2.0) + lo


def _register(name: str) -> None:
  def augmentation(x: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
    return augment_with_draws(x, 1.0, draw(seeds, salt), PIPELINES[name])
  augmentation.__doc__ = (
      f"ADA's '{name}' ops at p = 1 (Karras et al., 2020): {', '.join(PIPELINES[name])}. "
      "`ADA.pipeline` applies them with an adaptive p.")
  augmentation.__name__ = f"ada_{name}"
  AUGMENTATIONS.register(f"ada_{name}")(augmentation)


for _name in PIPELINES:
  _register(_name)
