"""A folder of random PNG images, as `compare_gan2 sample` writes them."""

import numpy as np
from PIL import Image


def _write_images(folder, num, size=8, grey=False):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(num):
    shape = [size, size] if grey else [size, size, 3]
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
        folder / f"sample_{i:05d}.png")
  return folder
