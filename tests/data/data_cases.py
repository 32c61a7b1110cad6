"""Reading a dataset's batches back as numpy, and its images as comparable rows."""

import numpy as np


def _batches(ds, n=None):
  ds = ds if n is None else ds.take(n)
  return [(x.numpy(), y.numpy()) for x, y in ds]


def _rows(images):
  """Hashable rows: one bytes object per image (to compare example sets)."""
  return sorted(image.tobytes() for image in np.asarray(images))
