"""Every TFDS dataset of the registry read through the real tensorflow_datasets.

For each TFDS builder the library names (`tfds_lib.TFDS_INFOS`, derived from
the `DATASETS` registry, so a new name is covered without editing this file),
the test subclasses the installed builder class only to replace its download
step: the examples are random values of the builder's own features (TFDS's
`RandomFakeGenerator`) whose image is a drawing with a known answer, written by
TFDS's own writer (`download_and_prepare`) into a temporary data_dir. The
library then reads them exactly as it reads prepared data: `tfds.builder(
"<name>:<version>", data_dir=...)`, `as_dataset` with the split specs
("train[:99%]"), JPEG/PNG decoding, the per-dataset crops and resizes.

The drawings: example i is a flat colour A_i (R = 40 + 12 (i mod 10), G = 40 +
12 (i div 10 mod 10), B = 90; grey 40 + 12 (i mod 10) for 1 channel) on the
part of the image that the dataset's evaluation transform keeps, and the
colour A_i +- 100 everywhere else. So every preprocessed image must be flat A_i
(anything of the border shows up), and its centre pixel names the example,
which ties it to its label (written as i mod num_classes).

  python -m pytest -q tests/data/test_tfds.py            # the data checks
  python -m pytest -q -m slow tests/data/test_tfds.py    # + a training step per name
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import data
from compare_gan2.core import config
from compare_gan2.data import tfds as tfds_lib
from compare_gan2.runner import Runner

tfds = pytest.importorskip("tensorflow_datasets",
                           reason="pip install -e '.[test]' installs it")
from tensorflow_datasets.testing import mocking  # noqa: E402  pylint: disable=g-import-not-at-top
from run_cases import TINY_RUN


def _tfds_names():
  """Every registered dataset name (no aliases) read from TFDS."""
  names = []
  for name in data.DATASETS.names():
    try:
      ds = data.get_dataset(name, fake=True).fake_of
    except data.DatasetNotFoundError:  # image_folder: needs a path, not TFDS
      continue
    if isinstance(ds, tfds_lib.TfdsDataset) and ds.name == name:  # not an alias
      names.append(name)
  gin_clear()
  return names


def gin_clear():
  import gin  # pylint: disable=g-import-not-at-top
  gin.clear_config()


NAMES = _tfds_names()
# (builder, version) -> TfdsInfo: the data written once for every name using it.
BUILDERS = {(i.builder, i.version): i for i in tfds_lib.TFDS_INFOS.values()}

# Examples written per TFDS split; lsun's 99% / 1% split of "train" needs 100
# for a non-empty last percent.
NUM_EXAMPLES = 10
NUM_EXAMPLES_OTHER = 4
NUM_EXAMPLES_LSUN = 100

# The drawings per dataset class: image shape (h, w) of example i, and the
# box [top, bottom, left, right) that the evaluation transform keeps. None
# shape: the builder's fixed shape. A dataset class missing here fails
# `test_every_tfds_dataset_class_has_a_drawing`.
_IMAGENET_SHAPES = ((60, 90), (90, 60), (64, 64), (72, 96), (96, 72))
_LSUN_SHAPES = ((150, 200), (128, 160), (200, 140), (130, 130))


def _central_square(h, w):
  m = min(h, w)
  return ((h - m) // 2, (h - m) // 2 + m, (w - m) // 2, (w - m) // 2 + m)


def _drawing(cls, i, fixed_shape):
  """(h, w), kept box of example i for a dataset of class `cls`."""
  if cls is tfds_lib.ImagenetDataset:
    h, w = _IMAGENET_SHAPES[i % len(_IMAGENET_SHAPES)]
    return (h, w), _central_square(h, w)
  if cls is tfds_lib.LsunBedroomDataset:
    h, w = _LSUN_SHAPES[i % len(_LSUN_SHAPES)]
    top, left = (h - 128) // 2, (w - 128) // 2  # resize_with_crop_or_pad
    return (h, w), (top, top + 128, left, left + 128)
  if cls is tfds_lib.CelebADataset:  # 218 x 178: the central 160 x 160
    assert fixed_shape[:2] == (218, 178), fixed_shape
    return (218, 178), (29, 189, 9, 169)
  if cls is tfds_lib._PlainTfdsDataset:  # pylint: disable=protected-access
    h, w = fixed_shape[:2]
    return (h, w), (0, h, 0, w)
  return None


def _colour(i, channels):
  """A_i: the flat colour of example i (uint8 per channel)."""
  if channels == 1:
    return np.array([40 + 12 * (i % 10)])
  return np.array([40 + 12 * (i % 10), 40 + 12 * (i // 10 % 10), 90])


def _identity(pixel, channels):
  """The example index i (mod 100) whose A_i is `pixel` (floats in [0, 1])."""
  levels = np.rint((np.asarray(pixel) * 255 - 40) / 12).astype(int)
  np.testing.assert_allclose(np.asarray(pixel) * 255,
                             _colour(levels[0] + 10 * (levels[1] if channels > 1 else 0),
                                     channels), atol=5, err_msg="not a drawn colour")
  return int(levels[0] + (10 * levels[1] if channels > 1 else 0))


def _draw(i, shape, box, channels):
  a = _colour(i, channels)
  border = np.where(a < 128, a + 100, a - 100)
  image = np.empty((*shape, channels), np.uint8)
  image[...] = border
  top, bottom, left, right = box
  image[top:bottom, left:right] = a
  return image


def _dataset_class(info):
  """The dataset class of the registered names reading `info`'s builder."""
  classes = {type(data.get_dataset(n, fake=True).fake_of) for n in NAMES
             if data.get_dataset(n, fake=True).fake_of.tfds_info.builder == info.builder}
  gin_clear()
  assert len(classes) == 1, (info.builder, classes)
  return classes.pop()


def _split_counts(info):
  """TFDS split name -> examples written."""
  base = sorted({spec.split("[")[0] for spec in info.splits.values()})
  counts = {}
  for i, split in enumerate(base):
    counts[split] = NUM_EXAMPLES if i == 0 or split == "train" else NUM_EXAMPLES_OTHER
  if info.builder.startswith("lsun"):
    counts = {split: NUM_EXAMPLES_LSUN for split in counts}
  return counts


def write_tfds_data(info, data_dir):
  """Writes random examples of `info`'s installed builder into `data_dir`
  with TFDS's writer; the image feature holds the drawing of the example."""
  name, _, config_name = info.builder.partition("/")
  builder_cls = tfds.builder_cls(name)
  counts = _split_counts(info)
  cls = _dataset_class(info)

  class Builder(builder_cls, skip_registration=True):  # pylint: disable=missing-class-docstring
    name = builder_cls.name  # where it is written: data_dir/<name>/<config>/<version>

    def _split_generators(self, dl_manager):  # no download
      del dl_manager
      return {split: self._generate_examples(split) for split in counts}

    def _generate_examples(self, split):  # pylint: disable=arguments-differ
      features = self.info.features
      image_shape = features["image"].shape
      label = features["label"] if "label" in features else None
      randoms = mocking.RandomFakeGenerator(features, counts[split], seed=len(split))
      for i, example in enumerate(randoms):
        shape, box = _drawing(cls, i, image_shape)
        example["image"] = _draw(i, shape, box, image_shape[-1])
        if label is not None:
          example["label"] = i % label.num_classes
        yield f"{split}-{i}", example

  kwargs = {"config": config_name} if config_name else {}
  builder = Builder(data_dir=data_dir, version=info.version, **kwargs)
  builder.download_and_prepare()
  return counts


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("tfds"))
  for info in BUILDERS.values():
    write_tfds_data(info, path)
  return path


def _read_direct(info, data_dir, spec):
  """The images of split `spec` read by TFDS itself (file order), decoded."""
  builder = tfds.builder(f"{info.builder}:{info.version}", data_dir=data_dir)
  return [ex["image"].numpy() for ex in builder.as_dataset(split=spec, shuffle_files=False)]


def _check_flat(images, labels, ds, *, max_off=0.03):
  """Every image is (nearly) the flat colour of its centre; returns the
  example indices. `max_off`: allowed fraction of pixels off that colour
  (JPEG ringing at the box edge: up to 1.6% seen for lsun's resized crops;
  a crop 10% too wide shows 17% border)."""
  images, labels = np.asarray(images), np.asarray(labels)
  assert images.dtype == np.float32 and images.shape[1:] == ds.image_shape
  assert images.min() >= 0.0 and images.max() <= 1.0
  ids = []
  c = ds.resolution // 2
  for image, label in zip(images, labels):
    i = _identity(image[c, c], ds.colors)
    off = np.abs(image - _colour(i, ds.colors) / 255.0).max(axis=-1) > 0.2
    assert off.mean() <= max_off, f"{ds.name}: {off.mean():.1%} of example {i} is border"
    ids.append(i)
    mode = getattr(ds, "label_mode", "real")
    if mode == "random":
      assert 0 <= label < 1000
    else:  # written as i mod num_classes; 0 when unlabelled or "single"
      expected = i % ds.num_classes if ds.num_classes > 1 else 0
      assert label == expected, (ds.name, i, label)
  return ids


# --- The installed TFDS has every builder, config and version -------------------------


def test_the_registry_names_tfds_datasets():
  assert {"cifar10", "celeb_a", "celeb_a_hq_128", "lsun_bedroom", "imagenet_64",
          "imagenet_128", "imagenet_256", "imagenet_512"} <= set(NAMES)
  assert {info.builder for info in BUILDERS.values()} == {
      data.get_dataset(n, fake=True).fake_of.tfds_info.builder for n in NAMES}


@pytest.mark.parametrize("builder, version", sorted(BUILDERS))
def test_builder_config_and_version_exist_in_installed_tfds(builder, version):
  name, _, config_name = builder.partition("/")
  try:
    cls = tfds.builder_cls(name)
  except Exception as e:  # pylint: disable=broad-except
    pytest.fail(f"TFDS {tfds.__version__} has no builder '{name}': {e}")
  if config_name:
    configs = {c.name: c for c in cls.BUILDER_CONFIGS}
    assert config_name in configs, (
        f"TFDS {tfds.__version__} builder '{name}' has no config '{config_name}' "
        f"(configs: {sorted(configs)})")
    config_ = configs[config_name]
    versions = {str(config_.version), *(str(v) for v in config_.supported_versions)}
  else:
    versions = {str(cls.VERSION), *(str(v) for v in cls.SUPPORTED_VERSIONS)}
  assert version in versions, (
      f"TFDS {tfds.__version__} '{builder}' has versions {sorted(versions)}, "
      f"not {version}")
  # What prepare_command (the error message) tells users to run builds it.
  builder_ = tfds.builder(f"{builder}:{version}", data_dir="/nonexistent")
  assert str(builder_.version) == version


def test_every_tfds_dataset_class_has_a_drawing():
  for name in NAMES:
    ds = data.get_dataset(name, fake=True).fake_of
    assert _drawing(type(ds), 0, (218, 178, 3)) is not None, (
        f"{name}: add a drawing for {type(ds).__name__} to tests/data/test_tfds.py")


# --- Reading the written data through the library -------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_read_decode_and_transform(name, data_dir):
  ds = data.get_dataset(name, tfds_data_dir=data_dir)
  info = ds.tfds_info
  assert isinstance(ds, tfds_lib.TfdsDataset) and ds.tfds_data_dir == data_dir
  # Split sizes from the written dataset_info.json, through the split specs.
  counts = _split_counts(info)
  for split, spec in info.splits.items():
    direct = _read_direct(info, data_dir, spec)
    assert ds.num_examples(split) == len(direct) > 0, (split, spec)
  if info.builder.startswith("lsun"):
    assert ds.num_examples("train") == 99 and ds.num_examples("test") == 1
  else:
    assert ds.num_examples("train") == counts["train"]
  # Evaluation: the whole split, each example once, flat (the crop keeps the box).
  split = ds.eval_split
  n = ds.num_examples(split)
  (images, labels), = [(x.numpy(), y.numpy()) for x, y in ds.eval_input_fn(split, n)]
  assert labels.dtype == np.int32
  ids = _check_flat(images, labels, ds)
  direct = _read_direct(info, data_dir, info.splits[split])
  c = [(h // 2, w // 2) for h, w in (d.shape[:2] for d in direct)]
  assert sorted(ids) == sorted(_identity(d[y, x] / 255.0, ds.colors)
                               for d, (y, x) in zip(direct, c))
  # Training batches: the same content (ImageNet: its random crops, below).
  x, y = next(iter(ds.input_fn("train", 4)))
  assert x.shape == (4, *ds.image_shape) and y.dtype == tf.int32
  if not isinstance(ds, tfds_lib.ImagenetDataset):
    _check_flat(x.numpy(), y.numpy(), ds)


@pytest.mark.parametrize("crop_method", ["distorted", "zoomed"])
def test_imagenet_training_crops(crop_method, data_dir):
  import gin  # pylint: disable=g-import-not-at-top
  gin.parse_config(f"train_imagenet_transform.crop_method = '{crop_method}'")
  ds = data.get_dataset("imagenet_64", tfds_data_dir=data_dir)
  assert ds.crop_method == crop_method
  batches = [(x.numpy(), y.numpy()) for x, y in ds.input_fn("train", 10).take(3)]
  images = np.concatenate([b[0] for b in batches])
  labels = np.concatenate([b[1] for b in batches])
  # The crop centre is always in the central square (all shapes have aspect
  # <= 1.5), so the example and its label are known.
  if crop_method == "zoomed":  # a centred square inside the central square
    _check_flat(images, labels, ds)
  else:  # a square anywhere: the border shows in some crops
    _check_flat(images, labels, ds, max_off=1.0)
    c = ds.resolution // 2
    off = [np.abs(im - im[c, c]).max(axis=-1).__gt__(0.2).mean() for im in images]
    assert max(off) > 0.05
  # Evaluation is not cropped at random whatever the training crop.
  (x, y), = [(a.numpy(), b.numpy()) for a, b in ds.eval_input_fn("test", 4)]
  _check_flat(x, y, ds)


def test_lsun_resize_option(data_dir):
  ds = data.DATASETS.make("lsun_bedroom", tfds_data_dir=data_dir, resize=True)
  (x, _), = [(a.numpy(), b.numpy()) for a, b in ds.eval_input_fn("train", 4).take(1)]
  # The largest central square resized: the border of non-square images shows.
  assert x.shape == (4, 128, 128, 3)
  c = 64
  assert max(np.abs(im - im[c, c]).max(axis=-1).__gt__(0.2).mean() for im in x) > 0.05


@pytest.mark.parametrize("name", ["cifar10", "celeb_a", "lsun_bedroom", "imagenet_64"])
@pytest.mark.parametrize("subset", [{"train_examples": 3}, {"train_fraction": 0.5}])
def test_train_subset_takes_the_first_examples_of_the_tfds_order(name, subset, data_dir):
  ds = data.get_dataset(name, tfds_data_dir=data_dir, **subset)
  info = ds.tfds_info
  full = ds.num_examples("train")
  n = subset.get("train_examples") or int(round(subset["train_fraction"] * full))
  assert ds.num_train_examples == n
  direct = _read_direct(info, data_dir, info.splits["train"])[:n]
  first = sorted(_identity(d[d.shape[0] // 2, d.shape[1] // 2] / 255.0, ds.colors)
                 for d in direct)
  # A batch of n is one epoch (shuffled): exactly the first n examples.
  for x, y in ds.input_fn("train", n).take(2):
    ids = _check_flat(x.numpy(), y.numpy(), ds, max_off=1.0)
    assert sorted(ids) == first


def test_label_modes(data_dir):
  single = data.get_dataset("single_class_imagenet_128", tfds_data_dir=data_dir)
  random = data.get_dataset("random_class_imagenet_128", tfds_data_dir=data_dir)
  assert single.num_classes == 1 and random.num_classes == 1000
  _, y = next(iter(single.input_fn("train", 8)))
  assert not y.numpy().any()
  _, y = next(iter(random.input_fn("train", 10)))
  assert len(set(y.numpy())) > 1 and 0 <= y.numpy().min() and y.numpy().max() < 1000


def test_not_prepared_message_names_the_version_tfds_builds(tmp_path):
  """The command in the error builds the pinned version with installed TFDS."""
  for info in BUILDERS.values():
    with pytest.raises(data.DatasetNotFoundError) as e:
      tfds_lib.load_builder(info, str(tmp_path))
    assert f"'{info.builder}:{info.version}'" in str(e.value)


# --- One training step per name ---------------------------------------------------------


def _architecture(resolution, colors):
  if resolution == 28:
    return ['options.architecture = "infogan_arch"', "infogan.Generator.ch = 4",
            "infogan.Discriminator.ch = 4", "infogan.Generator.fc_dim = 16",
            "infogan.Discriminator.fc_dim = 16"]
  return ['options.architecture = "dcgan_arch"', "dcgan.Generator.ch = 4",
          "dcgan.Discriminator.ch = 4"]


def _train_one_step(name, data_dir, tmp_path):
  gin_clear()
  ds = data.get_dataset(name, fake=True).fake_of
  keep = [b for b in TINY_RUN if not b.startswith(("dataset.", "shapes.", "options.architecture",
                                                    "dcgan.", "eval."))]
  compare_gan2.parse_gin([], keep + _architecture(ds.resolution, ds.colors) + [
      f'dataset.name = "{name}"', "options.training_steps = 1", "options.batch_size = 2",
      "run_config.iterations_per_loop = 1", "run_config.save_checkpoints_steps = 1",
      "run_config.num_sample_images = 4", "eval.export_generator = False"])
  runner = Runner(str(tmp_path / "run"), tfds_data_dir=data_dir)
  assert runner.dataset.name == name and not hasattr(runner.dataset, "fake_of")
  assert runner.train() == 1
  assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("model.ckpt-1")


# One in the fast suite (a step is mostly tracing: 10-30 s); the rest under -m slow.
FAST_TRAIN = ("cifar10",)


@pytest.mark.parametrize("name", [n for n in FAST_TRAIN if n in NAMES])
def test_one_training_step(name, data_dir, tmp_path):
  _train_one_step(name, data_dir, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n not in FAST_TRAIN])
def test_one_training_step_slow(name, data_dir, tmp_path):
  _train_one_step(name, data_dir, tmp_path)
