"""Datasets of the original read from TensorFlow Datasets (TFDS).

`tensorflow_datasets` is imported only when data are actually loaded; the
metadata (shapes, classes, split sizes) are static, so fake data
(`get_dataset(name, fake=True)`) need neither the package nor the data.
Download is never attempted: the data must already be prepared under
`tfds_data_dir` (`dataset.tfds_data_dir`, else $TFDS_DATA_DIR, else
~/tensorflow_datasets), otherwise construction raises `DatasetNotFoundError`
saying how to prepare them.

Preprocessing follows google/compare_gan (bilinear resizes without antialias,
as `tf.image.resize_images` there):
  mnist, fashion_mnist, cifar10: as stored (28x28x1, 28x28x1, 32x32x3).
  celeb_a: the central 160x160 of the 218x178 images, resized to 64x64.
  lsun_bedroom: the central 128x128 pixels, not resized (zero-padded if
    smaller); `lsun_bedroom.resize = True` instead resizes the largest central
    square to 128 (antialiased). Train = the first 99% of TFDS "train", test =
    the last 1% (the official validation split has only 300 images).
  imagenet_{64,128,256,512}: training images are cropped "distorted" (a
    random square covering 50-100% of the area, the whole image if none fits)
    or, with `train_imagenet_transform.crop_method = "zoomed"`, as the
    DiffAugment ImageNet fork did (a centred square of 50-100% of the largest
    central square's area); evaluation images to their largest central
    square; then resized. Test = TFDS "validation".
Images are decoded after the shuffle and the resume skip (TFDS yields encoded
bytes), so skipped examples are read but not decoded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Mapping

import gin
import tensorflow as tf

from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, DatasetNotFoundError, ImageDataset, center_crop_square, resize, to_unit_float

logger = logging.getLogger(__name__)
DEFAULT_TFDS_DATA_DIR = "~/tensorflow_datasets"


@dataclasses.dataclass(frozen=True)
class TfdsInfo:
  """Static facts of a TFDS dataset.

  Attributes:
    builder: str. TFDS builder name ("lsun/bedroom").
    version: str. The version to read (others found on disk are accepted).
    splits: our split name -> TFDS split spec ("train[:99%]").
    split_sizes: our split name -> number of examples.
    resolution / colors / num_classes: after preprocessing.
    label_key: str or None. Feature holding the label (None: unlabelled).
    manual_download: str. Files TFDS cannot download itself (ImageNet).
  """
  builder: str
  version: str
  splits: Mapping[str, str]
  split_sizes: Mapping[str, int]
  resolution: int
  colors: int
  num_classes: int
  label_key: str | None = "label"
  manual_download: str = ""


_TRAIN_TEST = {"train": "train", "test": "test"}
_MNIST_SIZES = {"train": 60000, "test": 10000}
# 99% of lsun/bedroom's 3033042 training images, with TFDS's rounding of
# percent slices to the closest example.
_LSUN_TRAIN = 3002712

TFDS_INFOS: dict[str, TfdsInfo] = {
    "mnist": TfdsInfo("mnist", "3.0.1", _TRAIN_TEST, _MNIST_SIZES, 28, 1, 10),
    "fashion_mnist": TfdsInfo("fashion_mnist", "3.0.1", _TRAIN_TEST,
                              _MNIST_SIZES, 28, 1, 10),
    "cifar10": TfdsInfo("cifar10", "3.0.2", _TRAIN_TEST,
                        {"train": 50000, "test": 10000}, 32, 3, 10),
    "celeb_a": TfdsInfo(
        "celeb_a", "2.1.0",
        {"train": "train", "validation": "validation", "test": "test"},
        {"train": 162770, "validation": 19867, "test": 19962}, 64, 3, 0,
        label_key=None),
    "lsun_bedroom": TfdsInfo(
        "lsun/bedroom", "3.1.0",
        {"train": "train[:99%]", "test": "train[99%:]"},
        {"train": _LSUN_TRAIN, "test": 3033042 - _LSUN_TRAIN}, 128, 3, 0,
        label_key=None),
    # CelebA-HQ has one split of 30000 images; as in the original, it is
    # both the training and the evaluation set.
    "celeb_a_hq_128": TfdsInfo(
        "celeb_a_hq/128", "2.0.0", {"train": "train", "test": "train"},
        {"train": 30000, "test": 30000}, 128, 3, 0, label_key=None,
        manual_download="the CelebA-HQ deltas (see the TFDS celeb_a_hq page)"),
}
_IMAGENET_RESOLUTIONS = (64, 128, 256, 512)
for _resolution in _IMAGENET_RESOLUTIONS:
  TFDS_INFOS[f"imagenet_{_resolution}"] = TfdsInfo(
      "imagenet2012", "5.1.0", {"train": "train", "test": "validation"},
      {"train": 1281167, "test": 50000}, _resolution, 3, 1000,
      manual_download="ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar")


def resolve_data_dir(tfds_data_dir: str | None = None) -> str:
  """The TFDS data directory: argument, else $TFDS_DATA_DIR, else the default."""
  path = (tfds_data_dir or os.environ.get("TFDS_DATA_DIR")
          or DEFAULT_TFDS_DATA_DIR)
  return os.path.expanduser(os.fspath(path))


def prepare_command(info: TfdsInfo, data_dir: str) -> str:
  """The shell command that prepares `info`'s data in `data_dir`."""
  return ("python -c \"import tensorflow_datasets as tfds; tfds.builder("
          f"'{info.builder}:{info.version}', data_dir='{data_dir}')"
          ".download_and_prepare()\"")


def _not_found(info: TfdsInfo, data_dir: str, reason: str) -> DatasetNotFoundError:
  manual = ""
  if info.manual_download:
    manual = (f" TFDS cannot download {info.builder} itself: first put "
              f"{info.manual_download} in "
              f"{os.path.join(data_dir, 'downloads', 'manual')}.")
  return DatasetNotFoundError(
      f"TFDS dataset '{info.builder}' (version {info.version}) is not "
      f"available in '{data_dir}': {reason}. Downloads are disabled; prepare "
      f"it on a machine with network access (and tensorflow-datasets "
      f"installed), then copy the directory:{manual}\n  "
      f"{prepare_command(info, data_dir)}")


def _version_key(version: str) -> tuple[int, ...]:
  try:
    return tuple(int(part) for part in version.split("."))
  except ValueError:
    return (-1,)


def find_prepared_version(info: TfdsInfo, data_dir: str) -> str | None:
  """The version of `info` prepared in `data_dir`: the pinned one, else the
  newest present, else None. Reads only the directory listing."""
  root = os.path.join(data_dir, *info.builder.split("/"))
  def prepared(version: str) -> bool:
    return tf.io.gfile.exists(os.path.join(root, version, "dataset_info.json"))
  if prepared(info.version):
    return info.version
  if not tf.io.gfile.isdir(root):
    return None
  found = [v.rstrip("/") for v in tf.io.gfile.listdir(root)]
  found = sorted((v for v in found if prepared(v)), key=_version_key)
  return found[-1] if found else None


def load_builder(info: TfdsInfo, data_dir: str) -> Any:
  """The TFDS builder of prepared data; `DatasetNotFoundError` otherwise."""
  version = find_prepared_version(info, data_dir)
  if version is None:
    raise _not_found(info, data_dir, "no prepared data found (no "
                     f"{info.builder}/<version>/dataset_info.json)")
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise _not_found(info, data_dir, "the package tensorflow_datasets is not "
                     "installed (pip install tensorflow-datasets)") from e
  if version != info.version:
    logger.warning("TFDS %s: version %s not found in %s, reading version %s.",
                    info.builder, info.version, data_dir, version)
  try:
    return tfds.builder(f"{info.builder}:{version}", data_dir=data_dir)
  except Exception as e:  # TFDS raises many types for a broken directory.
    raise _not_found(info, data_dir, f"{type(e).__name__}: {e}") from e


class TfdsDataset(ImageDataset):
  """A dataset read from TFDS; subclasses set `_transform`.

  Attributes:
    tfds_info: TfdsInfo. The static facts.
    tfds_data_dir: str. Where the data are read from.
  """

  def __init__(self, name: str, info: TfdsInfo, *, seed: int,
               tfds_data_dir: str | None = None, fake: bool = False):
    super().__init__(name, resolution=info.resolution, colors=info.colors,
                     num_classes=info.num_classes, split_sizes=info.split_sizes,
                     seed=seed)
    self.tfds_info = info
    self.tfds_data_dir = resolve_data_dir(tfds_data_dir)
    self._builder = None
    if not fake:  # Fail now, not at the first batch of a long job.
      self._builder = load_builder(info, self.tfds_data_dir)
      self._check_split_sizes()

  def _check_split_sizes(self) -> None:
    for split, spec in self.tfds_info.splits.items():
      try:
        actual = int(self._builder.info.splits[spec].num_examples)
      except Exception:  # pylint: disable=broad-except
        continue  # Older TFDS cannot size slices; keep the static size.
      if actual != self.split_sizes[split]:
        logger.warning("%s split %s has %d examples, expected %d.",
                        self.name, split, actual, self.split_sizes[split])
        self.split_sizes[split] = actual

  def _source(self, split: str) -> tf.data.Dataset:
    if self._builder is None:
      raise RuntimeError(f"Dataset '{self.name}' was built with fake=True.")
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    ds = self._builder.as_dataset(
        split=self.tfds_info.splits[split], shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(try_autocache=False))
    label_key = self.tfds_info.label_key

    def select(features):
      label = (features[label_key] if label_key
               else tf.constant(0, tf.int64))
      return features["image"], label

    return ds.map(select)

  def _decode(self, element: Any, seed: tf.Tensor):
    del seed
    encoded, label = element
    image = tf.io.decode_image(encoded, channels=self.colors,
                               expand_animations=False)
    image.set_shape([None, None, self.colors])
    return image, label


# === Preprocessing (public for tests on synthetic tensors) ===

def celeb_a_transform(image: tf.Tensor) -> tf.Tensor:
  """[h, w, 3] uint8 -> [64, 64, 3] in [0, 1]: central 160x160, resized."""
  image = tf.image.resize_with_crop_or_pad(image, 160, 160)
  return resize(image, 64, antialias=False)


def lsun_transform(image: tf.Tensor, resolution: int = 128, *,
                   resize_square: bool = False) -> tf.Tensor:
  """[h, w, 3] uint8 -> [R, R, 3] in [0, 1]: the central R x R pixels (the
  original), or with `resize_square` the largest central square resized."""
  if resize_square:
    return resize(center_crop_square(image), resolution, antialias=True)
  return to_unit_float(
      tf.image.resize_with_crop_or_pad(image, resolution, resolution))


IMAGENET_TRAIN_CROPS = ("distorted", "zoomed")


@gin.configurable("train_imagenet_transform")
def imagenet_train_crop(crop_method: str = "distorted") -> str:
  """gin `train_imagenet_transform.crop_method` (the original's binding):
  "distorted" (compare_gan's default) or "zoomed" (the DiffAugment ImageNet
  fork, mit-han-lab/data-efficient-gans DiffAugment-biggan-imagenet)."""
  if crop_method not in IMAGENET_TRAIN_CROPS:
    raise ValueError("`train_imagenet_transform.crop_method` must be one of "
                     f"{IMAGENET_TRAIN_CROPS}. Received: crop_method={crop_method!r}")
  return crop_method


def _square_box(shape: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(begin, size) of a random square covering 50-100% of the area of an
  image of `shape` [h, w, c] (the whole image if none is found)."""
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      shape, tf.zeros([1, 0, 4], tf.float32), seed=seed,
      aspect_ratio_range=[1.0, 1.0], area_range=[0.5, 1.0],
      use_image_if_no_bounding_boxes=True)
  return begin, size


def zoomed_crop(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """The fork's "zoomed" crop of `image` [h, w, c]: the side s of a square is
  drawn as the "distorted" crop draws it, but inside the largest central
  square [m, m] (m = min(h, w)); the crop is centred: rows from (h - s) // 2,
  columns from (w - s) // 2. Returns [s, s, c]."""
  shape = tf.shape(image)
  m = tf.minimum(shape[0], shape[1])
  _, size = _square_box(tf.stack([m, m, shape[2]]), seed)
  top, left = (shape[0] - size[0]) // 2, (shape[1] - size[1]) // 2
  crop = image[top:top + size[0], left:left + size[1], :]
  crop.set_shape([None, None, image.shape[-1]])
  return crop


def imagenet_train_transform(image: tf.Tensor, resolution: int,
                             seed: tf.Tensor, crop_method: str = "distorted"
                             ) -> tf.Tensor:
  """The training crop, resized to resolution (stateless). "distorted": a
  random square covering 50-100% of the image area (the whole image if none is
  found) at a random place; "zoomed": see `zoomed_crop`."""
  if crop_method == "zoomed":
    return resize(zoomed_crop(image, seed), resolution, antialias=False)
  if crop_method != "distorted":
    raise ValueError(f"crop_method must be one of {IMAGENET_TRAIN_CROPS}. "
                     f"Received: crop_method={crop_method!r}")
  begin, size = _square_box(tf.shape(image), seed)
  channels = image.shape[-1]
  image = tf.slice(image, begin, size)
  image.set_shape([None, None, channels])
  return resize(image, resolution, antialias=False)


def imagenet_eval_transform(image: tf.Tensor, resolution: int) -> tf.Tensor:
  """The largest central square, resized to resolution."""
  return resize(center_crop_square(image), resolution, antialias=False)


# === Datasets ===

class _PlainTfdsDataset(TfdsDataset):
  """Images used as stored (mnist, fashion_mnist, cifar10)."""


class CelebADataset(TfdsDataset):

  def _transform(self, image, seed, *, training):
    del seed, training
    return celeb_a_transform(image)


class LsunBedroomDataset(TfdsDataset):

  def __init__(self, *args: Any, resize_square: bool = False, **kwargs: Any):
    super().__init__(*args, **kwargs)
    self.resize_square = resize_square

  def _transform(self, image, seed, *, training):
    del seed, training
    return lsun_transform(image, self.resolution,
                          resize_square=self.resize_square)


class ImagenetDataset(TfdsDataset):
  """ImageNet 2012; `label_mode` "real", "single" (all 0, one class) or
  "random" (uniform over 1000 classes, drawn per example position). The
  training crop is `train_imagenet_transform.crop_method` unless given."""

  def __init__(self, *args: Any, label_mode: str = "real",
               crop_method: str | None = None, **kwargs: Any):
    super().__init__(*args, **kwargs)
    self.label_mode = label_mode
    self.crop_method = imagenet_train_crop(
        **({} if crop_method is None else {"crop_method": crop_method}))
    if label_mode == "single":
      self.num_classes = 1

  def _decode(self, element, seed):
    image, label = super()._decode(element, seed)
    if self.label_mode == "single":
      label = tf.zeros_like(label)
    elif self.label_mode == "random":
      label = tf.random.stateless_uniform([], seed, maxval=1000,
                                          dtype=tf.int64)
    return image, label

  def _transform(self, image, seed, *, training):
    if training:
      return imagenet_train_transform(image, self.resolution, seed,
                                      self.crop_method)
    return imagenet_eval_transform(image, self.resolution)


# The tests of every registered part read these through `fake=True` (their
# metadata, random pixels): the data is a download.
_READ_FAKE = {"fake": True}


def _register_plain(name: str, aliases: tuple[str, ...] = ()) -> None:
  info = TFDS_INFOS[name]

  def factory(seed: int = DEFAULT_SEED, tfds_data_dir: str | None = None,
              fake: bool = False) -> TfdsDataset:
    return _PlainTfdsDataset(name, info, seed=seed,
                             tfds_data_dir=tfds_data_dir, fake=fake)

  factory.__name__ = name
  factory.__doc__ = (f"TFDS '{info.builder}' ({info.resolution}x"
                     f"{info.resolution}x{info.colors}, {info.num_classes} "
                     "classes).")
  DATASETS.register(name, aliases=aliases, test=_READ_FAKE)(factory)


_register_plain("mnist")
_register_plain("fashion_mnist", aliases=("fashion-mnist",))
_register_plain("cifar10")
_register_plain("celeb_a_hq_128")


@DATASETS.register("celeb_a", aliases=("celeba",), test=_READ_FAKE)
def celeb_a(seed: int = DEFAULT_SEED, tfds_data_dir: str | None = None,
            fake: bool = False) -> CelebADataset:
  """CelebA faces, central 160x160 resized to 64x64x3, unlabelled."""
  return CelebADataset("celeb_a", TFDS_INFOS["celeb_a"], seed=seed,
                       tfds_data_dir=tfds_data_dir, fake=fake)


@DATASETS.register("lsun_bedroom", aliases=("lsun-bedroom",), test=_READ_FAKE)
def lsun_bedroom(seed: int = DEFAULT_SEED, tfds_data_dir: str | None = None,
                 fake: bool = False, resize: bool = False) -> LsunBedroomDataset:
  """LSUN bedrooms at 128x128x3, unlabelled.

  Args:
    resize: bool. False (the original): the central 128x128 pixels. True: the
      largest central square resized to 128 (`lsun_bedroom.resize`).
  """
  return LsunBedroomDataset("lsun_bedroom", TFDS_INFOS["lsun_bedroom"],
                            seed=seed, tfds_data_dir=tfds_data_dir, fake=fake,
                            resize_square=resize)


def _imagenet_factory(key: str, info: TfdsInfo, label_mode: str) -> Any:

  def factory(seed: int = DEFAULT_SEED, tfds_data_dir: str | None = None,
              fake: bool = False) -> ImagenetDataset:
    return ImagenetDataset(key, info, seed=seed, tfds_data_dir=tfds_data_dir,
                           fake=fake, label_mode=label_mode)

  factory.__name__ = key
  factory.__doc__ = (f"ImageNet 2012 at {info.resolution}x{info.resolution}x3 "
                     f"(labels: {label_mode}).")
  return factory


def _register_imagenet(resolution: int) -> None:
  name = f"imagenet_{resolution}"
  info = TFDS_INFOS[name]
  aliases: tuple[str, ...] = ()
  if resolution == 128:
    # labeled_only_ of the original dropped labels < 0; TFDS imagenet2012 has
    # no unlabelled training images, so it is imagenet_128 itself.
    aliases += (f"labeled_only_{name}",)
  DATASETS.register(name, aliases=aliases, test=_READ_FAKE)(
      _imagenet_factory(name, info, "real"))
  if resolution == 128:
    for mode in ("single", "random"):
      key = f"{mode}_class_{name}"
      DATASETS.register(key, test=_READ_FAKE)(_imagenet_factory(key, info, mode))


for _resolution in _IMAGENET_RESOLUTIONS:
  _register_imagenet(_resolution)
