"""The embedded digits dataset: its split and content against scikit-learn's."""

import numpy as np

from compare_gan2 import data
from data_cases import _batches


def test_digits_split_and_content():
  from sklearn.datasets import load_digits
  ds = data.get_dataset("digits")
  assert ds.split_sizes == {"train": 1500, "test": 297}
  images, labels = ds.arrays("test")
  np.testing.assert_array_equal(labels, load_digits().target[-297:])
  # Mean intensity survives the bilinear upscaling (8x8 / 16 -> 32x32).
  np.testing.assert_allclose(images.mean(),
                             load_digits().images[-297:].mean() / 16, atol=0.01)
  batches = _batches(ds.eval_input_fn(batch_size=99))
  assert len(batches) == 3
  np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)
