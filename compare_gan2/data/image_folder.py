"""`image_folder`: the images of a local directory.

Every file under `image_folder.path` ending in .png, .jpg, .jpeg, .bmp, .gif or
.webp (any case; hidden files and folders skipped) is one example. If some
sub-folders hold images, the sorted names of those sub-folders are the
classes (label = index of the top-level sub-folder, images found recursively)
and images directly in the root are ignored with a warning; otherwise the
root's images are unlabelled (num_classes 0).

All images are decoded up front with Pillow (EXIF orientation applied, the
largest central square cropped, resized to `image_folder.resolution` with
antialiased bilinear filtering, converted to RGB or grey) and held in memory
as uint8; 16-bit images are scaled to 8 bits (v / 257, rounded), so that
65535 is white. A file that fails to decode is skipped: it is named in a logged
warning and in `skipped_files`, and never reaches training. The data take
R*R*C bytes per image (12 KiB at 64x64x3).

Splits: "train" and "test" are the same images in the same order (a folder has
no held-out part; metrics compare against the training images, as usual for
small-data GANs).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
from typing import Sequence

import numpy as np

from compare_gan2.core.checks import is_int
from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, ArrayDataset, DatasetNotFoundError

logger = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def _is_image(name: str) -> bool:
  return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_below(directory: str) -> list[str]:
  """Image files below `directory` (recursive), sorted by relative path."""
  found = []
  for root, dirs, files in os.walk(directory, followlinks=True):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    found.extend(os.path.join(root, f) for f in sorted(files) if _is_image(f))
  return found


def scan_image_folder(path: str, exclude: Sequence[str] = ()
                      ) -> tuple[list[str], list[int], list[str]]:
  """Lists a folder's images without opening them.

  Args:
    path: str. The directory.
    exclude: file names directly in `path` that are not examples (the grid
      that `compare_gan2 sample` writes next to its samples).

  Returns:
    (files, labels, class_names): files sorted (by class, then path), their
    labels (0 if unlabelled) and the class names ([] if unlabelled).

  Raises:
    DatasetNotFoundError: `path` is missing, not a directory or has no images.
  """
  if not path:
    raise DatasetNotFoundError(
        "The image_folder dataset needs a directory: set "
        "`image_folder.path = '/path/to/images'`.")
  if not os.path.isdir(path):
    raise DatasetNotFoundError(f"image_folder: no directory at '{path}'.")
  entries = sorted(os.listdir(path))
  root_files = [os.path.join(path, e) for e in entries if _is_image(e)
                and e not in exclude and os.path.isfile(os.path.join(path, e))]
  files, labels, class_names = [], [], []
  for entry in entries:
    sub = os.path.join(path, entry)
    if entry.startswith(".") or not os.path.isdir(sub):
      continue
    below = _images_below(sub)
    if below:
      files.extend(below)
      labels.extend([len(class_names)] * len(below))
      class_names.append(entry)
  if class_names:
    if root_files:
      logger.warning("image_folder '%s': %d images directly in the folder "
                      "are ignored (the sub-folders are the classes).",
                      path, len(root_files))
  else:
    files, labels = root_files, [0] * len(root_files)
  if not files:
    raise DatasetNotFoundError(
        f"image_folder: no image files ({', '.join(IMAGE_EXTENSIONS)}) in "
        f"'{path}'.")
  return files, labels, class_names


def load_image(path: str, resolution: int, colors: int) -> np.ndarray:
  """One file -> uint8 [resolution, resolution, colors] (central square)."""
  from PIL import Image, ImageOps  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):  # 16-bit grey PNG: Pillow's "I;16" or "I"
      image = _to_8_bit(image, path)
    image = image.convert("L" if colors == 1 else "RGB")
    width, height = image.size
    size = min(width, height)
    left, top = (width - size) // 2, (height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    image = image.resize((resolution, resolution),
                         Image.Resampling.BILINEAR)
    array = np.asarray(image, np.uint8)
  return array.reshape(resolution, resolution, colors)


def _to_8_bit(image, path: str):
  """A 16-bit grey image as 8-bit "L" (v / 257 rounded: 65535 -> 255);
  convert("L") would clip every value above 255 to white."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  array = np.asarray(image)
  if array.size and (array.min() < 0 or array.max() > 65535):
    raise ValueError(f"'{path}' is a 32-bit integer image (values "
                     f"{array.min()}..{array.max()}); only 8- and 16-bit images load.")
  return Image.fromarray(np.round(array / 257.0).astype(np.uint8), "L")


def _try_load(path: str, resolution: int, colors: int):
  try:
    return load_image(path, resolution, colors), None
  except Exception as e:  # pylint: disable=broad-except
    # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError..
    return None, f"{type(e).__name__}: {e}"


class ImageFolderDataset(ArrayDataset):
  """Images of a directory; see the module docstring.

  Attributes:
    path: str. The directory (absolute).
    files: list of str. The images in use, in dataset order.
    class_names: list of str. Sub-folder names ([] if unlabelled).
    skipped_files: list of str. Files that failed to decode.
    excluded_files: list of str. Files named in `exclude`, not examples.
  """

  def __init__(self, path: str, *, resolution: int = 64, colors: int = 3,
               seed: int = DEFAULT_SEED, decode: bool = True,
               exclude: Sequence[str] = ()):
    if not is_int(resolution, 1):
      raise ValueError("`image_folder.resolution` must be a positive integer. "
                       f"Received: resolution={resolution!r}")
    if colors not in (1, 3):
      raise ValueError("`image_folder.colors` must be 1 or 3. "
                       f"Received: colors={colors!r}")
    path = os.path.abspath(os.path.expanduser(os.fspath(path))) if path else path
    files, labels, class_names = scan_image_folder(path, exclude)
    self.path = path
    self.excluded_files = sorted(os.path.join(path, e) for e in exclude
                                 if os.path.isfile(os.path.join(path, e)))
    self.class_names = class_names
    self.skipped_files: list[str] = []
    self._images = None
    if decode:
      files, labels = self._load(files, labels, resolution, colors)
    self.files = files
    self._labels = np.asarray(labels, np.int32)
    super().__init__("image_folder", resolution=resolution, colors=colors,
                     num_classes=len(class_names), seed=seed,
                     split_sizes={"train": len(files), "test": len(files)})

  def _load(self, files, labels, resolution, colors):
    workers = min(32, (os.cpu_count() or 1) + 4)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      results = list(pool.map(lambda f: _try_load(f, resolution, colors),
                              files))
    kept_files, kept_labels, images = [], [], []
    for file, label, (image, error) in zip(files, labels, results):
      if image is None:
        logger.warning("image_folder: skipping unreadable image '%s' (%s).",
                        file, error)
        self.skipped_files.append(file)
      else:
        kept_files.append(file)
        kept_labels.append(label)
        images.append(image)
    if not images:
      raise DatasetNotFoundError(
          f"image_folder: none of the {len(files)} image files in "
          f"'{self.path}' could be read.")
    if self.skipped_files:
      logger.warning("image_folder '%s': skipped %d unreadable of %d files.",
                      self.path, len(self.skipped_files), len(files))
    self._images = np.stack(images)
    return kept_files, kept_labels

  @property
  def fingerprint(self) -> str:
    digest = hashlib.sha1(self.path.encode())
    for file in self.files:
      stat = os.stat(file)
      digest.update(f"{file}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return f"{super().fingerprint}-{digest.hexdigest()[:12]}"

  def _arrays(self, split: str):
    del split  # "train" and "test" are the same images.
    if self._images is None:
      raise RuntimeError("image_folder was built without decoding (fake).")
    return self._images, self._labels


def _harness_folder(directory: str) -> list[str]:
  """For the tests of every registered part: two classes of two 10x10 PNGs
  written into `directory`, and the gin bindings that read them at 8 px."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for cls in ("a", "b"):
    os.makedirs(os.path.join(directory, cls), exist_ok=True)
    for i in range(2):
      Image.fromarray(np.full([10, 10, 3], 60 * i, np.uint8)).save(
          os.path.join(directory, cls, f"{i}.png"))
  return [f"image_folder.path = {directory!r}", "image_folder.resolution = 8"]


@DATASETS.register("image_folder", test={"setup": _harness_folder})
def image_folder(seed: int = DEFAULT_SEED, path: str | None = None,
                 resolution: int = 64, colors: int = 3,
                 fake: bool = False, exclude: Sequence[str] = ()
                 ) -> ImageFolderDataset:
  """The images of a directory, classes = sub-folders (see the module doc).

  Args:
    seed: int. Data-order seed (`dataset.seed`).
    path: str. The directory (`image_folder.path`).
    resolution: int. Output size (`image_folder.resolution`). Defaults to 64.
    colors: int. 3 (RGB) or 1 (grey) (`image_folder.colors`).
    fake: bool. Only list the files (for fake data); do not decode them.
    exclude: file names directly in `path` that are not examples
      (`image_folder.exclude`; `compare_gan2 score` passes the grid files of
      `compare_gan2 sample`).
  """
  return ImageFolderDataset(path, resolution=resolution, colors=colors,
                            seed=seed, decode=not fake, exclude=tuple(exclude))
