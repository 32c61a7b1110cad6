"""Tests of compare_gan2.data across its datasets: the embedded datasets' shapes,
ranges and labels, and the TFDS names' errors, metadata and preprocessing
without prepared data (test_tfds.py reads prepared data and skips without
tensorflow_datasets). Each module's own tests are at tests/data/test_<module>.py."""

import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import data
from compare_gan2.data import tfds as tfds_lib
from data_cases import _batches


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


# === TFDS names: errors, metadata, preprocessing ===

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
