"""image_folder: classes from folders, centre crops, corrupt and missing files."""

import os

import gin
import numpy as np
import pytest
from PIL import Image

from compare_gan2 import data
from data_cases import _batches, _rows


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
