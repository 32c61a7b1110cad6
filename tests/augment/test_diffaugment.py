"""DiffAugment: each op against its formula, and the GAN steps feeding D
augmented images."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.augment import diffaugment as augment
from compare_gan2 import architectures
from compare_gan2.gans import ModularGAN, ProgressiveGAN, SSGAN, make_step_inputs
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import UnknownNameError
from gan_cases import make_gan, step_inputs

B, H, W, C = 6, 8, 8, 3


def _images(seed=0, lo=-1.0, hi=1.0):
  rng = np.random.RandomState(seed)
  return tf.constant(rng.uniform(lo, hi, [B, H, W, C]).astype(np.float32))


def _seeds(seed=0):
  rng = np.random.RandomState(seed)
  return tf.constant(rng.randint(0, 2**30, [B, 2]).astype(np.int32))


def _u(seeds, salt):
  return per_example_uniform(seeds, [1, 1, 1], salt).numpy()


def _shift_np(x, dy, dx):
  out = np.zeros_like(x)
  h, w = x.shape[:2]
  for i in range(h):
    for j in range(w):
      if 0 <= i - dy < h and 0 <= j - dx < w:
        out[i, j] = x[i - dy, j - dx]
  return out


def test_brightness_saturation_contrast_match_formulas():
  x, seeds = _images(), _seeds()
  xn = x.numpy()
  u = _u(seeds, 5)
  np.testing.assert_allclose(augment.brightness(x, seeds, 5), xn + u - 0.5, atol=1e-6)
  m = xn.mean(axis=3, keepdims=True)
  np.testing.assert_allclose(augment.saturation(x, seeds, 5), (xn - m) * 2 * u + m,
                             atol=1e-6)
  m = xn.mean(axis=(1, 2, 3), keepdims=True)
  np.testing.assert_allclose(augment.contrast(x, seeds, 5), (xn - m) * (u + 0.5) + m,
                             atol=1e-6)


def test_color_is_the_three_ops_with_their_own_draws():
  x, seeds = _images(), _seeds()
  expected = augment.contrast(augment.saturation(
      augment.brightness(x, seeds, 7), seeds, 8), seeds, 9)
  np.testing.assert_allclose(augment.color(x, seeds, 7), expected, atol=1e-6)
  # The three draws differ (else the ops would be correlated).
  assert len({float(_u(seeds, s)[0].squeeze()) for s in (7, 8, 9)}) == 3


def test_translation_moves_whole_pixels_with_zero_fill():
  x, seeds = _images(), _seeds()
  s = int(H * 0.125 + 0.5)
  out = augment.translation(x, seeds, 3).numpy()
  offsets = []
  for b in range(B):
    matches = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)
               if np.array_equal(out[b], _shift_np(x.numpy()[b], dy, dx))]
    assert len(matches) == 1, f"example {b} is not a shift within {s} pixels"
    offsets.append(matches[0])
  assert len(set(offsets)) > 1, "every example got the same shift"


def test_shift_images_exact():
  x = _images()
  offsets = tf.constant([[1, -2], [0, 0], [-3, 3], [7, 0], [0, -7], [2, 2]], tf.int32)
  out = augment.shift_images(x, offsets).numpy()
  for b, (dy, dx) in enumerate(offsets.numpy()):
    np.testing.assert_array_equal(out[b], _shift_np(x.numpy()[b], dy, dx))


def test_cutout_zeroes_one_square_of_the_documented_side():
  x = tf.ones([64, 16, 16, 1]) * 0.5
  seeds = tf.stack([tf.range(64), tf.range(64) * 3], axis=1)
  out = augment.cutout(x, seeds, 0, ratio=0.25).numpy()[..., 0]
  side = int(16 * 0.25 + 0.5)
  full = 0
  for img in out:
    assert set(np.unique(img)) <= {0.0, 0.5}
    rows, cols = np.nonzero(img == 0)
    assert len(rows) > 0
    # One axis-aligned rectangle, at most side x side (clipped at the border).
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert h <= side and w <= side and len(rows) == h * w
    full += (h == side and w == side)
  assert full > 0


def test_cutout_mask_clips_at_the_border():
  mask = augment.cutout_mask((8, 8), tf.constant([[0, 7]]), (4, 4)).numpy()[0, ..., 0]
  expected = np.ones([8, 8], np.float32)
  expected[0:2, 5:8] = 0
  np.testing.assert_array_equal(mask, expected)


def test_gradients_flow_to_the_input():
  x, seeds = _images(), _seeds()
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = augment.diff_augment(x, "color,translation,cutout", seeds, 1)
    loss = tf.reduce_sum(y)
  grad = tape.gradient(loss, x)
  assert grad is not None and np.abs(grad.numpy()).sum() > 0
  # Translation alone: the gradient is 1 where a pixel survives the shift.
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = augment.translation(x, seeds, 1)
  grad = tape.gradient(y, x, output_gradients=tf.ones_like(y)).numpy()
  assert set(np.unique(grad)) <= {0.0, 1.0}
  np.testing.assert_array_equal(grad.sum(axis=(1, 2, 3)),
                                (y.numpy() != 0).sum(axis=(1, 2, 3)))


def test_zero_one_range_scales_magnitudes():
  x01 = (_images() + 1) / 2
  seeds = _seeds()
  u = _u(seeds, 1000)  # op 0 of salt 1 draws with salt 1 * 1000 + 0
  out = augment.diff_augment(x01, "brightness", seeds, 1, data_range=(0.0, 1.0))
  np.testing.assert_allclose(out, x01.numpy() + (u - 0.5) / 2, atol=1e-6)
  # A vacated pixel reads the middle of the range, as 0 does in [-1, 1].
  out = augment.diff_augment(tf.ones([1, 8, 8, 1]), "cutout", seeds[:1], 1,
                             data_range=(0.0, 1.0)).numpy()
  assert set(np.unique(out)) == {0.5, 1.0}


# --- Transcription of the originals' op sequence ---------------------------
# DiffAugment_tf.py (the ImageNet fork) and DiffAugment-biggan-cifar/
# DiffAugment_pytorch.py share these formulas; the draws are ours (per example,
# from the seeds), fed to a numpy transcription of each original op.


def _ints_np(seeds, salt, low, high):
  """Our (row, col) draw: the k-th integer uniform in [low[k], high[k])."""
  low, high = np.asarray(low), np.asarray(high)
  u = per_example_uniform(seeds, [2], salt).numpy()
  return np.minimum(low + np.floor(u * (high - low)).astype(np.int64), high - 1)


def _translation_np(x, tx, ty, ratio=0.125):
  """rand_translation: gather from the image padded by one zero pixel at
  clip(i + t + 1, 0, size + 1), first along H, then along W."""
  b, h, w, _ = x.shape
  sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
  assert np.all(np.abs(tx) <= sx) and np.all(np.abs(ty) <= sy)
  out = np.empty_like(x)
  for n in range(b):
    pad = np.pad(x[n], [[1, 1], [0, 0], [0, 0]])
    rows = np.clip(np.arange(h) + tx[n] + 1, 0, h + 1)
    img = pad[rows]
    pad = np.pad(img, [[0, 0], [1, 1], [0, 0]])
    cols = np.clip(np.arange(w) + ty[n] + 1, 0, w + 1)
    out[n] = pad[:, cols]
  return out


def _cutout_np(x, ox, oy, ratio=0.5):
  """rand_cutout: ones scattered at clip(offset + arange(size) - size // 2,
  0, image size - 1), mask = max(1 - scattered, 0)."""
  b, h, w, _ = x.shape
  cx, cy = int(h * ratio + 0.5), int(w * ratio + 0.5)
  assert np.all(ox < h + 1 - cx % 2) and np.all(oy < w + 1 - cy % 2)
  out = np.empty_like(x)
  for n in range(b):
    hits = np.zeros([h, w])
    rows = np.clip(ox[n] + np.arange(cx) - cx // 2, 0, h - 1)
    cols = np.clip(oy[n] + np.arange(cy) - cy // 2, 0, w - 1)
    for r in rows:
      for c in cols:
        hits[r, c] += 1
    out[n] = x[n] * np.maximum(1 - hits, 0)[..., None]
  return out


def _original_np(x, seeds, salt):
  """The originals' "color,translation,cutout" on x, with our draws."""
  base = [salt * 1000 + i * 10 for i in range(3)]
  m = [_u(seeds, base[0] + k) for k in range(3)]
  x = x + (m[0] - 0.5)                                        # rand_brightness
  mean = x.mean(axis=3, keepdims=True)
  x = (x - mean) * (m[1] * 2) + mean                          # rand_saturation
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  x = (x - mean) * (m[2] + 0.5) + mean                        # rand_contrast
  h, w = x.shape[1:3]
  # Per axis, as the originals: shift[k] = int(size[k] * ratio + 0.5).
  sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
  # Ours moves by +d (out[i] = x[i - d]); the original reads x[i + t]: t = -d.
  shift = _ints_np(seeds, base[1], (-sh, -sw), (sh + 1, sw + 1))
  x = _translation_np(x, -shift[:, 0], -shift[:, 1])
  ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
  offset = _ints_np(seeds, base[2], (0, 0), (h + 1 - ch % 2, w + 1 - cw % 2))
  return _cutout_np(x, offset[:, 0], offset[:, 1])


POLICY = "color,translation,cutout"


def test_tf_fork_sequence_on_unit_images():
  """map_to_symmetric=False: DiffAugment_tf.py on compare_gan's [0, 1] images
  as the ImageNet fork applied it (modular_gan.py create_loss)."""
  x01 = (_images(3) + 1) / 2
  seeds = _seeds(3)
  out = augment.diff_augment(x01, POLICY, seeds, 2, data_range=(0.0, 1.0),
                             map_to_symmetric=False).numpy()
  np.testing.assert_allclose(out, _original_np(x01.numpy(), seeds, 2), atol=1e-5)


@pytest.mark.parametrize("symmetric", [False, True])
def test_original_sequence_on_non_square_images(symmetric):
  """A 32x64 batch: the originals translate and cut out per axis (height for
  rows, width for columns); the expected values come from the transcription."""
  rng = np.random.RandomState(5)
  x01 = rng.uniform(0, 1, [B, 32, 64, C]).astype(np.float32)
  seeds = _seeds(5)
  out = augment.diff_augment(tf.constant(x01), POLICY, seeds, 2,
                             data_range=(0.0, 1.0),
                             map_to_symmetric=symmetric).numpy()
  if symmetric:
    expected = (_original_np(x01 * 2 - 1, seeds, 2) + 1) / 2
  else:
    expected = _original_np(x01, seeds, 2)
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_non_square_translation_and_cutout_use_each_axis():
  """32x64: column shifts reach int(64 / 8 + 0.5) = 8 (rows at most 4), and
  an unclipped cutout is 16 rows by 32 columns."""
  x = tf.ones([256, 32, 64, 1])
  seeds = tf.stack([tf.range(256), tf.range(256) * 7 + 1], axis=1)
  ones = tf.ones([256, 32, 64, 1])
  moved = augment.translation(x, seeds, 0).numpy()[..., 0]
  # Zero-filled rows/columns count the shift along each axis.
  dy = 32 - moved.any(axis=2).sum(axis=1)
  dx = 64 - moved.any(axis=1).sum(axis=1)
  assert dy.max() == 4 and dx.max() == 8
  cut = augment.cutout(ones, seeds, 0).numpy()[..., 0]
  sizes = set()
  for img in cut:
    rows, cols = np.nonzero(img == 0)
    sizes.add((rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
  assert max(sizes) == (16, 32) and all(h <= 16 and w <= 32 for h, w in sizes)


def test_pytorch_sequence_on_symmetric_images():
  """map_to_symmetric=True: DiffAugment_pytorch.py on [-1, 1] images (the
  BigGAN-CIFAR code normalises with mean 0.5, std 0.5), seen in [0, 1]."""
  x01 = (_images(4) + 1) / 2
  seeds = _seeds(4)
  out = augment.diff_augment(x01, POLICY, seeds, 2, data_range=(0.0, 1.0),
                             map_to_symmetric=True).numpy()
  expected = (_original_np(x01.numpy() * 2 - 1, seeds, 2) + 1) / 2
  np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("symmetric,fill,shift", [(True, 0.5, 0.25), (False, 0.0, 0.5)])
def test_fill_and_brightness_range_of_both_settings(symmetric, fill, shift):
  gin.parse_config([f"DiffAugment.map_to_symmetric = {symmetric}",
                    "DiffAugment.policy = 'cutout'"])
  aug = augment.DiffAugment()
  assert aug.map_to_symmetric is symmetric
  seeds = tf.stack([tf.range(64), tf.range(64) * 7], axis=1)
  out = aug(tf.ones([64, 8, 8, 1]), seeds, 1).numpy()
  assert set(np.unique(out)) == {fill, 1.0}
  x = tf.fill([64, 2, 2, 1], 0.5)
  moved = augment.diff_augment(x, "brightness", seeds, 1, data_range=(0.0, 1.0),
                               map_to_symmetric=symmetric).numpy() - 0.5
  assert moved.min() >= -shift and moved.max() < shift
  assert moved.min() < -0.8 * shift and moved.max() > 0.8 * shift


def test_map_to_symmetric_must_be_bool():
  with pytest.raises(ValueError, match="map_to_symmetric"):
    augment.DiffAugment(policy="cutout", map_to_symmetric="no")


def test_independent_of_batch_split_and_same_under_xla():
  x, seeds = _images(), _seeds()
  policy = "color,translation,cutout"
  whole = augment.diff_augment(x, policy, seeds, 2).numpy()
  halves = np.concatenate([augment.diff_augment(x[:3], policy, seeds[:3], 2),
                           augment.diff_augment(x[3:], policy, seeds[3:], 2)])
  np.testing.assert_array_equal(whole, halves)
  xla = tf.function(lambda a, s: augment.diff_augment(a, policy, s, 2),
                    jit_compile=True)(x, seeds)
  np.testing.assert_allclose(xla, whole, atol=1e-5)
  other = augment.diff_augment(x, policy, seeds, 3).numpy()
  assert not np.allclose(other, whole), "the salt must change the draws"


def test_policy_errors_and_empty_policy():
  with pytest.raises(UnknownNameError, match="translation"):
    augment.parse_policy("color,translaton")
  x = _images()
  assert augment.diff_augment(x, "", _seeds()) is x
  with pytest.raises(ValueError, match="shape"):
    augment.diff_augment(x[0], "color", _seeds())


def test_gin_policy_and_options():
  gin.parse_config(["DiffAugment.policy = 'translation, cutout'",
                    "cutout.ratio = 0.25"])
  aug = augment.DiffAugment()
  assert aug.policy == "translation,cutout" and bool(aug)
  assert not augment.DiffAugment(policy="")
  x = tf.ones([1, 16, 16, 1])
  out = aug(x, tf.constant([[1, 2]]), 0).numpy()
  assert (out == 0.5).sum() <= 16 + 4 * 16 * 2  # a 4x4 cutout plus shifted rows/cols


class _Recording:
  """Mixin: records what the losses receive (eager steps)."""

  def discriminator_loss(self, real, y_real, fake, y_fake, seeds, penalty_images=None):
    self.seen["d"] = (real.numpy(), fake.numpy(), penalty_images)
    return super().discriminator_loss(real, y_real, fake, y_fake, seeds,
                                      penalty_images=penalty_images)

  def generator_loss(self, real, y_real, fake, y_fake, seeds):
    self.seen["g"] = (real.numpy(), fake.numpy())
    return super().generator_loss(real, y_real, fake, y_fake, seeds)


def _recording_gan(gan_class, bindings=()):
  if gan_class is ProgressiveGAN:
    gin.parse_config(list(bindings))
    g, d = architectures.build("progan_arch", resolution=16, colors=3, z_dim=16,
                               num_classes=0)
  else:
    base = make_gan("sndcgan_arch", bindings=bindings)
    g, d = base.generator, base.discriminator
  gan = type("Recording" + gan_class.__name__, (_Recording, gan_class), {})(
      generator=g, discriminator=d)
  gan.seen = {}
  return gan


@pytest.mark.parametrize("gan_class,on_augmented", [
    (ModularGAN, True), (ModularGAN, False), (SSGAN, True), (ProgressiveGAN, True)])
def test_d_and_g_steps_see_augmented_images(gan_class, on_augmented):
  policy = "color,translation,cutout"
  gan = _recording_gan(gan_class, [
      f"DiffAugment.policy = '{policy}'",
      f"DiffAugment.penalty_on_augmented = {on_augmented}",
      "penalty.fn = @dragan_penalty"])
  assert gan.augmentation.policy == policy
  features = step_inputs(gan)
  g_before = gan.generator(features["z"][:, 1], None, training=True).numpy()
  gan.train_step(features)

  def aug(images, slot, salt):
    return augment.diff_augment(images, policy, features["seeds"][:, slot], salt,
                                data_range=(0.0, 1.0)).numpy()

  # ProGAN fades the reals to the current level first (prepare_reals).
  reals = gan.prepare_reals(features["images"][:, 0])
  d_real, d_fake, penalty_images = gan.seen["d"]
  np.testing.assert_allclose(d_real, aug(reals, 0, 1), atol=1e-5)
  fake0 = gan.generator(features["z"][:, 0], None, training=True)
  assert not np.allclose(d_fake, fake0.numpy(), atol=1e-3)
  if on_augmented:
    assert penalty_images is None
  else:
    np.testing.assert_allclose(penalty_images[0], reals, atol=1e-6)
  g_real, g_fake = gan.seen["g"]
  np.testing.assert_allclose(g_real, aug(reals, 1, 1), atol=1e-5)
  np.testing.assert_allclose(g_fake, aug(g_before, 1, 2), atol=1e-5)


def test_no_policy_leaves_images_alone():
  gan = _recording_gan(ModularGAN)
  features = step_inputs(gan)
  gan.train_step(features)
  np.testing.assert_array_equal(gan.seen["d"][0], features["images"][:, 0].numpy())
