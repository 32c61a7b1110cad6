"""Fake data: random images with the metadata of the real dataset, without TFDS."""

import sys

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import data
from data_cases import _batches


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
