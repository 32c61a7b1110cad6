"""The shared dataset pipeline: seeds, epochs, resume by skipped batches, training
subsets and random flips (on the embedded datasets)."""

import numpy as np
import pytest

from compare_gan2 import data
from compare_gan2.data import digits as digits_lib
from compare_gan2.data import mixtures
from data_cases import _batches, _rows


def test_same_seed_same_batches_different_seed_different_order():
  run = lambda seed: _batches(data.get_dataset("digits", seed=seed).input_fn(
      "train", 64), 3)
  first, again, other = run(5), run(5), run(6)
  for (x1, y1), (x2, y2) in zip(first, again):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
  assert not np.array_equal(first[0][1], other[0][1])
  # input_fn's seed argument overrides dataset.seed.
  ds = data.get_dataset("digits", seed=6)
  np.testing.assert_array_equal(_batches(ds.input_fn("train", 64, seed=5), 1)[0][0],
                                first[0][0])


def test_epochs_are_permutations_and_reshuffled():
  ds = data.get_dataset("digits")
  images = ds.arrays("train")[0]
  batches = _batches(ds.input_fn("train", 100), 30)  # two epochs of 1500
  epoch1 = np.concatenate([b[0] for b in batches[:15]])
  epoch2 = np.concatenate([b[0] for b in batches[15:]])
  assert _rows(epoch1) == _rows(images) == _rows(epoch2)
  assert not np.array_equal(epoch1, epoch2)
  # shuffle=False keeps the stored order.
  ordered = _batches(ds.input_fn("train", 100, shuffle=False), 1)[0][0]
  np.testing.assert_array_equal(ordered, images[:100])


class _StreamedDigits(digits_lib.DigitsDataset):
  """Digits through the streaming branch (tf.data shuffle buffer)."""
  in_memory = False


@pytest.mark.parametrize("make", [
    lambda: data.get_dataset("digits", random_flip=True),
    lambda: data.get_dataset("digits"),  # Decoded a batch at a time.
    lambda: _StreamedDigits(seed=3),
])
@pytest.mark.parametrize("repeat", [True, False])
def test_skip_batches_equals_the_unskipped_stream(make, repeat):
  ds = make()
  # 128 does not divide 1500: the skip crosses an epoch boundary mid-batch.
  full = _batches(ds.input_fn("train", 128, repeat=repeat), 16)
  assert len(full) == (16 if repeat else 11)
  for k in (1, 7, 12):
    skipped = _batches(ds.input_fn("train", 128, repeat=repeat,
                                   skip_batches=k), 16 - k)
    assert len(skipped) == max(len(full) - k, 0)
    for (x1, y1), (x2, y2) in zip(full[k:], skipped):
      np.testing.assert_array_equal(x1, x2)
      np.testing.assert_array_equal(y1, y2)


def test_skip_batches_is_cheap_for_in_memory_data():
  ds = data.get_dataset("mog_ring")  # 50000 examples per epoch
  k = 10 ** 7  # ~100 million examples, far beyond a feasible replay
  a = _batches(ds.input_fn("train", 10, skip_batches=k), 2)
  b = _batches(ds.input_fn("train", 10, skip_batches=k + 1), 1)
  np.testing.assert_array_equal(a[1][0], b[0][0])
  with pytest.raises(ValueError, match="skip_batches"):
    ds.input_fn("train", 10, skip_batches=-1)


@pytest.mark.parametrize("make", [
    lambda: mixtures.mog_ring(num_train_examples=100, num_test_examples=30),
    lambda: data.get_dataset("digits"),
    lambda: data.get_dataset("shapes", train_examples=200),
])
def test_whole_batch_decoding_gives_the_per_example_stream(make, monkeypatch):
  """In-memory data without per-example transforms decode a batch at a time
  (one map call per batch): the same examples in the same order as the
  per-example pipeline, across epochs, skips and partial last batches."""
  ds = make()
  assert ds._decodes_batches()  # pylint: disable=protected-access
  streams = [lambda: ds.input_fn("train", 64),
             lambda: ds.input_fn("train", 250, skip_batches=3),  # spans 3 epochs
             lambda: ds.input_fn("train", 48, shuffle=False, skip_batches=2),
             lambda: ds.eval_input_fn(batch_size=7, drop_remainder=False),
             lambda: ds.unaugmented_input_fn("train", 33)]
  fast = [_batches(make_stream(), 6) for make_stream in streams]
  assert fast[0][0][0].shape[0] == 64 and fast[0][0][0].dtype == np.float32
  monkeypatch.setattr(ds, "decodes_batches", False)
  assert not ds._decodes_batches()  # pylint: disable=protected-access
  for batches, make_stream in zip(fast, streams):
    slow = _batches(make_stream(), 6)
    assert len(batches) == len(slow)
    for (x1, y1), (x2, y2) in zip(batches, slow):
      np.testing.assert_array_equal(x1, x2)
      np.testing.assert_array_equal(y1, y2)


def test_train_subset_takes_the_first_examples():
  ds = data.get_dataset("digits", train_examples=100)
  assert ds.num_train_examples == 100
  epoch = _batches(ds.input_fn("train", 10, repeat=False))
  assert len(epoch) == 10
  train_images = ds.arrays("train")[0]
  assert _rows(np.concatenate([b[0] for b in epoch])) == _rows(
      train_images[:100])
  # Repeated: every epoch draws from the same 100.
  many = np.concatenate([b[0] for b in _batches(ds.input_fn("train", 50), 6)])
  assert set(_rows(many)) == set(_rows(train_images[:100]))
  # The subset applies to training only.
  assert ds.num_examples("test") == 297
  assert len(_batches(ds.input_fn("test", 99, repeat=False))) == 3

  ds = data.get_dataset("digits", train_fraction=0.1)
  assert ds.num_train_examples == 150
  epoch = np.concatenate(
      [b[0] for b in _batches(ds.input_fn("train", 15, repeat=False))])
  assert _rows(epoch) == _rows(train_images[:150])


def test_train_subset_errors():
  with pytest.raises(ValueError, match="at most one"):
    data.get_dataset("digits", train_fraction=0.5, train_examples=10)
  with pytest.raises(ValueError, match=r"train_examples.*\[1, 1500\]"):
    data.get_dataset("digits", train_examples=1501)
  with pytest.raises(ValueError, match=r"train_fraction.*\(0, 1\]"):
    data.get_dataset("digits", train_fraction=1.5)
  with pytest.raises(ValueError, match="random_flip"):
    data.get_dataset("digits", random_flip="yes")


def test_random_flip_flips_some_training_images_only():
  plain = data.get_dataset("digits", seed=9)
  flip = data.get_dataset("digits", seed=9, random_flip=True)
  (x0, y0), = _batches(plain.input_fn("train", 256), 1)
  (x1, y1), = _batches(flip.input_fn("train", 256), 1)
  np.testing.assert_array_equal(y0, y1)
  same = np.all(x0 == x1, axis=(1, 2, 3))
  flipped = np.all(x0[:, :, ::-1] == x1, axis=(1, 2, 3))
  symmetric = np.all(x0 == x0[:, :, ::-1], axis=(1, 2, 3))
  assert np.all(same | flipped)
  assert 50 < np.sum(flipped & ~symmetric) < 206
  assert 50 < np.sum(same & ~symmetric) < 206
  for split_fn in (lambda d: d.input_fn("test", 64),
                   lambda d: d.eval_input_fn(batch_size=64)):
    (a, _), = _batches(split_fn(plain), 1)
    (b, _), = _batches(split_fn(flip), 1)
    np.testing.assert_array_equal(a, b)
