"""`digits`: scikit-learn's handwritten digits (UCI optdigits test set), an
offline stand-in for MNIST.

1797 images of 8x8 pixels with 17 grey levels (0..16), 10 classes. Scaled to
[0, 1] and resized to 32x32 (bilinear, half-pixel centres), 1 channel. Split:
the first 1500 images are "train", the last 297 "test" (the file's fixed
order; classes are interleaved, so both splits hold every digit).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, ArrayDataset

NUM_EXAMPLES = 1797
NUM_TEST_EXAMPLES = 297
RESOLUTION = 32


@functools.lru_cache(maxsize=1)
def load_digits_32() -> tuple[np.ndarray, np.ndarray]:
  """(images float32 [1797, 32, 32, 1] in [0, 1], labels int32 [1797])."""
  from sklearn import datasets  # Lazy: only this dataset needs scikit-learn.
  digits = datasets.load_digits()
  images = digits.images.astype(np.float32)[..., None] / 16.0
  with tf.device("/cpu:0"):
    images = tf.image.resize(images, [RESOLUTION, RESOLUTION],
                             method="bilinear").numpy()
  # Bilinear weights are convex, but float rounding can step just outside.
  images = np.clip(images, 0.0, 1.0)
  images.setflags(write=False)
  labels = digits.target.astype(np.int32)
  labels.setflags(write=False)
  return images, labels


class DigitsDataset(ArrayDataset):
  """scikit-learn digits at 32x32x1; see the module docstring."""

  def __init__(self, seed: int):
    super().__init__("digits", resolution=RESOLUTION, colors=1,
                     num_classes=10, seed=seed,
                     split_sizes={"train": NUM_EXAMPLES - NUM_TEST_EXAMPLES,
                                  "test": NUM_TEST_EXAMPLES})

  def _arrays(self, split: str):
    images, labels = load_digits_32()
    part = (slice(None, -NUM_TEST_EXAMPLES) if split == "train"
            else slice(-NUM_TEST_EXAMPLES, None))
    return images[part], labels[part]


@DATASETS.register("digits")
def digits(seed: int = DEFAULT_SEED) -> DigitsDataset:
  """scikit-learn's 8x8 digits resized to 32x32x1, 1500 train / 297 test."""
  return DigitsDataset(seed=seed)
