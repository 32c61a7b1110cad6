"""Multi-scale SSIM (Wang et al., 2003) and the MS-SSIM diversity score.

Follows the conventions of tf.image.ssim_multiscale (Gaussian window applied
with VALID padding, 2x2 average pooling between scales with symmetric padding
of odd sizes, ReLU on the per-scale terms, mean over channels last) so that
scores match TF's, but is written in float64 numpy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from compare_gan2.metrics import _checks
from compare_gan2.metrics import sample_inputs
from compare_gan2.metrics.base import SampleSet, register_metric

POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
  coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  g = np.exp(-0.5 * coords ** 2 / sigma ** 2)
  return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
  """Separable VALID Gaussian filtering of [N, H, W, C] over H and W."""
  # correlate1d pads the borders; cropping half the window keeps exactly the
  # positions a VALID convolution produces, without materialising windows.
  half = len(g) // 2
  for axis in (1, 2):
    x = ndimage.correlate1d(x, g, axis=axis, mode="constant")
    x = np.take(x, np.arange(half, x.shape[axis] - half), axis=axis)
  return x


def _ssim_per_channel(x, y, max_val, filter_size, filter_sigma, k1, k2):
  """Returns (ssim, cs), each [N, C], averaged over valid positions."""
  g = _gaussian_1d(filter_size, filter_sigma)
  c1 = (k1 * max_val) ** 2
  c2 = (k2 * max_val) ** 2
  mu_x = _filter_valid(x, g)
  mu_y = _filter_valid(y, g)
  num0 = 2.0 * mu_x * mu_y
  den0 = mu_x ** 2 + mu_y ** 2
  luminance = (num0 + c1) / (den0 + c1)
  num1 = 2.0 * _filter_valid(x * y, g)
  den1 = _filter_valid(x ** 2 + y ** 2, g)
  cs = (num1 - num0 + c2) / (den1 - den0 + c2)
  return (luminance * cs).mean(axis=(1, 2)), cs.mean(axis=(1, 2))


def _downsample(x: np.ndarray) -> np.ndarray:
  """2x2 average pooling; odd sizes first repeat their last row/column."""
  _, h, w, _ = x.shape
  x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="symmetric")
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def ms_ssim(images1, images2, max_val: float = 1.0,
            filter_size: int = 11, filter_sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
  """MS-SSIM of each pair of [N, H, W, C] images; returns [N] float64."""
  x = _checks.check_images(images1, "images1")
  y = _checks.check_images(images2, "images2")
  if x.shape != y.shape:
    raise ValueError(f"Image shapes differ: {x.shape} vs {y.shape}.")
  num_scales = len(POWER_FACTORS)
  min_size = (filter_size - 1) * 2 ** (num_scales - 1) + 1
  if min(x.shape[1:3]) < min_size:
    raise ValueError(
        f"MS-SSIM with {num_scales} scales and a {filter_size}px window "
        f"needs images of at least {min_size}x{min_size}, got "
        f"{x.shape[1]}x{x.shape[2]}.")
  terms = []
  for scale in range(num_scales):
    if scale > 0:
      x, y = _downsample(x), _downsample(y)
    ssim, cs = _ssim_per_channel(x, y, max_val, filter_size, filter_sigma,
                                 k1, k2)
    # Contrast-structure at the coarser scales, full SSIM at the last one;
    # ReLU keeps the fractional powers real, as TF does.
    terms.append(np.maximum(ssim if scale == num_scales - 1 else cs, 0.0))
  terms = np.stack(terms, axis=-1)  # [N, C, scales]
  per_channel = np.prod(terms ** np.asarray(POWER_FACTORS), axis=-1)
  return per_channel.mean(axis=-1)


def ms_ssim_diversity(images, num_pairs: int = 128, seed: int = 0,
                      max_val: float = 1.0) -> float:
  """Mean MS-SSIM over random pairs of distinct images (lower = diverse).

  Pass the *generated* images: the original compare_gan scored the real ones
  by mistake (REFERENCE.md, QUIRK).
  """
  images = _checks.check_images(images, "images")
  n = images.shape[0]
  if n < 2:
    raise ValueError(f"ms_ssim_diversity needs at least 2 images, got {n}.")
  if num_pairs < 1:
    raise ValueError(f"num_pairs must be positive, got {num_pairs}.")
  rng = np.random.RandomState(seed)
  first = rng.randint(0, n, size=num_pairs)
  # Offsetting by 1..n-1 (mod n) guarantees the two images differ.
  second = (first + rng.randint(1, n, size=num_pairs)) % n
  scores = []
  batch = 32  # Bounds memory for large images.
  for s in range(0, num_pairs, batch):
    scores.append(ms_ssim(images[first[s:s + batch]],
                          images[second[s:s + batch]], max_val=max_val))
  return float(np.mean(np.concatenate(scores)))


@register_metric("ms_ssim", directions={"ms_ssim": 0},
                 test_inputs=sample_inputs.large_images)
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Diversity: mean MS-SSIM between random pairs of *generated* images.

  The original scored the real ones by mistake.
  """
  del real
  return {"ms_ssim": float(ms_ssim_diversity(fake.images))}
