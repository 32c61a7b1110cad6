"""SSGAN and S3GAN: rotation batches, the predictor/projection label logic and
the class loss, checked against direct computations."""

import os

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.gans import S3GAN, SSGAN, make_step_inputs
from compare_gan2.gans import s3gan as s3gan_lib
from compare_gan2.gans import ssgan as ssgan_lib
from compare_gan2.core import config_files
from gan_cases import NUM_CLASSES, Z_DIM, make_gan

B = 8


def _networks(arch, conditional=False, bindings=()):
  base = make_gan(arch, conditional=conditional, bindings=bindings)
  return dict(generator=base.generator, discriminator=base.discriminator,
              num_classes=NUM_CLASSES if conditional else 0)


def _features(gan, labels=None, seed=0):
  g = gan.generator
  rng = np.random.RandomState(seed)
  images = rng.rand(B, g.resolution, g.resolution, g.colors).astype(np.float32)
  if labels is None:
    labels = rng.randint(0, max(gan.num_classes, 1), B)
  return make_step_inputs(images, labels, disc_iters=1, z_dim=Z_DIM,
                          num_classes=gan.num_classes, seed=seed)


def _slot(features, i):
  return {k: v[:, i] if k != "images" and k != "labels" else v[:, 0]
          for k, v in features.items()}


def test_rotations_and_labels():
  x = np.arange(2 * 3 * 3).reshape(2, 3, 3, 1).astype(np.float32)
  rot = ssgan_lib.rotations(tf.constant(x)).numpy()
  expected = np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in (1, 2, 3)])
  np.testing.assert_array_equal(rot, expected)
  np.testing.assert_array_equal(ssgan_lib.rotation_labels(2), [0, 0, 1, 1, 2, 2, 3, 3])
  # The original's utils.rotate_images, transcribed: 90 = flip_up_down(transpose),
  # 180 = flip_left_right(flip_up_down), 270 = transpose(flip_up_down).
  t = tf.constant(x)
  original = tf.concat([
      tf.image.flip_up_down(tf.image.transpose(t)),
      tf.image.flip_left_right(tf.image.flip_up_down(t)),
      tf.image.transpose(tf.image.flip_up_down(t))], axis=0)
  np.testing.assert_array_equal(rot, original.numpy())


def test_rotation_loss_matches_numpy():
  rng = np.random.RandomState(0)
  logits = rng.randn(8, 4).astype(np.float32)
  labels = ssgan_lib.rotation_labels(2)
  loss, acc = ssgan_lib.rotation_loss(tf.constant(logits), labels)
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  np.testing.assert_allclose(loss, -np.log(p[np.arange(8), labels.numpy()]).mean(), rtol=1e-5)
  assert float(acc) == pytest.approx((logits.argmax(1) == labels.numpy()).mean())


class _Recorder:
  """Wraps call_discriminator to record its inputs."""

  def __init__(self, gan):
    self.calls = []
    original = gan.call_discriminator

    def record(x, y, is_real):
      self.calls.append((x.numpy(), None if y is None else y.numpy(), is_real.numpy()))
      return original(x, y, is_real)

    gan.call_discriminator = record


@pytest.mark.parametrize("rotated_batch_size", [None, 4])
def test_ssgan_d_sees_rotated_last_images_with_fake_labels(rotated_batch_size):
  gan = SSGAN(**_networks("resnet_biggan_arch", conditional=True),
              conditional=True, rotated_batch_size=rotated_batch_size)
  n = 2 if rotated_batch_size is None else 1
  inputs = _slot(_features(gan), 0)
  recorder = _Recorder(gan)
  y_real, y_fake = gan._labels(inputs)
  fake = gan.generator(inputs["z"], y_fake, training=True)
  real = inputs["images"]
  metrics = gan.discriminator_loss(real, y_real, fake, y_fake, inputs["seeds"])
  x, y, is_real = recorder.calls[-1]
  expected = np.concatenate([real, ssgan_lib.rotations(real[-n:]),
                             fake, ssgan_lib.rotations(fake[-n:])])
  np.testing.assert_allclose(x, expected, atol=1e-6)
  np.testing.assert_array_equal(is_real, [True] * (B + 3 * n) + [False] * (B + 3 * n))
  # The rotated fakes carry the fake labels (the original copied the real ones).
  np.testing.assert_array_equal(y[2 * B + 3 * n:], np.tile(y_fake.numpy()[-n:], [3, 1]))
  np.testing.assert_array_equal(y[B:B + 3 * n], np.tile(y_real.numpy()[-n:], [3, 1]))
  # D loss = ModularGAN's + w_d * the rotation loss of the reals, recomputed here.
  h = gan.discriminator(tf.concat([real[-n:], ssgan_lib.rotations(real[-n:])], 0),
                        tf.tile(y_real[-n:], [4, 1]), training=True)[2]
  rot_loss, _ = ssgan_lib.rotation_loss(gan.heads["rotation"](h),
                                        ssgan_lib.rotation_labels(n))
  assert float(metrics["rotation_loss_real"]) == pytest.approx(float(rot_loss), rel=1e-5)
  base = gan.adversarial_d_loss(
      gan.discriminator(real, y_real, training=True),
      gan.discriminator(fake, y_fake, training=True), real, y_real, fake,
      inputs["seeds"], None)
  assert float(metrics["d_loss"]) == pytest.approx(
      float(base["d_loss"]) + 1.0 * float(rot_loss), rel=1e-5)


def _np_rotation_ce(logits, n):
  """The original's rotation loss written out: labels [0]*n + [1]*n + [2]*n +
  [3]*n, -mean(log(softmax + 1e-10)) of the true class."""
  logits = np.asarray(logits, np.float64)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  labels = np.repeat(np.arange(4), n)
  return -np.mean(np.log(p[np.arange(4 * n), labels] + 1e-10))


def _rotation_logits(gan, images, y, n):
  """Head logits of the last n images and their 90/180/270 rotations (numpy
  rotations), in label order."""
  x = np.asarray(images)[-n:]
  rotated = np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(4)])
  yy = None if y is None else tf.tile(y[-n:], [4, 1])
  h = gan.discriminator(tf.constant(rotated), yy, training=True)[2]
  return gan.heads["rotation"](h).numpy()


@pytest.mark.parametrize("mode,gan_weight,rotation_weight", [
    ("rotation_gan", 1.0, 0.2), ("rotation_d_only", 1.0, 0.0), ("rotation_only", 0.0, 0.2)])
def test_ssgan_generator_loss(mode, gan_weight, rotation_weight):
  """rotation_only (the original's): G minimises w_g * CE of its rotated fakes
  alone; rotation_d_only: the GAN loss alone."""
  gan = SSGAN(**_networks("dcgan_arch"), self_supervision=mode,
              weight_rotation_loss_g=0.2)
  inputs = _slot(_features(gan), 1)
  fake = gan.generator(inputs["z"], None, training=True)
  metrics = gan.generator_loss(inputs["images"], None, fake, None, inputs["seeds"])
  plain = gan.adversarial_g_loss(gan.discriminator(fake, None, training=True))["g_loss"]
  ce = _np_rotation_ce(_rotation_logits(gan, fake, None, B // 4), B // 4)
  assert float(metrics["g_loss"]) == pytest.approx(
      gan_weight * float(plain) + rotation_weight * ce, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("mode", ["rotation_only", "rotation_d_only", "rotation_gan"])
def test_ssgan_discriminator_loss_by_mode(mode):
  """With a WGAN-GP penalty (lamba 10): rotation_only's D loss is exactly
  w_d * CE of the rotated reals, no GAN loss and no penalty (the original's
  d_loss *= 0 after the penalty); the others add the GAN loss and penalty."""
  gin.parse_config(["penalty.fn = @wgangp_penalty"])
  gan = SSGAN(**_networks("dcgan_arch"), self_supervision=mode, lamba=10.0,
              weight_rotation_loss_d=0.7)
  inputs = _slot(_features(gan), 0)
  fake = gan.generator(inputs["z"], None, training=True)
  real = inputs["images"]
  metrics = gan.discriminator_loss(real, None, fake, None, inputs["seeds"])
  ce = _np_rotation_ce(_rotation_logits(gan, real, None, B // 4), B // 4)
  base = gan.adversarial_d_loss(
      gan.discriminator(real, None, training=True),
      gan.discriminator(fake, None, training=True), real, None, fake,
      inputs["seeds"], None)
  assert float(base["penalty"]) > 0.01
  adversarial = 0.0 if mode == "rotation_only" else float(base["d_loss"])
  assert float(metrics["d_loss"]) == pytest.approx(adversarial + 0.7 * ce, rel=1e-5)
  if mode == "rotation_only":
    # Only the rotation head and D get gradients, from the rotation loss.
    variables = gan.d_variables
    with tf.GradientTape() as tape:
      d_loss = gan.discriminator_loss(real, None, fake, None, inputs["seeds"])["d_loss"]
    grads = tape.gradient(d_loss, variables)
    assert any(g is not None for g in grads)


def test_ssgan_self_supervision_names():
  assert SSGAN(**_networks("dcgan_arch"), self_supervision=None).self_supervision == "none"
  with pytest.raises(ValueError, match=r"self_supervision must be one of .*rotation_d_only"
                                       r".*Received: 'rotation_g_only'"):
    SSGAN(**_networks("dcgan_arch"), self_supervision="rotation_g_only")


def test_ssgan_trains_heads_and_checkpoints_them(tmp_path):
  gan = SSGAN(**_networks("dcgan_arch"))
  head = gan.heads["rotation"]
  before = [v.numpy().copy() for v in head.trainable_variables]
  metrics = gan.train_step(_features(gan))
  assert {"rotation_loss_real", "rotation_accuracy_real", "rotation_loss_fake"} <= set(metrics)
  assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, head.trainable_variables))
  assert set(map(id, head.trainable_variables)) <= set(map(id, gan.d_variables))
  path = tf.train.Checkpoint(**gan.checkpoint_items()).write(str(tmp_path / "c"))
  fresh = SSGAN(**_networks("dcgan_arch"))
  tf.train.Checkpoint(**fresh.checkpoint_items()).read(path).assert_consumed()
  for a, b in zip(head.weights, fresh.heads["rotation"].weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_ssgan_none_is_modular_gan_and_errors():
  gan = SSGAN(**_networks("dcgan_arch"), self_supervision="none")
  assert not gan.heads
  with pytest.raises(ValueError, match="self_supervision"):
    SSGAN(**_networks("dcgan_arch"), self_supervision="rotation")
  with pytest.raises(ValueError, match="multiple of 4"):
    SSGAN(**_networks("dcgan_arch"), rotated_batch_size=6)
  gan = SSGAN(**_networks("dcgan_arch"), rotated_batch_size=64)
  with pytest.raises(ValueError, match="the batch has 8"):
    gan.train_step(_features(gan))


# --- S3GAN ------------------------------------------------------------------------

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
