"""SSGAN: rotation batches and the rotation losses, checked against direct
computations (S3GAN: test_s3gan.py)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.gans import SSGAN, make_step_inputs
from compare_gan2.gans import ssgan as ssgan_lib
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
