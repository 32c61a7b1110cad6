"""Example dataset: checkerboards of 2 to 5 cells a side, drawn in memory."""

from __future__ import annotations

import numpy as np

from compare_gan2.data.base import DEFAULT_SEED, ArrayDataset
from compare_gan2.core.registry import DATASETS

RESOLUTION = 16
CELLS = (2, 4, 8)  # The classes: cells per side.


class Checkerboards(ArrayDataset):
  """Checkerboards [16, 16, 1] in [0, 1]; class i has CELLS[i] cells a side,
  a random phase per image."""

  def __init__(self, num_examples: int, seed: int):
    super().__init__("checkerboards", resolution=RESOLUTION, colors=1,
                     num_classes=len(CELLS),
                     split_sizes={"train": num_examples, "test": num_examples // 4},
                     seed=seed)

  def _arrays(self, split: str):
    rng = np.random.RandomState(0 if split == "train" else 1)
    n = self.split_sizes[split]
    labels = rng.randint(0, len(CELLS), n).astype(np.int32)
    # The cell index of each row (and column) [n, R], a random phase [n].
    cell = np.arange(RESOLUTION)[None, :] * np.array(CELLS)[labels][:, None] // RESOLUTION
    phase = rng.randint(0, 2, n)
    images = (cell[:, :, None] + cell[:, None, :] + phase[:, None, None]) % 2
    return images[..., None].astype(np.float32), labels


@DATASETS.register("checkerboards")
def checkerboards(seed: int = DEFAULT_SEED, num_examples: int = 256) -> Checkerboards:
  """Checkerboards of 2, 4 or 8 cells a side at 16x16x1 (3 classes).

  Args:
    seed: int. Data-order seed (`dataset.seed`).
    num_examples: int. Training examples (`checkerboards.num_examples`).
  """
  return Checkerboards(num_examples, seed)
