"""Label sources: which label each training example carries (gin `labels.*`).

A part of the data layer (`get_dataset` sets one on every dataset); label
*inference* (making a label file) is the tool `compare_gan2.tools.labels`.

    labels.source = "partial"   # "true" | "partial" | "file" | "single" | "random"
    labels.fraction = 0.1       # partial: fraction of training examples kept
    labels.seed = 0             # partial, random: which examples / labels
    labels.path = "/tmp/labels.npz"  # file: written by `write_label_file`

An unlabelled example carries label -1: `tf.one_hot(-1, K)` is the all-zero
row that S3GAN reads as "label not available". A source changes the labels
of the training split only; evaluation splits keep the true labels.

Labels are keyed by example identity, the example's index in the fixed-order
source of the training split (before any shuffle), so the same examples keep
the same labels whatever `dataset.seed`, batch size or replica count.
`ImageDataset._pipeline` calls `LabelSource.relabel_fn` and applies it to
(index, label) pairs of the training split.

Label file (`.npz`, `write_label_file` / `read_label_file`):
  labels       int32 [N]  label of example i of the training split's fixed
                          order; -1 = no label.
  dataset      str        dataset name (`ImageDataset.name`), checked.
  num_examples int        N, checked against the training split (or subset).
  num_classes  int        labels are in [-1, num_classes).
  split        str        "train".
  method       str        free text: how the labels were made.
  confidence   float32 [N]     optional, e.g. max softmax probability.
  probs        float32 [N, K]  optional class probabilities (not fed to the
                               GAN yet: soft labels are not supported).
"""

from __future__ import annotations

import inspect
import os
import zipfile
from typing import Any, Callable

import gin
import numpy as np
import tensorflow as tf

from compare_gan2.core.checks import is_int, is_number
from compare_gan2.core.registry import LABEL_SOURCES


# Label of an example without one (one_hot(-1) is the all-zero row).
UNLABELLED = -1
LABEL_FILE_FORMAT_VERSION = 1

# Sub-seeds: distinct so that the partial subset and random labels drawn with
# the same `labels.seed` are independent.
_PARTIAL_SEED, _RANDOM_SEED = 1, 2

Relabel = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


# === Pure functions (tests, label-inference reports) ===

def _check_fraction(fraction: Any) -> float:
  if not is_number(fraction) or not 0.0 <= fraction <= 1.0:
    raise ValueError("`labels.fraction` must be a number in [0, 1]. "
                     f"Received: fraction={fraction!r}")
  return float(fraction)


def _check_seed(seed: Any) -> int:
  if not is_int(seed, 0):
    raise ValueError("`labels.seed` must be a non-negative integer. "
                     f"Received: seed={seed!r}")
  return seed


def partial_indices(labels: Any, fraction: float, seed: int = 0) -> np.ndarray:
  """Indices of the examples that keep their label, sorted (int64).

  Exactly round(fraction * N) examples, as balanced over the classes as the
  class sizes allow: every class gets min(size, L) or L + 1 examples for one
  level L (the +1 classes drawn with `seed`), each class's examples drawn
  uniformly with `seed`.

  Args:
    labels: int [N]. True labels of the training split in its fixed order.
    fraction: float in [0, 1].
    seed: int >= 0.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f"labels must have shape [N]. Received: {labels.shape}")
  fraction, seed = _check_fraction(fraction), _check_seed(seed)
  total = int(round(fraction * len(labels)))
  rng = np.random.default_rng([seed, _PARTIAL_SEED])
  _, sizes = np.unique(labels, return_counts=True)
  # Largest level L with sum(min(size, L)) <= total; the remainder goes one
  # each to classes with more than L examples.
  level = 0
  while level < sizes.max(initial=0) and np.minimum(sizes, level + 1).sum() <= total:
    level += 1
  counts = np.minimum(sizes, level)
  extra = total - counts.sum()
  if extra:
    open_classes = np.flatnonzero(sizes > level)
    counts[rng.choice(open_classes, size=extra, replace=False)] += 1
  # One sort instead of a pass per class (ImageNet: 1000 classes, 1.28M).
  members = np.split(np.argsort(labels, kind="stable"), np.cumsum(sizes)[:-1])
  kept = [rng.choice(m, size=n, replace=False) for m, n in zip(members, counts)]
  return np.sort(np.concatenate(kept + [np.zeros([0], np.int64)])).astype(np.int64)


def random_labels(num_examples: int, num_classes: int, seed: int = 0) -> np.ndarray:
  """A fixed uniform label per example index: int32 [num_examples]."""
  rng = np.random.default_rng([_check_seed(seed), _RANDOM_SEED])
  return rng.integers(0, num_classes, size=num_examples).astype(np.int32)


# === Label files ===

def write_label_file(path: str, labels: Any, dataset_name: str, *,
                     num_classes: int | None = None,
                     confidence: Any = None, probs: Any = None,
                     split: str = "train", method: str = "") -> str:
  """Writes a label file (format in the module docstring); returns `path`.

  Args:
    path: str. Destination (`.npz` is the convention, not enforced). Written
      to a temporary file first, so an existing file survives a failure.
    labels: int [N]. One label per training example in the split's fixed
      order; -1 for "no label".
    dataset_name: str. The dataset the labels belong to.
    num_classes: int. Defaults to max(labels) + 1.
    confidence: float [N], optional.
    probs: float [N, K], optional.
    split: str. The split the labels index.
    method: str. How the labels were made (free text).
  """
  labels = np.asarray(labels)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError("labels must be integers of shape [N]. Received: "
                     f"dtype={labels.dtype}, shape={labels.shape}")
  if num_classes is None:
    num_classes = int(labels.max(initial=-1)) + 1
  if labels.size and (labels.min() < UNLABELLED or labels.max() >= num_classes):
    raise ValueError(f"labels must be in [-1, {num_classes}). Received: "
                     f"min={labels.min()}, max={labels.max()}")
  arrays = {"labels": labels.astype(np.int32),
            "dataset": np.array(str(dataset_name)),
            "num_examples": np.array(len(labels), np.int64),
            "num_classes": np.array(int(num_classes), np.int64),
            "split": np.array(str(split)), "method": np.array(str(method)),
            "version": np.array(LABEL_FILE_FORMAT_VERSION, np.int64)}
  for key, value, rank in (("confidence", confidence, 1), ("probs", probs, 2)):
    if value is not None:
      value = np.asarray(value, np.float32)
      if value.ndim != rank or len(value) != len(labels):
        raise ValueError(f"{key} must have rank {rank} and {len(labels)} rows. "
                         f"Received: shape={value.shape}")
      arrays[key] = value
  path = os.path.expanduser(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "wb") as f:
    np.savez_compressed(f, **arrays)
  os.replace(tmp, path)
  return path


def read_label_file(path: str) -> dict[str, Any]:
  """The arrays of a label file; strings and scalars as Python values."""
  path = os.path.expanduser(path)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"Label file '{path}' does not exist (`labels.path`). Write it with "
        "compare_gan2.data.labels.write_label_file.")
  expected = ("expected a .npz archive of arrays labels [N], dataset, num_examples "
              "(and num_classes, ...), as compare_gan2.data.labels.write_label_file writes")
  try:
    npz = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    # numpy's own message for a text file is advice about allow_pickle.
    raise ValueError(f"'{path}' is not a label file (`labels.path`): {expected}.") from e
  if not isinstance(npz, np.lib.npyio.NpzFile):  # a single .npy array
    raise ValueError(f"'{path}' is not a label file (`labels.path`): it holds one "
                     f"array {npz.dtype}{list(npz.shape)}; {expected}.")
  with npz:
    missing = {"labels", "dataset", "num_examples"} - set(npz.files)
    if missing:
      raise ValueError(f"Label file '{path}' lacks {sorted(missing)}; it has "
                       f"{sorted(npz.files)}; {expected}.")
    try:
      out = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
      raise ValueError(f"'{path}' is not a label file (`labels.path`): it holds "
                       f"Python objects, or is damaged; {expected}.") from e
  for key in list(out):
    if out[key].ndim == 0:
      out[key] = out[key].item()
  return out


# === Sources ===

class LabelSource:
  """The dataset's labels unchanged (base class of every source)."""

  name = "true"

  def check(self, dataset: Any) -> None:
    """Raises early if the source cannot label `dataset`."""
    del dataset

  def labelled_fraction(self, dataset: Any) -> float:
    """Fraction of the training examples whose label is not -1."""
    del dataset
    return 1.0

  def num_classes(self, dataset: Any) -> int:
    """Number of classes the GAN sees (the dataset's, unless it has none)."""
    return dataset.num_classes

  def relabel_fn(self, dataset: Any) -> Relabel | None:
    """(example index int64, true label int32) -> label int32; None: keep."""
    del dataset
    return None

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


def _host_constant(value: np.ndarray) -> tf.Tensor:
  # A dataset function cannot capture a tensor on an accelerator, and the
  # runner may build the pipeline inside a strategy scope.
  with tf.device("/cpu:0"):
    return tf.constant(value)


def _train_size(dataset: Any) -> int:
  return int(dataset.num_train_examples)


def _needs_classes(dataset: Any, source: str) -> None:
  if dataset.num_classes < 1:
    raise ValueError(f"Label source '{source}' needs a dataset with classes; "
                     f"'{dataset.name}' has num_classes=0.")


def train_labels(dataset: Any, num_examples: int | None = None) -> np.ndarray:
  """True labels (int32) of the first N training examples, fixed order.

  In-memory arrays are read directly; other datasets decode the labels of
  their source once (a full pass over the training subset).
  """
  split = dataset.train_split
  n = _train_size(dataset) if num_examples is None else num_examples
  if hasattr(dataset, "arrays"):
    return np.asarray(dataset.arrays(split)[1][:n], np.int32)
  decoder = dataset._decoder(split)  # pylint: disable=protected-access
  source = (tf.data.Dataset.range(n) if dataset.in_memory
            else dataset._source(split).take(n))  # pylint: disable=protected-access
  seed = tf.zeros([2], tf.int64)  # Labels do not depend on the decode seed.
  ds = source.map(lambda e: tf.cast(decoder(e, seed)[1], tf.int32),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  batches = [b.numpy() for b in ds.batch(8192)]
  return np.concatenate(batches + [np.zeros([0], np.int32)])


@LABEL_SOURCES.register("true", gin_configurable=False)
class TrueLabels(LabelSource):
  """The dataset's own labels (the default)."""


@LABEL_SOURCES.register("partial", gin_configurable=False,
                         test={"options": {"fraction": 0.5}})
class PartialLabels(LabelSource):
  """A seeded, class-balanced `fraction` of training examples keeps its
  label (`partial_indices`); the others get -1."""

  name = "partial"

  def __init__(self, fraction: float | None = None, seed: int = 0):
    if fraction is None:
      raise ValueError("Label source 'partial' needs `labels.fraction`, the "
                       "fraction of training examples that keep their label.")
    self.fraction = _check_fraction(fraction)
    self.seed = _check_seed(seed)
    self._cache: dict[tuple[str, int], np.ndarray] = {}

  def __repr__(self) -> str:
    return f"PartialLabels(fraction={self.fraction}, seed={self.seed})"

  def check(self, dataset: Any) -> None:
    _needs_classes(dataset, self.name)

  def labelled_fraction(self, dataset: Any) -> float:
    n = _train_size(dataset)
    return int(round(self.fraction * n)) / n

  def kept_indices(self, dataset: Any) -> np.ndarray:
    """`partial_indices` of the training subset of `dataset` (cached)."""
    key = (dataset.fingerprint, _train_size(dataset))
    if key not in self._cache:
      self._cache[key] = partial_indices(train_labels(dataset), self.fraction,
                                         self.seed)
    return self._cache[key]

  def relabel_fn(self, dataset: Any) -> Relabel:
    keep = np.zeros([_train_size(dataset)], bool)
    keep[self.kept_indices(dataset)] = True
    keep = _host_constant(keep)

    def relabel(index, label):
      return tf.where(tf.gather(keep, index), label, UNLABELLED)

    return relabel


def _harness_label_file(directory: str, dataset: Any) -> dict[str, Any]:
  """For the tests of every registered part: a label file of `dataset` in
  `directory` (labels cycling through its classes), as `file`'s options."""
  path = os.path.join(directory, "labels.npz")
  labels = np.arange(dataset.num_train_examples) % dataset.num_classes
  write_label_file(path, labels, dataset.name)
  return {"path": path}


@LABEL_SOURCES.register("file", gin_configurable=False,
                         test={"options": _harness_label_file})
class FileLabels(LabelSource):
  """Labels read from a label file (`write_label_file`)."""

  name = "file"

  def __init__(self, path: str | None = None):
    if not path:
      raise ValueError("Label source 'file' needs `labels.path`, a label file "
                       "written by compare_gan2.data.labels.write_label_file.")
    self.path = path
    self._contents: dict[str, Any] | None = None

  def __repr__(self) -> str:
    return f"FileLabels(path={self.path!r})"

  @property
  def contents(self) -> dict[str, Any]:
    if self._contents is None:
      self._contents = read_label_file(self.path)
    return self._contents

  def check(self, dataset: Any) -> None:
    contents = self.contents
    if contents["dataset"] != dataset.name:
      raise ValueError(
          f"Label file '{self.path}' is for dataset '{contents['dataset']}', "
          f"not for dataset '{dataset.name}'.")
    full = dataset.num_examples(dataset.train_split)
    sizes = sorted({full, _train_size(dataset)})
    labels = contents["labels"]
    if contents["num_examples"] not in sizes or len(labels) not in sizes:
      raise ValueError(
          f"Label file '{self.path}' has {len(labels)} labels "
          f"(num_examples={contents['num_examples']}), but the training split "
          f"of dataset '{dataset.name}' has {full} examples"
          + (f" ({_train_size(dataset)} in the training subset)"
             if full != _train_size(dataset) else "") + ".")
    num_classes = int(contents.get("num_classes", labels.max(initial=-1) + 1))
    if dataset.num_classes > 0 and num_classes > dataset.num_classes:
      raise ValueError(
          f"Label file '{self.path}' has num_classes={num_classes}, more than "
          f"the {dataset.num_classes} classes of dataset '{dataset.name}'.")
    if labels.size and (labels.min() < UNLABELLED
                        or labels.max() >= max(num_classes, 1)):
      raise ValueError(f"Label file '{self.path}' has labels outside "
                       f"[-1, {num_classes}).")

  def num_classes(self, dataset: Any) -> int:
    # Inferred labels (k-means clusters) may label a dataset without classes.
    labels = self.contents["labels"]
    return dataset.num_classes or int(
        self.contents.get("num_classes", labels.max(initial=-1) + 1))

  def labelled_fraction(self, dataset: Any) -> float:
    labels = self.contents["labels"][:_train_size(dataset)]
    return float(np.mean(labels != UNLABELLED)) if labels.size else 0.0

  def relabel_fn(self, dataset: Any) -> Relabel:
    table = _host_constant(
        self.contents["labels"][:_train_size(dataset)].astype(np.int32))

    def relabel(index, label):
      del label
      return tf.gather(table, index)

    return relabel


@LABEL_SOURCES.register("single", gin_configurable=False)
class SingleLabel(LabelSource):
  """Every training example has label 0 (the paper's "single label")."""

  name = "single"

  def relabel_fn(self, dataset: Any) -> Relabel:
    del dataset
    return lambda index, label: tf.zeros_like(label)


@LABEL_SOURCES.register("random", gin_configurable=False, test={"options": {"seed": 1}})
class RandomLabels(LabelSource):
  """A fixed uniform random label per example (`random_labels`)."""

  name = "random"

  def __init__(self, seed: int = 0):
    self.seed = _check_seed(seed)

  def __repr__(self) -> str:
    return f"RandomLabels(seed={self.seed})"

  def check(self, dataset: Any) -> None:
    _needs_classes(dataset, self.name)

  def relabel_fn(self, dataset: Any) -> Relabel:
    table = _host_constant(random_labels(_train_size(dataset),
                                         dataset.num_classes, self.seed))

    def relabel(index, label):
      del label
      return tf.gather(table, index)

    return relabel


@gin.configurable("labels")
def get_label_source(source: str = "true", *, fraction: float | None = None,
                     seed: int | None = None,
                     path: str | None = None) -> LabelSource:
  """Builds the label source `source` (gin: `labels.*`).

  Args:
    source: str. A `LABEL_SOURCES` name: "true", "partial", "file",
      "single", "random".
    fraction: float in [0, 1]. partial: fraction of labelled examples.
    seed: int. partial, random: the subset / labels (default 0); independent
      of `dataset.seed`.
    path: str. file: the label file.

  Raises:
    UnknownNameError: unknown `source` (the message lists close matches).
    ValueError: an option the source does not take, or a bad value.
  """
  cls = LABEL_SOURCES.get(source)
  accepted = inspect.signature(cls.__init__).parameters
  options = {"fraction": fraction, "seed": seed, "path": path}
  kwargs = {}
  for key, value in options.items():
    if value is None:
      continue
    if key not in accepted:
      users = [n for n in LABEL_SOURCES.names()
               if key in inspect.signature(LABEL_SOURCES.get(n).__init__).parameters]
      raise ValueError(f"`labels.{key}` applies to label source(s) "
                       f"{', '.join(users)}, not to '{source}'.")
    kwargs[key] = value
  return cls(**kwargs)
