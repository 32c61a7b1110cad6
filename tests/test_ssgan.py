"""SSGAN and S3GAN: rotation batches, the predictor/projection label logic and
the class loss, checked against direct computations."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.gans import S3GAN, SSGAN, make_step_inputs
from compare_gan2.gans import s3gan as s3gan_lib
from compare_gan2.gans import ssgan as ssgan_lib
from test_modular_gan import NUM_CLASSES, Z_DIM, make_gan

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


@pytest.mark.parametrize("mode,weight", [("rotation_gan", 0.2), ("rotation_only", 0.0)])
def test_ssgan_generator_loss(mode, weight):
  gan = SSGAN(**_networks("dcgan_arch"), self_supervision=mode)
  inputs = _slot(_features(gan), 1)
  fake = gan.generator(inputs["z"], None, training=True)
  metrics = gan.generator_loss(inputs["images"], None, fake, None, inputs["seeds"])
  plain = gan.adversarial_g_loss(gan.discriminator(fake, None, training=True))["g_loss"]
  n = B // 4
  h = gan.discriminator(tf.concat([fake[-n:], ssgan_lib.rotations(fake[-n:])], 0),
                        None, training=True)[2]
  rot_loss, _ = ssgan_lib.rotation_loss(gan.heads["rotation"](h),
                                        ssgan_lib.rotation_labels(n))
  assert float(metrics["g_loss"]) == pytest.approx(
      float(plain) + weight * float(rot_loss), rel=1e-4, abs=1e-6)


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


def _s3gan(**kwargs):
  return S3GAN(**_networks("resnet_biggan_arch", conditional=True), **kwargs)


def test_s3gan_class_loss_only_on_labelled_reals():
  gan = _s3gan(self_supervision="none", use_predictor=True, weight_class_loss=2.0)
  labels = np.array([0, -1, 2, -1, 1, -1, -1, 2])
  inputs = _slot(_features(gan, labels), 0)
  y_real, y_fake = gan._labels(inputs)
  np.testing.assert_array_equal(y_real.numpy()[1], 0)  # -1 is the all-zero row
  fake = gan.generator(inputs["z"], y_fake, training=True)
  real = inputs["images"]
  metrics = gan.discriminator_loss(real, y_real, fake, y_fake, inputs["seeds"])
  h = gan.discriminator(real, tf.zeros_like(y_real), training=True)[2]
  logits = gan.heads["predictor"](h).numpy()
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
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


def test_s3gan_projection_uses_prediction_for_unlabelled_reals():
  gan = _s3gan(self_supervision="none", use_predictor=True)
  rng = np.random.RandomState(1)
  x = tf.constant(rng.rand(4, 32, 32, 3).astype(np.float32))
  y = tf.constant(np.eye(NUM_CLASSES)[[0, 1, 1, 2]] * [[1], [0], [1], [1]], tf.float32)
  is_real = tf.constant([True, True, False, False])
  _, logits, h = gan.call_discriminator(x, y, is_real)
  base = gan.discriminator(x, tf.zeros_like(y), training=True)[1]
  guess = np.eye(NUM_CLASSES)[gan.heads["predictor"](h).numpy().argmax(1)]
  y_used = y.numpy().copy()
  y_used[1] = guess[1]
  emb = gan.discriminator.embedding_fc(tf.constant(y_used, tf.float32)).numpy()
  expected = base.numpy() + (emb * h.numpy()).sum(1, keepdims=True)
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_s3gan_step_with_rotation_and_errors():
  gan = _s3gan(use_predictor=True, rotated_batch_fraction=0.5)
  assert gan.rotated_per_direction(B) == 1
  metrics = gan.train_step(_features(gan, np.array([0, -1, 2, -1, 1, -1, -1, 2])))
  assert {"class_loss", "rotation_loss_real", "label_fraction"} <= set(metrics)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  with pytest.raises(ValueError, match="conditional"):
    S3GAN(**_networks("resnet_biggan_arch"), conditional=False)
  with pytest.raises(ValueError, match="projection discriminator"):
    S3GAN(**_networks("resnet_biggan_arch", conditional=True,
                      bindings=["resnet_biggan.Discriminator.project_y = False"]))
  with pytest.raises(NotImplementedError, match="soft"):
    _s3gan(use_soft_labels=True)


def _one_sgd_step(strategy, features, kwargs):
  gin.clear_config()
  with strategy.scope():
    gan = S3GAN(**_networks("resnet_biggan_arch", conditional=True, bindings=[
        "ModularGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer"]),
        g_lr=0.01, **kwargs)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(B)
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for batch in strategy.experimental_distribute_dataset(dataset):
    metrics = step(batch)
  weights = gan.discriminator.weights + gan.heads["predictor"].weights
  return {k: float(v) for k, v in metrics.items()}, [w.numpy() for w in weights]


def test_s3gan_mirrored_equals_default(mirrored_strategy):
  """The class loss is a mean over the labelled reals of the global batch."""
  kwargs = dict(self_supervision="none", use_predictor=True)
  labels = np.array([0, -1, 2, 1, 1, -1, -1, -1])  # 3 labelled on one replica, 1 on the other
  gan = _s3gan(**kwargs)
  features = _features(gan, labels)
  m1, w1 = _one_sgd_step(tf.distribute.get_strategy(), features, kwargs)
  m2, w2 = _one_sgd_step(mirrored_strategy, features, kwargs)
  assert m1["class_loss"] == pytest.approx(m2["class_loss"], rel=1e-4)
  for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-5)
