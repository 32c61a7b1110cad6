"""Tests of compare_gan2.data.labels: the partial subset, label files,
single/random labels and their application in the tf.data pipeline."""

import gin
import numpy as np
import pytest
from PIL import Image

from compare_gan2 import data
from compare_gan2.data import labels as labels_lib
from compare_gan2.data import digits as digits_lib
from compare_gan2.data.labels import FileLabels, read_label_file
from compare_gan2.core.registry import UnknownNameError


class _StreamedDigits(digits_lib.DigitsDataset):
  """Digits through the streaming branch (tf.data shuffle buffer)."""
  in_memory = False


def _epoch(ds, batch_size=100, seed=None):
  """Images and labels of one training epoch (1500 = 15 x 100)."""
  batches = [(x.numpy(), y.numpy()) for x, y in
             ds.input_fn("train", batch_size, seed=seed, repeat=False)]
  return (np.concatenate([b[0] for b in batches]),
          np.concatenate([b[1] for b in batches]))


def _pairs(images, labels):
  """Multiset of (image bytes, label): order-free, duplicates kept."""
  return sorted((x.tobytes(), int(y)) for x, y in zip(images, labels))


def _with_labels(**bindings):
  gin.parse_config([f"labels.{k} = {v!r}" for k, v in bindings.items()])
  return data.get_dataset("digits")


# === partial_indices ===

@pytest.mark.parametrize("sizes", [[150] * 10, [3, 50, 51, 100, 7]])
@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.1, 0.5, 0.97, 1.0])
def test_partial_indices_exact_total_and_balanced(sizes, fraction):
  labels = np.random.default_rng(0).permutation(
      np.repeat(np.arange(len(sizes)), sizes))
  kept = labels_lib.partial_indices(labels, fraction, seed=3)
  assert len(kept) == round(fraction * len(labels))
  assert len(np.unique(kept)) == len(kept) and np.all(np.diff(kept) > 0)
  counts = np.bincount(labels[kept], minlength=len(sizes))
  # Classes not exhausted get as many as the fullest class, or one less.
  sizes = np.array(sizes)
  open_counts = counts[counts < sizes]
  if open_counts.size:
    assert counts.max() - open_counts.min() <= 1


def test_partial_indices_deterministic_per_seed():
  labels = np.repeat(np.arange(10), 150)
  a = labels_lib.partial_indices(labels, 0.1, seed=1)
  np.testing.assert_array_equal(a, labels_lib.partial_indices(labels, 0.1, 1))
  assert not np.array_equal(a, labels_lib.partial_indices(labels, 0.1, 2))
  with pytest.raises(ValueError, match="fraction"):
    labels_lib.partial_indices(labels, 1.5)


# === Through the pipeline ===

@pytest.mark.parametrize("streamed", [False, True])
def test_partial_labels_in_the_pipeline(streamed):
  source = labels_lib.get_label_source("partial", fraction=0.1, seed=4)
  if streamed:
    ds = _StreamedDigits(seed=547)
    ds.set_label_source(source)
  else:
    gin.parse_config(["labels.source = 'partial'", "labels.fraction = 0.1",
                      "labels.seed = 4"])
    ds = data.get_dataset("digits")
  assert ds.label_source == "partial" and ds.label_fraction == 0.1
  images, true_labels = ds.arrays("train")
  kept = labels_lib.partial_indices(true_labels, 0.1, seed=4)
  expected = _pairs(images[kept], true_labels[kept])
  # Same examples whatever the shuffle seed or batch size.
  for seed, batch_size in ((None, 100), (11, 50)):
    x, y = _epoch(ds, batch_size, seed=seed)
    assert np.mean(y != -1) == 0.1 and set(np.unique(y)) <= set(range(-1, 10))
    assert _pairs(x[y != -1], y[y != -1]) == expected
  # Evaluation keeps the true labels.
  _, eval_labels = next(iter(ds.eval_input_fn(batch_size=297)))
  assert eval_labels.numpy().min() >= 0


def test_partial_labels_within_training_subset():
  gin.parse_config(["labels.source = 'partial'", "labels.fraction = 0.2"])
  ds = data.get_dataset("digits", train_examples=500)
  assert ds.label_fraction == 0.2
  kept = labels_lib.partial_indices(ds.arrays("train")[1][:500], 0.2)
  x, y = _epoch(ds)
  images = ds.arrays("train")[0]
  assert sorted(r.tobytes() for r in x[y != -1]) == sorted(
      r.tobytes() for r in images[kept])


def test_fake_data_labels_are_read_through_the_decoder():
  ds = data.get_dataset("digits", fake=True)
  y = np.concatenate([b[1].numpy() for b in ds.input_fn(
      "train", 100, shuffle=False, repeat=False)])
  np.testing.assert_array_equal(labels_lib.train_labels(ds), y)


def test_single_and_random_labels():
  x, y = _epoch(_with_labels(source="single"))
  assert np.all(y == 0)
  ds = _with_labels(source="random", seed=5)
  assert ds.label_source == "random" and ds.label_fraction == 1.0
  images = ds.arrays("train")[0]
  expected = labels_lib.random_labels(1500, 10, seed=5)
  x, y = _epoch(ds)
  assert _pairs(x, y) == _pairs(images, expected)
  assert len(np.unique(y)) == 10
  assert not np.array_equal(expected, labels_lib.random_labels(1500, 10, 6))


# === Label files ===

def test_label_file_round_trip(tmp_path):
  images, true_labels = data.get_dataset("digits").arrays("train")
  inferred = (true_labels + 1) % 10
  inferred[::3] = -1
  path = labels_lib.write_label_file(
      str(tmp_path / "labels.npz"), inferred, "digits",
      confidence=np.full([1500], 0.5), method="test")
  contents = labels_lib.read_label_file(path)
  np.testing.assert_array_equal(contents["labels"], inferred)
  assert contents["dataset"] == "digits" and contents["num_examples"] == 1500
  assert contents["num_classes"] == 10 and contents["confidence"].shape == (1500,)
  ds = _with_labels(source="file", path=path)
  assert ds.label_source == "file"
  assert ds.label_fraction == pytest.approx(np.mean(inferred != -1))
  x, y = _epoch(ds, seed=9)
  assert _pairs(x, y) == _pairs(images, inferred)


def test_label_file_errors(tmp_path):
  wrong_name = labels_lib.write_label_file(
      str(tmp_path / "a.npz"), np.zeros([1500], int), "cifar10")
  with pytest.raises(ValueError, match="'cifar10'.*'digits'"):
    _with_labels(source="file", path=wrong_name)
  gin.clear_config()
  wrong_size = labels_lib.write_label_file(
      str(tmp_path / "b.npz"), np.zeros([1000], int), "digits")
  with pytest.raises(ValueError, match="1000 labels.*1500 examples"):
    _with_labels(source="file", path=wrong_size)
  gin.clear_config()
  missing = str(tmp_path / "missing.npz")
  with pytest.raises(FileNotFoundError, match="missing.npz"):
    _with_labels(source="file", path=missing)
  with pytest.raises(ValueError, match=r"\[-1, 3\)"):
    labels_lib.write_label_file(str(tmp_path / "c.npz"), [0, 5], "digits",
                                num_classes=3)


# === Configuration errors ===

def test_unknown_source_and_misplaced_options():
  with pytest.raises(UnknownNameError, match="Did you mean: partial"):
    _with_labels(source="parital")
  gin.clear_config()
  with pytest.raises(ValueError, match="labels.fraction.*partial"):
    _with_labels(source="true", fraction=0.5)
  gin.clear_config()
  with pytest.raises(ValueError, match="needs `labels.fraction`"):
    _with_labels(source="partial")
  gin.clear_config()
  assert data.get_dataset("digits").label_source == "true"


@pytest.mark.parametrize("streamed", [False, True])
def test_resume_keeps_the_labels(streamed):
  ds = _StreamedDigits(seed=2) if streamed else data.get_dataset("digits")
  ds.set_label_source(labels_lib.get_label_source("partial", fraction=0.3))
  full = list(ds.input_fn("train", 128).take(14))
  for (x1, y1), (x2, y2) in zip(full[12:],
                                ds.input_fn("train", 128, skip_batches=12)):
    np.testing.assert_array_equal(x1.numpy(), x2.numpy())
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())


@pytest.mark.parametrize("kind", ["text", "npy", "png", "object_npz"])
def test_a_file_that_is_not_a_label_file(tmp_path, kind):
  path = tmp_path / f"labels.{kind}"
  if kind == "text":
    path.write_text("0 1 2\n")
  elif kind == "npy":
    with open(path, "wb") as f:
      np.save(f, np.arange(3))
  elif kind == "png":
    Image.fromarray(np.zeros([4, 4], np.uint8)).save(path, format="PNG")
  else:
    with open(path, "wb") as f:
      np.savez(f, labels=np.array([{}], dtype=object), dataset="digits", num_examples=1)
  with pytest.raises(ValueError) as info:
    read_label_file(str(path))
  message = str(info.value)
  assert str(path) in message and "not a" in message and "write_label_file" in message
  assert "allow_pickle" not in message.split(";")[0] and "\n" not in message
  with pytest.raises(ValueError, match="label file"):
    FileLabels(str(path)).contents  # pylint: disable=expression-not-assigned
