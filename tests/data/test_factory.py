"""get_dataset: the `dataset` gin configurable and unknown names."""

import gin
import pytest

from compare_gan2 import data
from compare_gan2.core.registry import UnknownNameError


def test_unknown_name_lists_close_matches():
  with pytest.raises(UnknownNameError, match="Did you mean: mog_ring"):
    data.get_dataset("mog_rign")
  with pytest.raises(ValueError, match="dataset.name"):
    data.get_dataset()


def test_gin_bindings():
  gin.parse_config("""
      dataset.name = "digits"
      dataset.seed = 3
      dataset.train_examples = 100
      dataset.random_flip = True
  """)
  ds = data.get_dataset()
  assert ds.name == "digits" and ds.seed == 3 and ds.random_flip
  assert ds.num_train_examples == 100
  gin.clear_config()
  gin.parse_config("""
      dataset.name = "mog_grid"
      dataset.train_fraction = 0.1
      mog_grid.num_train_examples = 2000
  """)
  ds = data.get_dataset()
  assert ds.num_examples("train") == 2000 and ds.num_train_examples == 200
  assert ds.seed == 547 and not ds.random_flip
