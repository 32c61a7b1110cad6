"""image_folder: classes from folders, centre crops, corrupt and missing files."""

import os

import gin
import numpy as np
import pytest
from PIL import Image

from compare_gan2 import data
from compare_gan2.data.image_folder import ImageFolderDataset, scan_image_folder
from data_cases import _batches, _rows
from image_cases import _write_images


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


def test_scan_excludes_only_named_root_files(tmp_path):
  folder = _write_images(tmp_path / "f", 2)
  Image.fromarray(np.zeros([8, 8], np.uint8)).save(folder / "grid.png")
  assert len(scan_image_folder(str(folder))[0]) == 3
  assert len(scan_image_folder(str(folder), exclude=("grid.png",))[0]) == 2


# --- Images and label files ----------------------------------------------------------

def test_16_bit_png_loads_scaled_not_white(tmp_path):
  folder = tmp_path / "png16"
  folder.mkdir()
  values = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63000
  Image.fromarray(values).save(folder / "a.png")
  assert Image.open(folder / "a.png").mode.startswith("I")  # really 16-bit
  images = ImageFolderDataset(str(folder), resolution=8, colors=1).arrays("train")[0]
  expected = np.floor(values / 257.0 + 0.5).astype(np.uint8)  # 65535 -> 255
  np.testing.assert_array_equal(images[0, ..., 0], expected)
  rgb = ImageFolderDataset(str(folder), resolution=8, colors=3).arrays("train")[0]
  np.testing.assert_array_equal(rgb[0], np.repeat(expected[..., None], 3, axis=-1))


def test_8_bit_png_unchanged(tmp_path):
  folder = _write_images(tmp_path / "png8", 1, grey=True)
  expected = np.asarray(Image.open(folder / "sample_00000.png"))
  images = ImageFolderDataset(str(folder), resolution=8, colors=1).arrays("train")[0]
  np.testing.assert_array_equal(images[0, ..., 0], expected)
