"""The dataset contract: `ImageDataset`, the `DATASETS` registry and the
tf.data pipeline every dataset shares.

A dataset yields `(images, labels)`: images float32 [B, H, W, C] in [0, 1]
(the original's convention; 2-D toy points are the exception, see
`mixtures.py`), labels int32 [B] (zeros for unlabelled data; -1 for an
example whose label a label source withheld, see compare_gan2/data/labels.py). Subclasses say
only where raw examples come from (`_source`), how one is decoded
(`_decode`) and how a decoded image becomes a model input (`_transform`); the
order of operations, seeding and batching live here, once.

Pipeline of `input_fn` (training):
  source (fixed order) -> [enumerate: example index, for a label source]
  -> first-N subset (train split, `dataset.train_*`)
  -> seeded shuffle -> repeat -> enumerate -> [skip]
  -> decode (+ label source, train split) -> filter
  -> transform (train-time crops) -> random flip -> batch -> prefetch.
Every random operation after the shuffle is stateless and keyed by
(seed, position in the stream), so a given seed gives the same batches on
every run however many threads the parallel maps use.

In-memory datasets (`in_memory = True`) replace source, subset, shuffle and
repeat by a stream of positions p = 0, 1, ... mapped to the example
`index_shuffle(p mod N, [seed, p div N], N - 1)`: a stateless permutation per
epoch, independent of TF's global seed, so resuming at batch k
(`skip_batches`) just starts the position stream at k * batch_size without
producing (let alone decoding) the skipped examples. Where nothing acts per
example (arrays gathered by index, no label source, filter, train-time
transform or flip: digits, shapes, the 2-D mixtures), the positions come a
batch at a time and a batch is gathered at once (`_batch_stream`): the same
batches, without three map calls per example.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import tensorflow as tf

from compare_gan2.core.checks import is_int, is_number


# The original's default for `dataset.seed`.
DEFAULT_SEED = 547
DEFAULT_SHUFFLE_BUFFER_SIZE = 10000

# Sub-seeds folded into the per-example seed; distinct so that the label,
# crop and flip of one example are independent draws.
_DECODE_SEED, _TRANSFORM_SEED, _FLIP_SEED = 1, 2, 3


class DatasetNotFoundError(FileNotFoundError):
  """The data of a dataset is not on disk; the message says how to get it."""


def check_seed(seed: Any, what: str = "dataset.seed") -> int:
  if not is_int(seed, 0):
    raise ValueError(f"`{what}` must be a non-negative integer. "
                     f"Received: seed={seed!r}")
  return seed


class ImageDataset:
  """A named image dataset with deterministic tf.data input functions.

  Attributes:
    name: str. Registry name (canonical spelling).
    resolution: int. Height and width of the images.
    colors: int. Number of channels.
    num_classes: int. Number of label classes; 0 if unlabelled (labels are 0).
    seed: int. Default seed of `input_fn` (`dataset.seed`).
    train_split / eval_split: str. Split names to train on and to evaluate
      against; every dataset has "train", most also "test".
    random_flip: bool. Random horizontal flips of training images.
    shuffle_buffer_size: int. Shuffle buffer of streamed (non in-memory) data.
    label_source: str. Label source of the training split (`labels.source`).
    label_fraction: float. Fraction of training examples with a label.
    value_range: (lo, hi) of the values, or `None` when unbounded (the 2-D
      mixtures); the GAN's penalties keep perturbed reals inside it.
  """

  train_split = "train"
  value_range: tuple[float, float] | None = (0.0, 1.0)
  eval_split = "test"
  # In-memory data stream example indices (`_position_stream`): a full
  # stateless shuffle and a cheap resume.
  in_memory = False
  # Its `_decoder` takes a vector of example indices as well (a gather) and
  # ignores the seed: the pipeline decodes whole batches (`_batch_stream`).
  decodes_batches = False

  def __init__(self, name: str, *, resolution: int, colors: int,
               num_classes: int, split_sizes: Mapping[str, int],
               seed: int = DEFAULT_SEED):
    self.name = name
    self.resolution = int(resolution)
    self.colors = int(colors)
    self.num_classes = int(num_classes or 0)
    self.seed = check_seed(seed)
    self.split_sizes = dict(split_sizes)
    if self.eval_split not in self.split_sizes:
      self.eval_split = self.train_split
    self.random_flip = False
    self.shuffle_buffer_size = DEFAULT_SHUFFLE_BUFFER_SIZE
    self._train_fraction: float | None = None
    self._train_examples: int | None = None
    self._label_source: Any = None  # A compare_gan2.data.labels.LabelSource.

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(name={self.name!r}, "
            f"resolution={self.resolution}, colors={self.colors}, "
            f"num_classes={self.num_classes}, "
            f"num_train_examples={self.num_train_examples})")

  # === Shapes and sizes ===

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return (self.resolution, self.resolution, self.colors)

  @property
  def splits(self) -> tuple[str, ...]:
    return tuple(self.split_sizes)

  @property
  def fingerprint(self) -> str:
    """Identifies the data content (for caches of reference statistics)."""
    return f"{self.name}-{self.resolution}x{self.resolution}x{self.colors}"

  def num_examples(self, split: str) -> int:
    """Size of the full `split` (before the training subset)."""
    return self.split_sizes[self._check_split(split)]

  @property
  def num_train_examples(self) -> int:
    """Examples that training sees: the training subset if one is set."""
    full = self.split_sizes[self.train_split]
    if self._train_examples is not None:
      return self._train_examples
    if self._train_fraction is not None:
      return max(1, int(round(self._train_fraction * full)))
    return full

  @property
  def train_subset(self) -> dict[str, Any]:
    """The subset options in effect (`train_fraction`, `train_examples`)."""
    return {"train_fraction": self._train_fraction,
            "train_examples": self._train_examples}

  def set_train_subset(self, *, train_fraction: float | None = None,
                       train_examples: int | None = None) -> None:
    """Trains on the first N training examples (in the source's fixed order).

    Args:
      train_fraction: float in (0, 1]. N = round(fraction * train size), >= 1.
      train_examples: int in [1, train size]. N itself.
    """
    if train_fraction is not None and train_examples is not None:
      raise ValueError(
          "Set at most one of `dataset.train_fraction` and "
          f"`dataset.train_examples`. Received: train_fraction="
          f"{train_fraction!r}, train_examples={train_examples!r}")
    full = self.split_sizes[self.train_split]
    if train_fraction is not None:
      if not is_number(train_fraction) or not 0.0 < train_fraction <= 1.0:
        raise ValueError("`dataset.train_fraction` must be a number in (0, 1]. "
                         f"Received: train_fraction={train_fraction!r}")
      train_fraction = float(train_fraction)
    if train_examples is not None:
      if not is_int(train_examples, 1) or train_examples > full:
        raise ValueError(
            f"`dataset.train_examples` must be an integer in [1, {full}] (the "
            f"size of the '{self.name}' training split). "
            f"Received: train_examples={train_examples!r}")
    self._train_fraction = train_fraction
    self._train_examples = train_examples

  # === Label source (`labels.*`) ===

  @property
  def label_source(self) -> str:
    """Name of the label source of the training split ("true" by default)."""
    return getattr(self._label_source, "name", "true")

  @property
  def label_fraction(self) -> float:
    """Fraction of training examples whose label is not -1."""
    if self._label_source is None:
      return 1.0
    return self._label_source.labelled_fraction(self)

  def set_label_source(self, source: Any) -> None:
    """Relabels the training split with `source` (a LabelSource; None: true).

    Checks `source` against this dataset now (e.g. a label file's dataset
    and size), so a bad configuration fails before training starts.
    """
    if source is not None:
      source.check(self)
      self.num_classes = source.num_classes(self)
    self._label_source = source

  # === Input functions ===

  def input_fn(self, split: str, batch_size: int, *, seed: int | None = None,
               shuffle: bool = True, repeat: bool = True,
               skip_batches: int = 0) -> tf.data.Dataset:
    """Batches for training: `(images [B, H, W, C] float32, labels [B] int32)`.

    On the training split, the training subset, train-time transforms (e.g.
    ImageNet's random crop) and `random_flip` apply; other splits get the
    evaluation transforms. Batches drop the remainder, so shapes are static.

    Args:
      split: str. "train" or "test" (see `splits`).
      batch_size: int. Global batch size.
      seed: int. Seeds the shuffle and every per-example random op. Defaults
        to `self.seed` (`dataset.seed`).
      shuffle: bool. Shuffle the examples (reshuffled every epoch).
      repeat: bool. Repeat forever.
      skip_batches: int. Start at batch `skip_batches` of the stream (to
        resume training): the result equals the unskipped stream from that
        batch on. Cheap for in-memory data; streamed data read (but do not
        decode) the skipped examples.
    """
    split = self._check_split(split)
    training = split == self.train_split
    return self._pipeline(split, batch_size, seed=seed, shuffle=shuffle,
                          repeat=repeat, training=training,
                          skip_batches=skip_batches)

  def eval_input_fn(self, split: str | None = None, batch_size: int = 64, *,
                    drop_remainder: bool = True) -> tf.data.Dataset:
    """Batches for evaluation: one pass, fixed order, evaluation transforms.

    Args:
      split: str. Defaults to `eval_split`. The full split: the training
        subset does not apply.
      batch_size: int. Global batch size.
      drop_remainder: bool. Drop the last partial batch (static shapes).
    """
    split = self._check_split(self.eval_split if split is None else split)
    if drop_remainder and self.split_sizes[split] < batch_size:
      raise ValueError(
          f"Split '{split}' of dataset '{self.name}' has "
          f"{self.split_sizes[split]} examples, fewer than one batch. "
          f"Received: batch_size={batch_size}")
    return self._pipeline(split, batch_size, seed=None, shuffle=False,
                          repeat=False, training=False,
                          drop_remainder=drop_remainder)

  def unaugmented_input_fn(self, split: str, batch_size: int, *,
                           drop_remainder: bool = False) -> tf.data.Dataset:
    """One pass over `split` as training reads it, in its fixed order and
    without the random train-time transforms: on the training split, the
    training subset (`dataset.train_fraction`) and the label source apply,
    but `random_flip` and random crops do not (images get the evaluation
    transforms). What D's accuracy on its training reals is measured on.

    Args:
      split: str. See `splits`.
      batch_size: int. Global batch size.
      drop_remainder: bool. Drop the last partial batch.
    """
    split = self._check_split(split)
    return self._pipeline(split, batch_size, seed=None, shuffle=False,
                          repeat=False, training=split == self.train_split,
                          augment=False, drop_remainder=drop_remainder)

  def _pipeline(self, split: str, batch_size: int, *, seed: int | None,
                shuffle: bool, repeat: bool, training: bool,
                drop_remainder: bool = True, skip_batches: int = 0,
                augment: bool | None = None) -> tf.data.Dataset:
    # training: the training subset and label source; augment (default
    # training): the train-time transforms and random_flip.
    augment = training if augment is None else augment
    _check_batching(batch_size, skip_batches)
    seed = self.seed if seed is None else check_seed(seed, "seed")
    autotune = tf.data.AUTOTUNE
    decoder = self._decoder(split)
    size = self.split_sizes[split]
    if training and self.num_train_examples < size:
      size = self.num_train_examples
    # A filter changes which examples land in which batch, so only an
    # unfiltered stream can skip examples before decoding them.
    filtered = type(self)._filter_decoded is not ImageDataset._filter_decoded
    skip_examples = 0 if filtered else skip_batches * batch_size
    # Labels of a label source are keyed by example identity: the index in
    # the fixed-order source, before the shuffle.
    relabel = (self._label_source.relabel_fn(self)
               if training and self._label_source is not None else None)
    if (relabel is None and not filtered and not (augment and self.random_flip)
        and self._decodes_batches()):
      return _batch_stream(self, split, size, batch_size, seed, shuffle=shuffle,
                           repeat=repeat, start=skip_examples,
                           drop_remainder=drop_remainder)
    if self.in_memory:
      ds = _position_stream(size, seed, shuffle=shuffle, repeat=repeat,
                            start=skip_examples)
    else:
      ds = _source_stream(self, split, size, seed, shuffle=shuffle, repeat=repeat,
                          enumerate_source=relabel is not None, start=skip_examples)
    base_seed = tf.constant(seed, tf.int64)

    def decode(position, element):
      example_seed = tf.stack([base_seed, position])
      if relabel is not None:  # In-memory elements are example indices.
        index, element = (element, element) if self.in_memory else element
      image, label = decoder(element, _fold(example_seed, _DECODE_SEED))
      label = tf.cast(label, tf.int32)
      if relabel is not None:
        label = relabel(index, label)
      return example_seed, image, label

    def transform(example_seed, image, label):
      image = self._transform(image, _fold(example_seed, _TRANSFORM_SEED),
                              training=augment)
      if augment and self.random_flip:
        image = tf.image.stateless_random_flip_left_right(
            image, _fold(example_seed, _FLIP_SEED))
      image = tf.ensure_shape(tf.cast(image, tf.float32), self.image_shape)
      return image, tf.ensure_shape(label, [])

    ds = ds.map(decode, num_parallel_calls=autotune, deterministic=True)
    ds = self._filter_decoded(ds)
    ds = ds.map(transform, num_parallel_calls=autotune, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if filtered and skip_batches:
      ds = ds.skip(skip_batches)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(autotune)

  def _decodes_batches(self) -> bool:
    """Whether whole batches can be decoded at once: in-memory data whose
    `_decoder` takes a vector of indices (`decodes_batches`) and no
    per-example transform."""
    return (self.in_memory and self.decodes_batches
            and type(self)._transform is ImageDataset._transform)

  def _check_split(self, split: str) -> str:
    if split not in self.split_sizes:
      raise ValueError(f"Dataset '{self.name}' has splits {list(self.splits)}. "
                       f"Received: split={split!r}")
    return split

  # === Hooks for subclasses ===

  def _source(self, split: str) -> tf.data.Dataset:
    """Raw examples of `split` in a fixed order (the order of the subset)."""
    raise NotImplementedError

  def _decoder(self, split: str) -> Any:
    """The decode function for `split`; by default `_decode`."""
    del split
    return self._decode

  def _decode(self, element: Any, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One raw example -> (image [h, w, c], label scalar)."""
    raise NotImplementedError

  def _filter_decoded(self, ds: tf.data.Dataset) -> tf.data.Dataset:
    """Drops decoded examples; elements are (seed, image, label)."""
    return ds

  def _transform(self, image: tf.Tensor, seed: tf.Tensor, *,
                 training: bool) -> tf.Tensor:
    """Decoded image -> [R, R, C] float32 in [0, 1]. Default: uint8 / 255."""
    del seed, training
    return to_unit_float(image)


def _fold(seed: tf.Tensor, data: int) -> tf.Tensor:
  return tf.random.experimental.stateless_fold_in(seed, data)


def _source_stream(dataset: ImageDataset, split: str, size: int, seed: int, *,
                   shuffle: bool, repeat: bool, enumerate_source: bool,
                   start: int) -> tf.data.Dataset:
  """(position, element) pairs of a streamed split (a tf.data source and a
  shuffle buffer); with `enumerate_source` an element is (index in the
  source, element), for label sources keyed by example identity."""
  ds = dataset._source(split)  # pylint: disable=protected-access
  if enumerate_source:
    ds = ds.enumerate()
  if size < dataset.split_sizes[split]:
    ds = ds.take(size)
  if shuffle:
    buffer = min(size, dataset.shuffle_buffer_size)
    ds = ds.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)
  if repeat:
    ds = ds.repeat()
  ds = ds.enumerate()
  return ds.skip(start) if start else ds


def _batch_stream(dataset: ImageDataset, split: str, size: int, batch_size: int, seed: int, *,
                  shuffle: bool, repeat: bool, start: int,
                  drop_remainder: bool) -> tf.data.Dataset:
  """The batches of the per-example pipeline (same examples, same order),
  decoded a batch at a time: one map call per batch, not three per
  example (for 2-D points, the map calls were the whole cost)."""
  decoder = dataset._decoder(split)  # pylint: disable=protected-access
  positions = _batched_positions(size, batch_size, repeat=repeat, start=start,
                                 drop_remainder=drop_remainder)
  size_t, seed_t = tf.constant(size, tf.int64), tf.constant(seed, tf.int64)

  def decode(position):
    image, label = decoder(_example_index(position, size_t, seed_t, shuffle), None)
    image = tf.ensure_shape(to_unit_float(image), [None, *dataset.image_shape])
    return image, tf.cast(label, tf.int32)

  ds = positions.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  options = tf.data.Options()
  options.deterministic = True
  return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _check_batching(batch_size: Any, skip_batches: Any) -> None:
  if not is_int(batch_size, 1):
    raise ValueError("batch_size must be a positive integer. "
                     f"Received: batch_size={batch_size!r}")
  if not is_int(skip_batches, 0):
    raise ValueError("skip_batches must be a non-negative integer. "
                     f"Received: skip_batches={skip_batches!r}")


def _positions(size: int, *, repeat: bool, start: int) -> tf.data.Dataset:
  """Positions start, start + 1, ... (up to `size` unless `repeat`)."""
  if repeat:
    return tf.data.Dataset.counter(start)
  return tf.data.Dataset.range(min(start, size), size)


def _batched_positions(size: int, batch_size: int, *, repeat: bool, start: int,
                       drop_remainder: bool) -> tf.data.Dataset:
  """`_positions` in vectors of `batch_size`, each made at once (batching
  the scalar positions costs more than a 2-D GAN's step)."""
  if repeat:
    batches = tf.data.Dataset.counter()
  else:
    start = min(start, size)
    rounding = math.floor if drop_remainder else math.ceil
    batches = tf.data.Dataset.range(rounding((size - start) / batch_size))
  width = tf.range(batch_size, dtype=tf.int64)

  def positions(k):
    first = start + k * batch_size
    if repeat or drop_remainder:
      return first + width  # A static batch size.
    return tf.range(first, tf.minimum(first + batch_size, size))

  return batches.map(positions)


def _example_index(position: tf.Tensor, size: tf.Tensor, seed: tf.Tensor,
                   shuffle: bool) -> tf.Tensor:
  """The example at `position` (a scalar or a vector [B]) of an in-memory
  split of `size`: position p is in epoch p // size, and its example is a
  stateless permutation of the epoch (or p mod size unshuffled)."""
  offset = position % size
  if not shuffle:
    return offset
  epoch = position // size
  if position.shape.rank == 0:
    return tf.random.experimental.index_shuffle(offset, tf.stack([seed, epoch]), size - 1)

  # index_shuffle takes one seed ([2]) for a vector: one pass per epoch
  # the batch spans (its epochs are consecutive).
  def permute(e, index):
    shuffled = tf.random.experimental.index_shuffle(offset, tf.stack([seed, e]), size - 1)
    return e + 1, tf.where(epoch == e, shuffled, index)

  _, index = tf.while_loop(lambda e, _: e <= epoch[-1], permute,
                           (epoch[0], tf.zeros_like(offset)))
  return index


def _position_stream(size: int, seed: int, *, shuffle: bool, repeat: bool,
                     start: int) -> tf.data.Dataset:
  """(position, example index) pairs of an in-memory split of `size`
  (`_example_index`), so the stream can start anywhere."""
  size_t = tf.constant(size, tf.int64)
  seed_t = tf.constant(seed, tf.int64)
  return _positions(size, repeat=repeat, start=start).map(
      lambda p: (p, _example_index(p, size_t, seed_t, shuffle)),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# === Image helpers shared by datasets ===

def to_unit_float(image: tf.Tensor) -> tf.Tensor:
  """uint8 [0, 255] -> float32 [0, 1]; float images pass unchanged."""
  if image.dtype == tf.uint8:
    return tf.cast(image, tf.float32) / 255.0
  return tf.cast(image, tf.float32)


def center_crop_square(image: tf.Tensor) -> tf.Tensor:
  """The largest centred square of `image` [h, w, c] (offsets rounded down)."""
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  size = tf.minimum(height, width)
  top = (height - size) // 2
  left = (width - size) // 2
  return image[top:top + size, left:left + size, :]


def resize(image: tf.Tensor, resolution: int, *, antialias: bool) -> tf.Tensor:
  """Bilinear resize to [resolution, resolution] (float32 out, range kept)."""
  return tf.image.resize(to_unit_float(image), [resolution, resolution],
                         method="bilinear", antialias=antialias)


class ArrayDataset(ImageDataset):
  """A dataset held in memory as arrays per split (images, labels).

  Images are uint8 in [0, 255] or float32 (already final); every image has
  the final shape [R, R, C]. `_arrays(split)` builds them on first use.
  """

  in_memory = True
  decodes_batches = True

  def __init__(self, name: str, **kwargs: Any):
    super().__init__(name, **kwargs)
    self._cache: dict[str, tuple[Any, Any]] = {}

  def arrays(self, split: str) -> tuple[Any, Any]:
    """(images [N, R, R, C], labels int32 [N]) of the full `split` (numpy)."""
    split = self._check_split(split)
    if split not in self._cache:
      self._cache[split] = self._arrays(split)
    return self._cache[split]

  def _arrays(self, split: str) -> tuple[Any, Any]:
    raise NotImplementedError

  def _source(self, split: str) -> tf.data.Dataset:
    # Unused by the pipeline (in-memory data stream indices, see
    # `_position_stream`); kept for callers that want the raw order.
    return tf.data.Dataset.range(self.split_sizes[split])

  def _decoder(self, split: str) -> Any:
    images, labels = self.arrays(split)
    # Host memory: a dataset function cannot capture a tensor on an
    # accelerator, and the runner may call this inside a strategy scope.
    with tf.device("/cpu:0"):
      images = tf.constant(images)
      labels = tf.constant(labels, tf.int32)

    def decode(index: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
      del seed
      return tf.gather(images, index), tf.gather(labels, index)

    return decode
