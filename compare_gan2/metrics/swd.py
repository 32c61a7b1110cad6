"""Sliced Wasserstein distance over Laplacian-pyramid patches (ProGAN,
Karras et al., 2018, arXiv:1710.10196, metrics/sliced_wasserstein.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from compare_gan2.metrics import _checks
from compare_gan2.metrics.base import SampleSet, register_metric

# Binomial 5x5 filter; with mirror padding this matches cv2.pyrDown/pyrUp.
_BINOMIAL = np.float32([
    [1, 4, 6, 4, 1],
    [4, 16, 24, 16, 4],
    [6, 24, 36, 24, 6],
    [4, 16, 24, 16, 4],
    [1, 4, 6, 4, 1]]) / 256.0


def _pyr_down(x: np.ndarray) -> np.ndarray:
  return ndimage.convolve(x, _BINOMIAL[None, None], mode="mirror")[
      :, :, ::2, ::2]


def _pyr_up(x: np.ndarray) -> np.ndarray:
  n, c, h, w = x.shape
  res = np.zeros((n, c, h * 2, w * 2), x.dtype)
  res[:, :, ::2, ::2] = x
  # x4 restores the energy lost to the zeros inserted between samples.
  return ndimage.convolve(res, _BINOMIAL[None, None] * 4.0, mode="mirror")


def laplacian_pyramid(images: np.ndarray, num_levels: int) -> list:
  """Laplacian pyramid of [N, C, H, W] images, finest level first."""
  pyramid = [np.float32(images)]
  for _ in range(1, num_levels):
    pyramid.append(_pyr_down(pyramid[-1]))
    pyramid[-2] -= _pyr_up(pyramid[-1])
  return pyramid


def _patches(images, patch_size, patches_per_image, rng):
  """Random patch_size^2 patches of [N, C, H, W] images: [N*P, C, k, k]."""
  n, c, h, w = images.shape
  num = patches_per_image * n
  half = patch_size // 2
  idx, chan, dx, dy = np.ogrid[0:num, 0:c, -half:half + 1, -half:half + 1]
  img = idx // patches_per_image
  x = dx + rng.randint(half, w - half, size=(num, 1, 1, 1))
  y = dy + rng.randint(half, h - half, size=(num, 1, 1, 1))
  return images[img, chan, y, x]


def _finalize(desc: list) -> np.ndarray:
  """Normalises each channel over all patches and flattens them."""
  desc = np.concatenate(desc, axis=0)
  mean = desc.mean(axis=(0, 2, 3), keepdims=True)
  std = desc.std(axis=(0, 2, 3), keepdims=True)
  # A constant channel (e.g. a flat test image) would divide by zero.
  desc = (desc - mean) / np.where(std > 0, std, 1.0)
  return desc.reshape(desc.shape[0], -1)


def _sliced_wasserstein(a, b, dir_repeats, dirs_per_repeat, rng) -> float:
  results = []
  for _ in range(dir_repeats):
    dirs = rng.randn(a.shape[1], dirs_per_repeat)
    dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
    dirs = dirs.astype(np.float32)
    proj_a = np.sort(a @ dirs, axis=0)
    proj_b = np.sort(b @ dirs, axis=0)
    results.append(np.mean(np.abs(proj_a - proj_b)))
  return float(np.mean(results))


def sliced_wasserstein_distance(
    images1, images2, min_resolution: int = 16, patch_size: int = 7,
    patches_per_image: int = 128, dir_repeats: int = 4,
    dirs_per_repeat: int = 128, batch_size: int = 256, seed: int = 0
) -> tuple[list[float], float]:
  """ProGAN SWD between two [N, H, W, C] image sets of equal size.

  Returns (one SWD x1e3 per pyramid level, finest first, for resolutions
  H, H/2, ... down to min_resolution; their average).
  """
  x1 = _checks.check_images(images1, "images1")
  x2 = _checks.check_images(images2, "images2")
  if x1.shape[1:] != x2.shape[1:]:
    raise ValueError(f"Image shapes differ: {x1.shape} vs {x2.shape}.")
  if len(x1) != len(x2) or len(x1) < 1:
    raise ValueError(
        "SWD compares sorted projections, so both sets need the same, "
        f"non-zero number of images; got {len(x1)} and {len(x2)}.")
  h, w = x1.shape[1:3]
  if h != w or h < max(min_resolution, patch_size + 1):
    raise ValueError(
        f"SWD needs square images of at least {min_resolution}px, got "
        f"{h}x{w}.")
  num_levels = 0
  res = h
  while res >= min_resolution:
    num_levels += 1
    res //= 2
  rng = np.random.RandomState(seed)

  def descriptors(images):
    per_level = [[] for _ in range(num_levels)]
    for s in range(0, len(images), batch_size):
      batch = np.transpose(images[s:s + batch_size], (0, 3, 1, 2))
      for level, pyr in enumerate(laplacian_pyramid(batch, num_levels)):
        per_level[level].append(
            _patches(pyr, patch_size, patches_per_image, rng))
    return [_finalize(d) for d in per_level]

  desc1 = descriptors(x1)
  desc2 = descriptors(x2)
  dists = [1e3 * _sliced_wasserstein(a, b, dir_repeats, dirs_per_repeat, rng)
           for a, b in zip(desc1, desc2)]
  return dists, float(np.mean(dists))


@register_metric("swd", directions={"swd": -1})
def score(real: SampleSet, fake: SampleSet) -> dict[str, float]:
  """Sliced Wasserstein distance of the images, averaged over the pyramid levels."""
  n = min(len(real.images), len(fake.images))
  _, average = sliced_wasserstein_distance(real.images[:n], fake.images[:n])
  return {"swd": float(average)}
