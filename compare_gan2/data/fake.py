"""Fake data (`get_dataset(name, fake=True)`, the original's
--data_fake_dataset): the name, shapes, classes and splits of a dataset, with
random images, for smoke tests of the runner without data on disk.

Example i of a split is uniform noise in [0, 1) with a uniform label, both
drawn statelessly from (split, i); `dataset.seed` orders the examples as for
real data. Splits are capped at `FAKE_MAX_EXAMPLES` examples.
"""

from __future__ import annotations

import tensorflow as tf

from compare_gan2.data.base import ImageDataset

FAKE_MAX_EXAMPLES = 10000


class FakeDataset(ImageDataset):
  """Random data shaped like `like` (which need not have its data loaded)."""

  in_memory = True  # Examples are computed from their index.

  def __init__(self, like: ImageDataset,
               max_examples: int = FAKE_MAX_EXAMPLES):
    super().__init__(like.name, resolution=like.resolution, colors=like.colors,
                     num_classes=like.num_classes, seed=like.seed,
                     split_sizes={split: min(size, max_examples)
                                  for split, size in like.split_sizes.items()})
    self.train_split = like.train_split
    self.eval_split = like.eval_split
    self.fake_of = like

  @property
  def fingerprint(self) -> str:
    return f"fake-{super().fingerprint}"

  def _decoder(self, split: str):
    split_id = tf.constant(self.splits.index(split), tf.int64)
    shape = self.image_shape
    num_labels = max(self.num_classes, 1)

    def decode(index, seed):
      del seed  # The example depends on its index, not on its position.
      key = tf.stack([split_id, index])
      image = tf.random.stateless_uniform(shape, key)
      label_key = tf.random.experimental.stateless_fold_in(key, 1)
      label = tf.random.stateless_uniform([], label_key, maxval=num_labels,
                                          dtype=tf.int64)
      return image, label

    return decode
