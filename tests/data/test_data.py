"""Tests of compare_gan2.data: embedded datasets, the shared pipeline (seeds,
resume, subsets, flips), image folders, TFDS metadata and errors, fake data
and the `dataset` gin configurable."""

import os
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from compare_gan2 import data
from compare_gan2.data import digits as digits_lib
from compare_gan2.data import mixtures
from compare_gan2.data import tfds as tfds_lib
from compare_gan2.core.registry import UnknownNameError


def _batches(ds, n=None):
  ds = ds if n is None else ds.take(n)
  return [(x.numpy(), y.numpy()) for x, y in ds]


def _rows(images):
  """Hashable rows: one bytes object per image (to compare example sets)."""
  return sorted(image.tobytes() for image in np.asarray(images))


# === Embedded datasets ===

@pytest.mark.parametrize("name, shape, num_classes, unit_range", [
    ("digits", (32, 32, 1), 10, True),
    ("mog_ring", (1, 1, 2), 8, False),
    ("mog_grid", (1, 1, 2), 25, False),
])
def test_embedded_dataset_shapes_ranges_labels(name, shape, num_classes,
                                               unit_range):
  ds = data.get_dataset(name)
  assert ds.name == name and ds.image_shape == shape
  assert ds.num_classes == num_classes and ds.seed == 547
  for split in ("train", "test"):
    images, labels = next(iter(ds.input_fn(split, 256)))
    assert images.dtype == tf.float32 and images.shape == (256, *shape)
    assert labels.dtype == tf.int32 and labels.shape == (256,)
    labels = labels.numpy()
    assert labels.min() >= 0 and labels.max() < num_classes
    assert len(np.unique(labels)) > num_classes // 2
    if unit_range:
      assert images.numpy().min() >= 0.0 and images.numpy().max() <= 1.0
      assert images.numpy().max() > 0.9
    else:  # 2-D points are not squashed into [0, 1].
      assert np.abs(images.numpy()).max() > 1.5


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


def test_mixture_modes():
  for name, means, stddev in (("mog_ring", mixtures.RING_MEANS, 0.02),
                              ("mog_grid", mixtures.GRID_MEANS, 0.05)):
    ds = data.get_dataset(name)
    np.testing.assert_array_equal(ds.means, means)
    assert ds.split_sizes == {"train": 50000, "test": 5000}
    points, labels = ds.arrays("train")
    points = points.reshape(-1, 2)
    for k, mean in enumerate(means):
      mine = points[labels == k]
      assert len(mine) > 0.5 * len(points) / len(means)
      np.testing.assert_allclose(mine.mean(0), mean, atol=5 * stddev / 30)
      np.testing.assert_allclose(mine.std(0), stddev, rtol=0.1)
    modes = mixtures.assign_modes(points, means, 6 * stddev)
    np.testing.assert_array_equal(modes, labels)
  np.testing.assert_allclose(np.linalg.norm(mixtures.RING_MEANS, axis=1), 2.0,
                             rtol=1e-6)
  assert sorted(set(mixtures.GRID_MEANS[:, 0].tolist())) == [-4, -2, 0, 2, 4]
  assert len({tuple(m) for m in mixtures.GRID_MEANS.tolist()}) == 25
  # The data depend on data_seed only, not on dataset.seed.
  a = data.get_dataset("mog_ring", seed=1).arrays("test")[0]
  b = data.get_dataset("mog_ring", seed=2).arrays("test")[0]
  np.testing.assert_array_equal(a, b)


def test_mog_ring_radius_knob():
  """`mog_ring.radius`: PacGAN's ring (radius 1, std 0.01), written out as
  its config does: means (cos 2 pi k / 8, sin 2 pi k / 8)."""
  default = mixtures.mog_ring()
  assert default.radius == 2.0 and default.fingerprint == "mog_ring-std0.02-data_seed0-n50000-5000"
  ds = mixtures.mog_ring(radius=1.0, stddev=0.01, num_train_examples=4000)
  angles = 2 * np.pi * np.arange(8) / 8
  np.testing.assert_allclose(ds.means, np.stack([np.cos(angles), np.sin(angles)], -1),
                             atol=1e-6)
  assert "r1-std0.01" in ds.fingerprint
  points, labels = ds.arrays("train")
  points = points.reshape(-1, 2)
  np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=6 * 0.01)
  for k in range(8):
    np.testing.assert_allclose(points[labels == k].std(0), 0.01, rtol=0.15)
  for bad in (0, -1.0, True, "1"):
    with pytest.raises(ValueError, match="mog_ring.radius"):
      mixtures.mog_ring(radius=bad)


# === Pipeline: seeds, resume, subsets, flips ===

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


# === image_folder ===

def _write_image(path, array, fmt=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  # JPEG without chroma subsampling, so colours do not bleed across the crop.
  kwargs = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
  Image.fromarray(array).save(path, format=fmt, **kwargs)


def _framed(height, width, centre, margin):
  """A [h, w, 3] image: the central square `centre`, the rest `margin`."""
  image = np.empty((height, width, 3), np.uint8)
  image[:] = margin
  size = min(height, width)
  top, left = (height - size) // 2, (width - size) // 2
  image[top:top + size, left:left + size] = centre
  return image


def test_image_folder_classes_crop_and_corrupt_files(tmp_path, caplog):
  blue, red, green = (0, 0, 255), (255, 0, 0), (0, 255, 0)
  for i in range(5):
    _write_image(str(tmp_path / "cats" / f"c{i}.png"), _framed(40, 60, blue, red))
    _write_image(str(tmp_path / "dogs" / "sub" / f"d{i}.jpg"),
                 _framed(62, 30, green, red), fmt="JPEG")
  (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
  (tmp_path / "dogs" / "notes.txt").write_text("not an image")
  (tmp_path / "empty_class").mkdir()
  gin.parse_config([f"image_folder.path = '{tmp_path}'",
                    "image_folder.resolution = 16"])
  with caplog.at_level("WARNING"):
    ds = data.get_dataset("image_folder")
  assert str(tmp_path / "dogs" / "broken.png") in ds.skipped_files
  assert len(ds.skipped_files) == 1
  assert "broken.png" in caplog.text
  assert ds.class_names == ["cats", "dogs"] and ds.num_classes == 2
  assert ds.image_shape == (16, 16, 3) and ds.split_sizes["train"] == 10
  images, labels = ds.arrays("train")
  np.testing.assert_array_equal(labels, [0] * 5 + [1] * 5)
  # Centre crop: no red margin survives; cats blue, dogs green (JPEG noise).
  np.testing.assert_array_equal(images[:5], np.broadcast_to(blue, (5, 16, 16, 3)))
  np.testing.assert_allclose(images[5:], np.broadcast_to(green, (5, 16, 16, 3)),
                             atol=12)
  # Training batches come; "test" is the same images.
  batches = _batches(ds.input_fn("train", 4), 6)
  assert all(x.shape == (4, 16, 16, 3) and x.max() <= 1 for x, _ in batches)
  assert set(np.concatenate([y for _, y in batches]).tolist()) == {0, 1}
  assert _rows(ds.arrays("test")[0]) == _rows(images)


def test_image_folder_unlabelled_and_grey(tmp_path):
  rng = np.random.default_rng(0)
  for i in range(3):
    _write_image(str(tmp_path / f"img{i}.bmp"),
                 rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
  ds = data.DATASETS.make("image_folder", path=str(tmp_path), resolution=8,
                          colors=1)
  assert ds.num_classes == 0 and ds.class_names == [] and ds.skipped_files == []
  assert ds.image_shape == (8, 8, 1)
  _, labels = _batches(ds.input_fn("train", 3), 1)[0]
  np.testing.assert_array_equal(labels, [0, 0, 0])


def test_image_folder_missing_or_empty(tmp_path):
  missing = tmp_path / "nowhere"
  with pytest.raises(data.DatasetNotFoundError, match="nowhere"):
    data.DATASETS.make("image_folder", path=str(missing))
  (tmp_path / "empty").mkdir()
  with pytest.raises(data.DatasetNotFoundError, match="no image files"):
    data.DATASETS.make("image_folder", path=str(tmp_path / "empty"))
  with pytest.raises(data.DatasetNotFoundError, match="image_folder.path"):
    data.get_dataset("image_folder")
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
  with pytest.raises(data.DatasetNotFoundError, match="could be read"):
    data.DATASETS.make("image_folder", path=str(tmp_path / "bad"))


# === TFDS names: errors, metadata, fake data, preprocessing ===

@pytest.mark.parametrize("name, builder", [
    ("cifar10", "cifar10"), ("lsun-bedroom", "lsun/bedroom"),
    ("imagenet_128", "imagenet2012"), ("fashion-mnist", "fashion_mnist")])
def test_tfds_without_data_raises_with_instructions(tmp_path, name, builder):
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.get_dataset(name, tfds_data_dir=str(tmp_path))
  message = str(info.value)
  assert str(tmp_path) in message and f"'{builder}" in message
  assert "download_and_prepare()" in message and "version" in message


def test_tfds_data_dir_from_gin_and_missing_package(tmp_path):
  gin.parse_config([f"dataset.tfds_data_dir = '{tmp_path}'"])
  with pytest.raises(data.DatasetNotFoundError, match=str(tmp_path)):
    data.get_dataset("mnist", tfds_data_dir=None)
  # Prepared-looking data but no tensorflow_datasets package.
  version_dir = tmp_path / "mnist" / "3.0.1"
  version_dir.mkdir(parents=True)
  (version_dir / "dataset_info.json").write_text("{}")
  # As if tensorflow_datasets were not installed (None: its import fails).
  with pytest.MonkeyPatch.context() as patch:
    patch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(data.DatasetNotFoundError, match="tensorflow_datasets"):
      data.get_dataset("mnist")


@pytest.mark.parametrize("name, canonical, shape, num_classes", [
    ("cifar10", "cifar10", (32, 32, 3), 10),
    ("imagenet_128", "imagenet_128", (128, 128, 3), 1000),
    ("mnist", "mnist", (28, 28, 1), 10),
    ("fashion-mnist", "fashion_mnist", (28, 28, 1), 10),
    ("celeb_a", "celeb_a", (64, 64, 3), 0),
    ("lsun-bedroom", "lsun_bedroom", (128, 128, 3), 0),
    ("labeled_only_imagenet_128", "imagenet_128", (128, 128, 3), 1000),
    ("single_class_imagenet_128", "single_class_imagenet_128",
     (128, 128, 3), 1),
    ("digits", "digits", (32, 32, 1), 10),
])
def test_fake_dataset_has_the_metadata_of_the_real_one(tmp_path, monkeypatch,
                                                       name, canonical, shape,
                                                       num_classes):
  # Fake data never import tensorflow_datasets (None: an import would fail),
  # whether or not another test file imported it already.
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
  ds = data.get_dataset(name, fake=True, tfds_data_dir=str(tmp_path))
  assert ds.name == canonical and ds.image_shape == shape
  assert ds.num_classes == num_classes
  images, labels = next(iter(ds.input_fn("train", 4)))
  assert images.shape == (4, *shape) and images.dtype == tf.float32
  assert 0 <= labels.numpy().min() and labels.numpy().max() < max(num_classes, 1)
  assert 0 <= images.numpy().min() and images.numpy().max() <= 1
  (again, _), = _batches(ds.input_fn("train", 4), 1)
  np.testing.assert_array_equal(images.numpy(), again)
  assert ds.fingerprint.startswith("fake-")


def test_tfds_static_metadata():
  info = tfds_lib.TFDS_INFOS["imagenet_256"]
  assert info.builder == "imagenet2012" and info.splits["test"] == "validation"
  assert info.split_sizes == {"train": 1281167, "test": 50000}
  lsun = tfds_lib.TFDS_INFOS["lsun_bedroom"]
  assert sum(lsun.split_sizes.values()) == 3033042
  assert lsun.splits == {"train": "train[:99%]", "test": "train[99%:]"}


def test_celeb_a_and_lsun_transforms():
  image = np.zeros((218, 178, 3), np.uint8)
  image[29:29 + 160, 9:9 + 160] = 200  # exactly the central 160x160
  out = tfds_lib.celeb_a_transform(tf.constant(image)).numpy()
  assert out.shape == (64, 64, 3)
  np.testing.assert_allclose(out, 200 / 255, atol=1e-6)
  image = np.zeros((256, 300, 3), np.uint8)
  image[64:192, 86:214] = 255
  out = tfds_lib.lsun_transform(tf.constant(image)).numpy()
  assert out.shape == (128, 128, 3)
  np.testing.assert_array_equal(out, 1.0)
  out = tfds_lib.lsun_transform(tf.constant(image), resize_square=True).numpy()
  assert out.shape == (128, 128, 3) and out.min() == 0.0


def test_imagenet_transforms():
  rng = np.random.default_rng(0)
  image = tf.constant(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
  seeds = [tf.constant([s, 0], tf.int64) for s in range(6)]
  crops = [tfds_lib.imagenet_train_transform(image, 64, s).numpy()
           for s in seeds]
  assert all(c.shape == (64, 64, 3) and 0 <= c.min() and c.max() <= 1
             for c in crops)
  np.testing.assert_array_equal(
      crops[0], tfds_lib.imagenet_train_transform(image, 64, seeds[0]).numpy())
  assert len({c.tobytes() for c in crops}) > 1
  # Eval: the central 120x120 square (columns 20..140), resized.
  centre = np.zeros((120, 160, 3), np.uint8)
  centre[:, 20:140] = 255
  out = tfds_lib.imagenet_eval_transform(tf.constant(centre), 32).numpy()
  np.testing.assert_array_equal(out, 1.0)


def _zoomed_side_and_crop_np(image, seed):
  """The DiffAugment ImageNet fork's "zoomed" crop (its datasets.py
  _transform_imagnet_image): the box is drawn on [m, m, c], m = min(h, w),
  then only its size is used, at begin = ([h, w] - size) // 2."""
  h, w, c = image.shape
  m = min(h, w)
  _, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      [m, m, c], tf.zeros([1, 0, 4], tf.float32), seed=seed,
      aspect_ratio_range=[1.0, 1.0], area_range=[0.5, 1.0],
      use_image_if_no_bounding_boxes=True)
  sh, sw = int(size[0]), int(size[1])
  top, left = (h - sh) // 2, (w - sw) // 2
  return sh, image[top:top + sh, left:left + sw]


@pytest.mark.parametrize("shape", [(90, 130, 3), (131, 64, 3), (50, 50, 3)])
def test_imagenet_zoomed_crop_matches_the_fork(shape):
  rng = np.random.default_rng(2)
  image = rng.integers(0, 256, shape, dtype=np.uint8)
  m = min(shape[:2])
  sides = set()
  for s in range(40):
    seed = tf.constant([s, 5], tf.int64)
    side, expected = _zoomed_side_and_crop_np(image, seed)
    np.testing.assert_array_equal(
        tfds_lib.zoomed_crop(tf.constant(image), seed).numpy(), expected)
    # GenerateRandomCrop: an integer side with 0.5 m^2 <= side^2 <= m^2.
    assert 0.5 * m * m <= side * side and side <= m
    sides.add(side)
    if s < 3:
      out = tfds_lib.imagenet_train_transform(tf.constant(image), 32, seed,
                                              crop_method="zoomed").numpy()
      resized = tf.image.resize(expected.astype(np.float32) / 255.0, [32, 32],
                                method="bilinear", antialias=False).numpy()
      np.testing.assert_allclose(out, resized, atol=1e-6)
  assert len(sides) > 5


def test_imagenet_crop_method_gin_knob():
  ds = tfds_lib.ImagenetDataset("imagenet_64", tfds_lib.TFDS_INFOS["imagenet_64"],
                                seed=0, fake=True)
  assert ds.crop_method == "distorted"
  gin.parse_config("train_imagenet_transform.crop_method = 'zoomed'")
  ds = data.get_dataset("imagenet_128", fake=True)
  assert ds.fake_of.crop_method == "zoomed"
  gin.parse_config("train_imagenet_transform.crop_method = 'middle'")
  with pytest.raises(ValueError, match="crop_method"):
    tfds_lib.imagenet_train_crop()
  with pytest.raises(ValueError, match="crop_method"):
    tfds_lib.imagenet_train_transform(tf.zeros([8, 8, 3], tf.uint8), 4,
                                      tf.constant([0, 0]), crop_method="middle")


class _EncodedImagenet(tfds_lib.ImagenetDataset):
  """ImageNet preprocessing over in-test JPEG bytes (TFDS's stored form)."""

  def __init__(self, images, labels):
    super().__init__("imagenet_64", tfds_lib.TFDS_INFOS["imagenet_64"],
                     seed=0, fake=True)
    self._encoded = [tf.io.encode_jpeg(i).numpy() for i in images]
    self._labels = labels
    self.split_sizes = {"train": len(images), "test": len(images)}

  def _source(self, split):
    return tf.data.Dataset.from_tensor_slices(
        (self._encoded, np.asarray(self._labels, np.int64)))


def test_tfds_decode_and_crops_in_the_pipeline():
  rng = np.random.default_rng(1)
  images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            for h, w in ((90, 120), (100, 80), (70, 70), (64, 100))]
  ds = _EncodedImagenet(images, [3, 1, 4, 1])
  (x, y), = _batches(ds.eval_input_fn("test", batch_size=4))
  assert x.shape == (4, 64, 64, 3)
  np.testing.assert_array_equal(y, [3, 1, 4, 1])
  (x_train, _), = _batches(ds.input_fn("train", 4, shuffle=False), 1)
  assert x_train.shape == (4, 64, 64, 3) and not np.array_equal(x, x_train)
  full = _batches(ds.input_fn("train", 2), 5)
  for (a, b), (c, d) in zip(full[2:], _batches(
      ds.input_fn("train", 2, skip_batches=2), 3)):
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)


# === Registry names and gin ===

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
