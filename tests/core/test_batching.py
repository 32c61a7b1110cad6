"""Padding to whole batches (so that one traced function serves a partial last batch)."""

import numpy as np
import pytest
import tensorflow as tf


def test_pad_to_batches():
  from compare_gan2.core import batching
  x = np.arange(10, dtype=np.float32).reshape(5, 2)
  padded = batching.pad_to_batches(x, 4)
  assert padded.shape == (8, 2)
  np.testing.assert_array_equal(padded[:5], x)
  assert not padded[5:].any()
  assert batching.pad_to_batches(x, 5) is x
  assert batching.pad_to_batches(tf.constant(x), 3).shape == (6, 2)
  with pytest.raises(ValueError, match="batch_size"):
    batching.pad_to_batches(x, 0)
