"""S3GAN: the predictor/projection label logic, the class loss on labelled reals,
the heads, the rotated part of the batch, checked against direct computations."""

import os

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.gans import S3GAN
from compare_gan2.gans import s3gan as s3gan_lib
from compare_gan2.core import config_files
from gan_cases import NUM_CLASSES
from test_ssgan import B, _features, _networks, _slot


def test_projection_labels_logic():
  y = tf.constant([[0, 1, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]], tf.float32)
  is_real = tf.constant([True, True, False, False])
  pred = tf.constant([[5, 0, 0], [0, 0, 3], [3, 0, 0], [0, 4, 0]], tf.float32)
  hard = s3gan_lib.projection_labels(y, is_real, pred, soft=False).numpy()
  # Labelled rows keep their label; the unlabelled real gets the argmax;
  # an all-zero fake row stays zero (fakes always carry their sampled labels).
  np.testing.assert_array_equal(hard, [[0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]])
  soft = s3gan_lib.projection_labels(y, is_real, pred, soft=True).numpy()
  e = np.exp([0, 0, 3.0])
  np.testing.assert_allclose(soft[1], e / e.sum(), rtol=1e-6)
  np.testing.assert_array_equal(soft[[0, 2, 3]], hard[[0, 2, 3]])
  with tf.GradientTape() as tape:
    tape.watch(pred)
    out = s3gan_lib.projection_labels(y, is_real, pred, soft=True)
  assert tape.gradient(out, pred) is None  # no gradient into the predictor


def _s3gan(bindings=(), **kwargs):
  kwargs.setdefault("project_y", True)
  bindings = ["resnet_biggan.Discriminator.project_y = False", *bindings]
  return S3GAN(**_networks("resnet_biggan_arch", conditional=True, bindings=bindings),
               **kwargs)


def _np_softmax(logits):
  logits = np.asarray(logits, np.float64)
  p = np.exp(logits - logits.max(1, keepdims=True))
  return p / p.sum(1, keepdims=True)


def test_s3gan_class_loss_only_on_labelled_reals():
  gan = _s3gan(self_supervision="none", use_predictor=True, weight_class_loss=2.0)
  labels = np.array([0, -1, 2, -1, 1, -1, -1, 2])
  inputs = _slot(_features(gan, labels), 0)
  y_real, y_fake = gan._labels(inputs)
  np.testing.assert_array_equal(y_real.numpy()[1], 0)  # -1 is the all-zero row
  fake = gan.generator(inputs["z"], y_fake, training=True)
  real = inputs["images"]
  metrics = gan.discriminator_loss(real, y_real, fake, y_fake, inputs["seeds"])
  h = gan.discriminator(real, y_real, training=True)[2]
  logits = gan.heads["predictor"](h).numpy()
  p = _np_softmax(logits)
  mask = labels >= 0
  expected = -np.log(p[mask, labels[mask]]).mean()
  assert float(metrics["class_loss"]) == pytest.approx(expected, rel=1e-5)
  assert float(metrics["label_fraction"]) == pytest.approx(mask.mean())
  assert float(metrics["class_accuracy_real"]) == pytest.approx(
      (logits.argmax(1)[mask] == labels[mask]).mean())
  # d_loss = adversarial + 2 * class loss.
  without = _s3gan(self_supervision="none", use_predictor=False)
  assert "class_loss" not in without.discriminator_loss(
      real, y_real, fake, y_fake, inputs["seeds"])


def _s3gan_inputs(seed=1):
  rng = np.random.RandomState(seed)
  x = tf.constant(rng.rand(4, 32, 32, 3).astype(np.float32))
  y = tf.constant(np.eye(NUM_CLASSES)[[0, 1, 1, 2]] * [[1], [0], [1], [1]], tf.float32)
  return x, y, tf.constant([True, True, False, False])


def _np_projection(gan, y, h):
  """sum(y K * h) with S3GAN's own embedding K, written out in numpy."""
  kernel = gan.heads["projection"].normalized_kernel(training=False).numpy()
  return (np.asarray(y, np.float64) @ kernel * np.asarray(h, np.float64)).sum(1, keepdims=True)


def test_s3gan_projection_uses_prediction_for_unlabelled_reals():
  gan = _s3gan(self_supervision="none", use_predictor=True)
  assert gan.discriminator.embedding_fc is None
  x, y, is_real = _s3gan_inputs()
  _, logits, h = gan.call_discriminator(x, y, is_real)
  base = gan.discriminator(x, y, training=True)[1]
  guess = np.eye(NUM_CLASSES)[gan.heads["predictor"](h).numpy().argmax(1)]
  y_used = y.numpy().copy()
  y_used[1] = guess[1]
  expected = base.numpy() + _np_projection(gan, y_used, h.numpy())
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_s3gan_project_y_false_keeps_the_architecture_projection():
  """The original: without S3GAN.project_y, D is called with the labels as
  given and its own projection (if any) is all there is; unlabelled reals
  (all-zero rows) get no projection term."""
  gan = S3GAN(**_networks("resnet_biggan_arch", conditional=True),
              self_supervision="none")
  assert not gan.project_y and "projection" not in gan.heads
  x, y, is_real = _s3gan_inputs()
  probs, logits, h = gan.call_discriminator(x, y, is_real)
  d = gan.discriminator
  # D's own projection, recomputed: final_fc(h) + sum(embed(y) * h).
  final = d.final_fc(h).numpy()
  embed = d.embedding_fc.normalized_kernel(training=False).numpy()
  expected = final + (y.numpy() @ embed * h.numpy()).sum(1, keepdims=True)
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(logits[1], final[1], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(probs, 1 / (1 + np.exp(-expected)), rtol=1e-5)


def test_s3gan_project_y_with_the_architecture_projection_adds_both():
  """The original's S3GAN.project_y on a D with its own projection: two terms."""
  gan = S3GAN(**_networks("resnet_biggan_arch", conditional=True),
              self_supervision="none", project_y=True)
  x, y, is_real = _s3gan_inputs()
  _, logits, h = gan.call_discriminator(x, y, is_real)
  base = gan.discriminator(x, y, training=True)[1].numpy()
  np.testing.assert_allclose(logits, base + _np_projection(gan, y.numpy(), h.numpy()),
                             rtol=1e-5, atol=1e-5)
  kernel = gan.heads["projection"].kernel
  assert tuple(kernel.shape) == (NUM_CLASSES, int(h.shape[-1]))
  assert not gan.heads["projection"].use_bias


def _top_singular_value(layer, iterations=50):
  for _ in range(iterations):  # each training call is one power iteration
    kernel = layer.normalized_kernel(training=True)
  return float(np.linalg.svd(kernel.numpy(), compute_uv=False)[0])


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_s3gan_heads_are_spectrally_normalised_with_d(spectral_norm):
  """The original builds the predictor, the projection and the rotation head
  with use_sn = D's spectral norm."""
  gan = _s3gan(bindings=[f"D.spectral_norm = {spectral_norm}"], use_predictor=True)
  assert gan.discriminator.spectral_norm == spectral_norm
  for name in ("predictor", "projection", "rotation"):
    head = gan.heads[name]
    assert head.use_sn == spectral_norm, name
    sigma = _top_singular_value(head)
    raw = float(np.linalg.svd(head.kernel.numpy(), compute_uv=False)[0])
    if spectral_norm:
      assert sigma == pytest.approx(1.0, abs=1e-3), name
      assert abs(raw - 1.0) > 0.05, name  # the raw kernel is not normalised
    else:
      assert sigma == pytest.approx(raw, rel=1e-6), name
  assert gan.heads["predictor"].use_bias


def test_s3gan_penalty_only_with_use_penalty():
  """The original S3GAN never evaluates penalty.fn; `use_penalty` adds it."""
  gin.parse_config(["penalty.fn = @wgangp_penalty"])
  labels = np.array([0, -1, 2, -1, 1, -1, -1, 2])
  losses = {}
  for use_penalty in (False, True):
    gan = _s3gan(self_supervision="none", use_predictor=True, use_penalty=use_penalty,
                 lamba=10.0)
    inputs = _slot(_features(gan, labels), 0)
    y_real, y_fake = gan._labels(inputs)
    fake = gan.generator(inputs["z"], y_fake, training=True)
    real = inputs["images"]
    metrics = gan.discriminator_loss(real, y_real, fake, y_fake, inputs["seeds"])
    d_real, d_fake = gan.run_discriminator(real, y_real, fake, y_fake)
    # The GAN loss (non-saturating) written out, plus the class loss.
    lr, lf = d_real[1].numpy(), d_fake[1].numpy()
    softplus = lambda t: np.log1p(np.exp(-np.abs(t))) + np.maximum(t, 0)
    gan_loss = np.mean(softplus(-lr)) + np.mean(softplus(lf))
    losses[use_penalty] = (float(metrics["d_loss"]), gan_loss, float(metrics["class_loss"]),
                           float(metrics["penalty"]))
  d_loss, gan_loss, class_loss, penalty = losses[False]
  assert penalty == 0.0
  assert d_loss == pytest.approx(gan_loss + class_loss, rel=1e-5)
  d_loss, gan_loss, class_loss, penalty = losses[True]
  assert penalty > 0.01
  assert d_loss == pytest.approx(gan_loss + class_loss + 10.0 * penalty, rel=1e-5)


@pytest.mark.parametrize("batch,divisor,fraction,n", [
    (8, 2, 0.5, 1), (16, 2, 0.5, 2), (16, 4, 0.25, 1), (64, 4, 0.25, 4), (64, 1, 1.0, 16)])
def test_rotated_batch_fraction_divisor_and_fraction(batch, divisor, fraction, n):
  """The original: rotated_bs = batch // k, n = rotated_bs // 4 per direction."""
  assert (batch // divisor) // 4 == n  # the original's arithmetic
  assert s3gan_lib.rotated_per_direction(batch, divisor) == n
  assert s3gan_lib.rotated_per_direction(batch, fraction) == n
  assert s3gan_lib.rotated_per_direction(batch, np.int64(divisor)) == n


def test_rotated_batch_fraction_errors():
  for bad in (0, -2, 1.5, 0.0, True, "2", None):
    with pytest.raises(ValueError, match="rotated_batch_fraction must be an integer"):
      s3gan_lib.check_rotated_batch_fraction(bad)
  with pytest.raises(ValueError, match="must divide the per-replica batch size 8"):
    s3gan_lib.rotated_per_direction(8, 3)
  with pytest.raises(ValueError, match="fewer than the 4"):
    s3gan_lib.rotated_per_direction(8, 4)
  with pytest.raises(ValueError, match="rotated_batch_fraction"):
    _s3gan(rotated_batch_fraction=2.0)


def test_s3gan_step_with_rotation_and_errors():
  gan = _s3gan(use_predictor=True, rotated_batch_fraction=2)
  assert gan.rotated_per_direction(B) == 1
  metrics = gan.train_step(_features(gan, np.array([0, -1, 2, -1, 1, -1, -1, 2])))
  assert {"class_loss", "rotation_loss_real", "label_fraction"} <= set(metrics)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  with pytest.raises(ValueError, match="conditional"):
    S3GAN(**_networks("resnet_biggan_arch"), conditional=False)
  with pytest.raises(ValueError, match="use_predictor needs S3GAN.project_y"):
    _s3gan(use_predictor=True, project_y=False)
  with pytest.raises(NotImplementedError, match="soft"):
    _s3gan(use_soft_labels=True)


def test_s3gan_defaults_and_ssgan_bindings_do_not_leak():
  """Original defaults (project_y False, weights 1.0 / 0.2), and `SSGAN.*`
  bindings leave S3GAN alone (the original's S3GAN is not an SSGAN)."""
  gin.parse_config(["SSGAN.weight_rotation_loss_d = 5.0",
                    "SSGAN.weight_rotation_loss_g = 3.0",
                    "SSGAN.rotated_batch_size = 12"])
  gan = S3GAN(**_networks("resnet_biggan_arch", conditional=True))
  assert (gan.project_y, gan.use_predictor, gan.use_penalty) == (False, False, False)
  assert (gan.weight_rotation_loss_d, gan.weight_rotation_loss_g) == (1.0, 0.2)
  assert gan.rotated_per_direction(B) == 1  # 0.25 of 8 -> 2 images -> max(1, 0)
  gin.parse_config(["S3GAN.weight_rotation_loss_d = 0.5"])
  assert S3GAN(**_networks("resnet_biggan_arch", conditional=True)
               ).weight_rotation_loss_d == 0.5


def _one_sgd_step(strategy, features, kwargs):
  gin.clear_config()
  with strategy.scope():
    gan = S3GAN(**_networks("resnet_biggan_arch", conditional=True, bindings=[
        "ModularGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "resnet_biggan.Discriminator.project_y = False"]),
        g_lr=0.01, **kwargs)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(B)
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for batch in strategy.experimental_distribute_dataset(dataset):
    metrics = step(batch)
  weights = gan.discriminator.weights + gan.heads["predictor"].weights
  return {k: float(v) for k, v in metrics.items()}, [w.numpy() for w in weights]


def test_s3gan_mirrored_equals_default(mirrored_strategy):
  """The class loss is a mean over the labelled reals of the global batch."""
  kwargs = dict(self_supervision="none", use_predictor=True, project_y=True)
  labels = np.array([0, -1, 2, 1, 1, -1, -1, -1])  # 3 labelled on one replica, 1 on the other
  gan = _s3gan(**kwargs)
  features = _features(gan, labels)
  m1, w1 = _one_sgd_step(tf.distribute.get_strategy(), features, kwargs)
  m2, w2 = _one_sgd_step(mirrored_strategy, features, kwargs)
  assert m1["class_loss"] == pytest.approx(m2["class_loss"], rel=1e-4)
  for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-5)


def _fewer_labels_configs():
  from compare_gan2 import cli
  folder = os.path.dirname(config_files.resolve_config("fewer_labels/digits_base"))
  return sorted(f[:-4] for f in os.listdir(folder)
                if f.endswith(".gin") and "_base" not in f)


@pytest.mark.parametrize("name", _fewer_labels_configs())
def test_fewer_labels_configs_keep_one_projection(name):
  """With S3GAN.project_y the shipped configs switch the architecture's own
  projection off, so D has S3GAN's projection only (one term, as the paper)."""
  from compare_gan2 import cli
  from compare_gan2.core import config
  from compare_gan2.core.registry import GANS
  from compare_gan2.runner import Runner  # noqa: F401  (registers run_config, eval)
  compare_gan2.parse_gin([config_files.resolve_config(f"fewer_labels/{name}")], [])
  options = config.options()
  try:
    project_y = gin.query_parameter("S3GAN.project_y")
  except ValueError:
    project_y = False
  if GANS.name_of(options["gan_class"]) != "S3GAN" or not project_y:
    return
  arch = options["architecture"].removesuffix("_arch")
  assert gin.query_parameter(f"{arch}.Discriminator.project_y") is False, name
