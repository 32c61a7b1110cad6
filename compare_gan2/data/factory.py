"""`get_dataset`: the `dataset` gin configurable of the original.

    dataset.name = "cifar10"         # a DATASETS name or alias
    dataset.seed = 547               # orders the data, seeds crops and flips
    dataset.train_fraction = 0.1     # or dataset.train_examples = 1000
    dataset.random_flip = True       # random horizontal flips (train only)
    dataset.tfds_data_dir = "/data/tfds"

The training labels come from `labels.*` (compare_gan2/data/labels.py).
"""

from __future__ import annotations

import inspect
from typing import Any

import gin

from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, ImageDataset
from compare_gan2.data.fake import FakeDataset
from compare_gan2.data import labels as label_sources


def _bound(parameter: str) -> Any:
  """The gin binding of `parameter`, or None."""
  try:
    return gin.query_parameter(parameter)
  except ValueError:
    return None


@gin.configurable("dataset")
def get_dataset(name: str | None = None, seed: int | None = DEFAULT_SEED, *,
                fake: bool = False, tfds_data_dir: str | None = None,
                train_fraction: float | None = None,
                train_examples: int | None = None,
                random_flip: bool = False) -> ImageDataset:
  """Builds the dataset `name` (gin: `dataset.*`).

  Args:
    name: str. A registered name or alias (`DATASETS.names()`); required.
    seed: int. Default seed of `input_fn` (None: 547, the original's default).
    fake: bool. Random data with the metadata of `name`, reading nothing from
      disk (the original's --data_fake_dataset).
    tfds_data_dir: str. TFDS directory (None: `dataset.tfds_data_dir` if
      bound, else $TFDS_DATA_DIR, else ~/tensorflow_datasets).
    train_fraction: float in (0, 1]. Train on the first round(f * N) examples.
    train_examples: int. Train on the first N examples (at most one of the
      two subset options).
    random_flip: bool. Random horizontal flips of training images.

  Raises:
    UnknownNameError: `name` is not registered (the message lists close
      matches).
    DatasetNotFoundError: the data are not on disk (never with `fake`).
    FileNotFoundError, ValueError: a `labels.*` label source that does not
      fit the dataset (e.g. a label file of another dataset).
  """
  if name is None:
    raise ValueError("No dataset given: set `dataset.name` (one of "
                     f"{', '.join(DATASETS.names())}).")
  entry = DATASETS.get(name)
  seed = DEFAULT_SEED if seed is None else seed
  if tfds_data_dir is None:
    # A caller passing None explicitly would otherwise hide the gin binding.
    tfds_data_dir = _bound("dataset.tfds_data_dir")
  # Only pass what a factory takes, and only when set, so that bindings such
  # as `image_folder.path` keep their effect.
  accepted = inspect.signature(entry).parameters
  kwargs: dict[str, Any] = {"seed": seed}
  if fake and "fake" in accepted:
    kwargs["fake"] = True
  if tfds_data_dir is not None and "tfds_data_dir" in accepted:
    kwargs["tfds_data_dir"] = tfds_data_dir
  dataset = DATASETS.make(name, **kwargs)
  if fake:
    dataset = FakeDataset(dataset)
  if not isinstance(random_flip, bool):
    raise ValueError("`dataset.random_flip` must be True or False. "
                     f"Received: random_flip={random_flip!r}")
  dataset.random_flip = random_flip
  dataset.set_train_subset(train_fraction=train_fraction,
                           train_examples=train_examples)
  # After the subset: a label source labels the examples training sees.
  dataset.set_label_source(label_sources.get_label_source())
  return dataset
