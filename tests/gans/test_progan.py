"""ProGAN: the growing schedule, fade-in of G, D and the reals, the layers
against numpy, optimizer resets, multi-replica equality, and end-to-end growth
and resume through the Runner."""

import math
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import architectures
from compare_gan2.core import config
from compare_gan2.gans import make_step_inputs
# Importing the module registers ProgressiveGAN (for `@ProgressiveGAN` in gin).
from compare_gan2.gans.progan import ProgressiveGAN, lod_at, schedule
from compare_gan2.ops import progan as ops
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.runner import TRAIN_DONE, Runner
from run_cases import assert_same_checkpoints

# Eager steps skip the untaken tf.cond branches: Keras warns that the unused
# levels' variables got no gradient (traced steps give them zeros).
pytestmark = pytest.mark.filterwarnings("ignore:Gradients do not exist")

Z_DIM = 8
TINY_NETS = ["progan.Generator.fmap_base = 64", "progan.Generator.fmap_max = 8",
             "progan.Discriminator.fmap_base = 64",
             "progan.Discriminator.fmap_max = 8"]


def build_nets(resolution=32, num_classes=0, bindings=()):
  gin.parse_config(TINY_NETS + list(bindings))
  keras.utils.set_random_seed(0)
  return architectures.build("progan_arch", resolution=resolution, colors=3,
                             z_dim=Z_DIM, num_classes=num_classes)


def make_gan(resolution=8, bindings=(), **kwargs):
  gin.parse_config(list(bindings))
  g, d = build_nets(resolution)
  kwargs = {"training_kimg": 0.016, "transition_kimg": 0.016, **kwargs}
  return ProgressiveGAN(generator=g, discriminator=d, **kwargs)


def step_inputs(resolution, batch=8, seed=0, step=0):
  rng = np.random.RandomState(seed + 100 * step)
  images = rng.rand(batch, resolution, resolution, 3).astype(np.float32)
  return make_step_inputs(images, np.zeros(batch), disc_iters=1, z_dim=Z_DIM,
                          num_classes=0, seed=seed, step=step)


def np_block_average(x, k):
  b, h, w, c = x.shape
  y = x.reshape(b, h // k, k, w // k, k, c).mean(axis=(2, 4))
  return np.repeat(np.repeat(y, k, axis=1), k, axis=2)


# --- (1) Schedule --------------------------------------------------------------

# 32 px (lod 3 at 4x4), 600 images per level then 400 of transition.
@pytest.mark.parametrize("seen,lod,res,alpha", [
    (0, 3.0, 4, 1.0), (599, 3.0, 4, 1.0), (600, 3.0, 4, 1.0),
    (700, 2.75, 8, 0.25), (900, 2.25, 8, 0.75), (1000, 2.0, 8, 1.0),
    (1800, 1.5, 16, 0.5), (2000, 1.0, 16, 1.0), (2900, 0.25, 32, 0.75),
    (3000, 0.0, 32, 1.0), (10 ** 9, 0.0, 32, 1.0)])
def test_schedule_exact(seen, lod, res, alpha):
  kw = dict(resolution=32, training_kimg=0.6, transition_kimg=0.4)
  # By hand: phase = seen // 1000, lod = 3 - phase - max(pos - 600, 0) / 400.
  assert float(lod_at(seen, **kw)) == lod
  got_res, got_alpha = schedule(seen, **kw)
  assert int(got_res) == res
  assert float(got_alpha) == alpha


def test_schedule_vectorised_and_without_transition():
  seen = tf.constant([0, 650, 1100], tf.int64)
  np.testing.assert_array_equal(
      lod_at(seen, resolution=16, training_kimg=0.6, transition_kimg=0.4),
      [2.0, 2.0 - 50 / 400, 1.0])
  # No transition: the level drops by one at each phase boundary.
  assert [float(lod_at(s, resolution=16, training_kimg=1, transition_kimg=0))
          for s in (999, 1000, 2000, 5000)] == [2.0, 1.0, 0.0, 0.0]


# --- (2) Fade-in ---------------------------------------------------------------

def test_generator_fade_in_is_the_documented_lerp():
  g, _ = build_nets(32)
  z = tf.random.stateless_normal([4, Z_DIM], [1, 2])
  h4 = g.block(g.latent_input(z, None), 2)
  h8 = g.block(h4, 3)
  h16 = g.block(h8, 4)
  new, old = g.rgb(h16, 4), ops.upscale2d(g.rgb(h8, 3))
  g.lod.assign(1.3)
  alpha = 0.7  # 1 - frac(1.3)
  expected = ops.upscale2d(alpha * new + (1 - alpha) * old) * 0.5 + 0.5
  out = g(z, None, training=True)
  assert out.shape == (4, 32, 32, 3)
  np.testing.assert_allclose(out, expected, atol=1e-5)
  # Inference mode clips to [0, 1].
  np.testing.assert_allclose(g(z, None, training=False),
                             np.clip(expected, 0, 1), atol=1e-5)
  # An integer level: that level's toRGB, nearest-upscaled (8 -> 32).
  g.lod.assign(2.0)
  np.testing.assert_allclose(g(z, None, training=True),
                             ops.upscale2d(g.rgb(h8, 3), 4) * 0.5 + 0.5, atol=1e-5)
  g.lod.assign(0.0)
  np.testing.assert_allclose(g(z, None, training=True),
                             g.rgb(g.block(h16, 5), 5) * 0.5 + 0.5, atol=1e-5)


def test_discriminator_fade_in_mirrors_the_generator():
  _, d = build_nets(32)
  x = tf.random.stateless_uniform([4, 32, 32, 3], [3, 4])
  images = x * 2 - 1
  d.lod.assign(1.3)
  y = d.block(d.from_images(images, 4), 4)  # 16 -> 8
  t = 0.3  # the downscaled path weighs frac(lod) = 1 - alpha
  net = (1 - t) * y + t * d.from_images(images, 3)
  net = d.block(net, 3)  # 8 -> 4
  net = tf.nn.leaky_relu(d.conv4(d.mbstd(net)), 0.2)
  h = tf.nn.leaky_relu(d.dense0(tf.reshape(net, [4, -1])), 0.2)
  probs, logits, got_h = d(x, None, training=True)
  np.testing.assert_allclose(got_h, h, atol=1e-5)
  np.testing.assert_allclose(logits, d.dense1(h), atol=1e-5)
  np.testing.assert_allclose(probs, tf.sigmoid(d.dense1(h)), atol=1e-6)


def test_reals_are_faded_like_process_reals():
  gan = make_gan(16)
  x = np.random.RandomState(0).rand(4, 16, 16, 3).astype(np.float32)
  for lod, f, t in [(2.0, 4, 0.0), (1.5, 2, 0.5), (0.25, 1, 0.25), (0.0, 1, 0.0)]:
    gan.assign_lod(lod)
    expected = (1 - t) * np_block_average(x, f) + t * np_block_average(x, 2 * f)
    np.testing.assert_allclose(gan.prepare_reals(tf.constant(x)), expected, atol=1e-6)


# --- (3) Layers against numpy ---------------------------------------------------

def test_equalized_dense_and_conv():
  rng = np.random.RandomState(0)
  dense = ops.EqualizedDense(5, name="d")
  x = rng.randn(3, 7).astype(np.float32)
  out = dense(x)
  w = dense.kernel.numpy()
  assert abs(w.std() - 1.0) < 0.35  # stored ~ N(0, 1)
  np.testing.assert_allclose(out, x @ (w * math.sqrt(2) / math.sqrt(7)), atol=1e-5)
  dense1 = ops.EqualizedDense(2, gain=1.0, name="d1")
  dense1(x)
  dense1.bias.assign([0.5, -1.0])
  np.testing.assert_allclose(dense1(x), x @ (dense1.kernel.numpy() / math.sqrt(7))
                             + [0.5, -1.0], atol=1e-5)

  conv = ops.EqualizedConv2D(4, 3, name="c")
  img = rng.randn(2, 5, 5, 3).astype(np.float32)
  out = conv(img).numpy()
  k = conv.kernel.numpy() * math.sqrt(2) / math.sqrt(3 * 3 * 3)
  padded = np.pad(img, [(0, 0), (1, 1), (1, 1), (0, 0)])
  expected = np.zeros([2, 5, 5, 4], np.float32)
  for i in range(5):
    for j in range(5):
      expected[:, i, j] = np.einsum("bhwc,hwco->bo", padded[:, i:i + 3, j:j + 3], k)
  np.testing.assert_allclose(out, expected, atol=1e-4)
  assert ops.EqualizedConv2D.from_config(conv.get_config()).gain == conv.gain


def test_pixel_norm():
  x = np.random.RandomState(1).randn(2, 3, 3, 6).astype(np.float32)
  expected = x / np.sqrt(np.mean(x ** 2, axis=-1, keepdims=True) + 1e-8)
  np.testing.assert_allclose(ops.PixelNorm()(x), expected, rtol=1e-5)
  assert ops.PixelNorm.from_config(ops.PixelNorm(epsilon=1e-6).get_config()).epsilon == 1e-6


def np_original_mbstd(x_nhwc, group_size):
  """networks.py minibatch_stddev_layer transcribed to numpy (NCHW inside):
  G = min(group_size, N); reshape to [G, M, C, H, W], so group m holds
  examples m, m + M, m + 2M, ...; stddev over the group, mean over C, H, W,
  tiled back over the group and the pixels, appended as a feature map."""
  x = x_nhwc.transpose(0, 3, 1, 2)
  group_size = min(group_size, x.shape[0])
  n, c, h, w = x.shape
  y = x.reshape(group_size, -1, c, h, w)
  y = y - y.mean(axis=0, keepdims=True)
  y = np.mean(np.square(y), axis=0)
  y = np.sqrt(y + 1e-8)
  y = y.mean(axis=(1, 2, 3), keepdims=True)  # [M, 1, 1, 1]
  y = np.tile(y, [group_size, 1, h, w])  # [N, 1, H, W]
  return np.concatenate([x, y], axis=1).transpose(0, 2, 3, 1)


def _np_consecutive_mbstd(x, group):
  b = x.shape[0]
  out = np.zeros(x.shape[:3] + (1,), np.float32)
  for start in range(0, b, group):
    g = x[start:start + group]
    std = np.sqrt(np.mean((g - g.mean(axis=0)) ** 2, axis=0) + 1e-8)
    out[start:start + group] = std.mean()
  return np.concatenate([x, out], axis=-1)


# (batch, group_size): the original's min(group_size, batch) divides these.
@pytest.mark.parametrize("batch,group_size", [(8, 4), (12, 4), (3, 4), (14, 16), (2, 2)])
def test_minibatch_stddev_is_the_originals(batch, group_size):
  x = np.random.RandomState(batch).randn(batch, 4, 4, 3).astype(np.float32)
  layer = ops.MinibatchStddev(group_size=group_size)
  np.testing.assert_allclose(layer(x), np_original_mbstd(x, group_size),
                             rtol=1e-5, atol=1e-6)
  config = ops.MinibatchStddev.from_config(layer.get_config()).get_config()
  assert (config["group_size"], config["grouping"]) == (group_size, "strided")


def test_minibatch_stddev_consecutive_knob_and_fallback():
  x = np.random.RandomState(0).randn(8, 4, 4, 3).astype(np.float32)
  consecutive = ops.MinibatchStddev(group_size=4, grouping="consecutive")
  np.testing.assert_allclose(consecutive(x), _np_consecutive_mbstd(x, 4),
                             rtol=1e-5, atol=1e-6)
  # Strided and consecutive groups differ on a batch of two groups.
  assert np.abs(ops.MinibatchStddev(4)(x) - consecutive(x)).max() > 1e-3
  # 6 examples, group 4: the original's reshape fails; the largest divisor
  # (3) is used, strided as the original's grouping of 6 by 3.
  x6 = x[:6]
  np.testing.assert_allclose(ops.MinibatchStddev(4)(x6), np_original_mbstd(x6, 3),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(consecutive(x6), _np_consecutive_mbstd(x6, 3),
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="grouping"):
    ops.MinibatchStddev(4, grouping="random")
  with pytest.raises(ValueError, match="mbstd_grouping"):
    build_nets(8, bindings=['progan.Discriminator.mbstd_grouping = "random"'])


def np_conv_same(x, k, stride=1):
  """NHWC cross-correlation with TF's SAME padding (odd or even kernels)."""
  b, h, w, _ = x.shape
  kh = k.shape[0]
  out_h = -(-h // stride)
  pad = max((out_h - 1) * stride + kh - h, 0)
  before = pad // 2
  xp = np.pad(x, [(0, 0), (before, pad - before), (before, pad - before), (0, 0)])
  out = np.zeros([b, out_h, out_h, k.shape[-1]], np.float32)
  for i in range(out_h):
    for j in range(out_h):
      patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kh]
      out[:, i, j] = np.einsum("bhwc,hwco->bo", patch, k)
  return out


def np_conv2d_downscale2d(x, w):
  """networks.py conv2d_downscale2d: the 3x3 kernel zero-padded to 5x5, the
  sum of its four 4x4 corners times 0.25, a stride-2 SAME conv."""
  wp = np.pad(w, [(1, 1), (1, 1), (0, 0), (0, 0)])
  w4 = (wp[1:, 1:] + wp[:-1, 1:] + wp[1:, :-1] + wp[:-1, :-1]) * 0.25
  return np_conv_same(x, w4, stride=2)


def test_fused_conv_downscale_is_the_originals():
  rng = np.random.RandomState(3)
  conv = ops.EqualizedConv2D(5, 3, downscale=True, name="down")
  x = rng.randn(2, 8, 8, 3).astype(np.float32)
  out = conv(x)
  conv.bias.assign(rng.randn(5).astype(np.float32))
  w = conv.kernel.numpy() * math.sqrt(2) / math.sqrt(3 * 3 * 3)
  np.testing.assert_allclose(conv(x), np_conv2d_downscale2d(x, w) + conv.bias.numpy(),
                             atol=1e-4)
  assert out.shape == (2, 4, 4, 5) == conv.compute_output_shape((2, 8, 8, 3))
  assert ops.EqualizedConv2D.from_config(conv.get_config()).downscale


def test_box_blur_kernel_is_the_originals_pad_and_four_slices():
  """conv2d_downscale2d's kernel: pad by one, mean of the four shifted
  slices (networks.py), here as one constant product."""
  w = np.random.RandomState(4).randn(3, 3, 2, 5).astype(np.float32)
  p = np.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]])
  expected = (p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]) * 0.25
  np.testing.assert_allclose(ops.box_blur_kernel(tf.constant(w)), expected,
                             rtol=0, atol=1e-7)


def _leaky(x):
  return np.maximum(x, 0.2 * x)


@pytest.mark.parametrize("fused_scale", [True, False])
def test_discriminator_block_pools_before_activation_when_fused(fused_scale):
  """networks.py D_paper block, res >= 3: Conv0 then, fused (the default),
  act(bias(conv2d_downscale2d)); not fused, act(bias(conv)) then downscale."""
  _, d = build_nets(8, bindings=[f"progan.Discriminator.fused_scale = {fused_scale}"])
  rng = np.random.RandomState(4)
  conv0, conv1 = d.blocks[1]
  for conv in (conv0, conv1):
    conv.bias.assign(rng.randn(*conv.bias.shape).astype(np.float32))
  x = rng.randn(2, 8, 8, d.nf(2)).astype(np.float32)
  w0, w1 = conv0.scaled_kernel().numpy(), conv1.scaled_kernel().numpy()
  h = _leaky(np_conv_same(x, w0) + conv0.bias.numpy())
  if fused_scale:
    expected = _leaky(np_conv2d_downscale2d(h, w1) + conv1.bias.numpy())
  else:
    expected = _leaky(np_conv_same(h, w1) + conv1.bias.numpy())
    expected = expected.reshape(2, 4, 2, 4, 2, -1).mean(axis=(2, 4))
  np.testing.assert_allclose(d.block(tf.constant(x), 3), expected, atol=1e-4)
  assert type(d).from_config(d.get_config()).fused_scale == fused_scale


@pytest.mark.parametrize("dense_bias", ["per_channel", "per_unit"])
def test_generator_dense_bias(dense_bias):
  """networks.py G_paper 4x4 Dense: dense (gain sqrt(2)/4), reshape to
  [-1, nf(1), 4, 4], apply_bias (one per channel), act, pixel norm."""
  g, _ = build_nets(8, bindings=[f'progan.Generator.dense_bias = "{dense_bias}"'])
  nf1 = g.nf(1)
  rng = np.random.RandomState(5)
  if dense_bias == "per_channel":
    assert g.dense.bias is None and g.dense_channel_bias.shape == (nf1,)
    bias = rng.randn(nf1).astype(np.float32)
    g.dense_channel_bias.assign(bias)
    bias_nhwc = bias  # broadcasts over 4 x 4
  else:
    assert g.dense_channel_bias is None and g.dense.bias.shape == (16 * nf1,)
    bias = rng.randn(16 * nf1).astype(np.float32)
    g.dense.bias.assign(bias)
    bias_nhwc = bias.reshape(4, 4, nf1)
  z = rng.randn(3, Z_DIM).astype(np.float32)
  pn = lambda v: v / np.sqrt(np.mean(v ** 2, axis=-1, keepdims=True) + 1e-8)
  w = g.dense.kernel.numpy() * (math.sqrt(2) / 4) / math.sqrt(Z_DIM)
  x = pn(_leaky((pn(z) @ w).reshape(3, 4, 4, nf1) + bias_nhwc))
  g.conv4.bias.assign(rng.randn(nf1).astype(np.float32))
  expected = pn(_leaky(np_conv_same(x, g.conv4.scaled_kernel().numpy())
                       + g.conv4.bias.numpy()))
  np.testing.assert_allclose(g.block(g.latent_input(z, None), 2), expected, atol=1e-4)
  assert type(g).from_config(g.get_config()).dense_bias == dense_bias
  gin.clear_config()
  with pytest.raises(ValueError, match="dense_bias"):
    build_nets(8, bindings=['progan.Generator.dense_bias = "none"'])


def test_box_downscale_and_nearest_upscale():
  x = np.random.RandomState(2).rand(2, 8, 8, 3).astype(np.float32)
  down = ops.downscale2d(x).numpy()
  np.testing.assert_allclose(down, x.reshape(2, 4, 2, 4, 2, 3).mean(axis=(2, 4)),
                             rtol=1e-6)
  np.testing.assert_array_equal(ops.upscale2d(down, 2),
                                np.repeat(np.repeat(down, 2, 1), 2, 2))
  np.testing.assert_allclose(ops.block_average(x, 4), np_block_average(x, 4), rtol=1e-6)


# --- Networks ----------------------------------------------------------------

def test_networks_options_and_config():
  g, d = build_nets(16, num_classes=3)
  assert [g.nf(s) for s in range(5)] == [8, 8, 8, 8, 4]  # min(64 / 2^s, 8)
  assert g.max_lod == d.max_lod == 2
  assert not g.lod.trainable and not d.lod.trainable
  clone = type(g).from_config(g.get_config())
  assert clone.fmap_base == 64 and clone.num_classes == 3
  z = tf.zeros([2, Z_DIM])
  y = tf.one_hot([0, 2], 3)
  assert g(z, y, training=False).shape == (2, 16, 16, 3)
  assert d(tf.zeros([2, 16, 16, 3]), y)[1].shape == (2, 1)
  with pytest.raises(ValueError, match="needs labels"):
    d(tf.zeros([2, 16, 16, 3]), None)
  gin.clear_config()
  with pytest.raises(ValueError, match="pixel norm"):
    build_nets(16, bindings=["G.spectral_norm = True"])


def test_gan_rejects_other_architectures_and_bad_batch_sizes():
  g, d = build_nets(8)
  with pytest.raises(ValueError, match="batch_sizes"):
    ProgressiveGAN(generator=g, discriminator=d, batch_sizes={16: 8})
  gin.clear_config()
  gin.parse_config(["dcgan.Generator.ch = 4", "dcgan.Discriminator.ch = 4"])
  g2, d2 = architectures.build("dcgan_arch", resolution=16, colors=3, z_dim=Z_DIM)
  with pytest.raises(ValueError, match="progan_arch"):
    ProgressiveGAN(generator=g2, discriminator=d2)


# --- (6) Optimizer resets, batch schedule, drift ----------------------------------

def _run_steps(strategy, gan, resolution, steps, batch=8):
  iterations, seen, lods = [], [], []
  for i in range(steps):
    features = step_inputs(resolution, batch=batch, step=i)
    dist = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(features).batch(batch))
    metrics = gan.distributed_train_step(strategy, next(iter(dist)))
    iterations.append(int(gan.g_optimizer.iterations.numpy()))
    assert int(gan.d_optimizer.iterations.numpy()) == iterations[-1]
    seen.append(int(gan.images_seen.numpy()))
    lods.append(float(metrics["lod"]))
  return iterations, seen, lods


@pytest.mark.parametrize("reset", [True, False])
def test_optimizer_reset_at_growth_only(mirrored_strategy, reset):
  """8 px, 16 images per level and per transition, 8 per step: steps 0-2 at
  lod 1 (the third at the transition's start, lod exactly 1), step 3 at lod
  0.5 (floor changed: reset), step 4 at lod 0 (ceil changed: reset), then 0."""
  with mirrored_strategy.scope():
    gan = make_gan(8, bindings=["loss.fn = @wasserstein", "penalty.fn = @no_penalty"],
                   reset_optimizer_on_growth=reset)
  lr = float(gan.g_optimizer.learning_rate.numpy())
  iterations, seen, lods = _run_steps(mirrored_strategy, gan, 8, 6)
  assert lods == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
  assert seen == [8, 16, 24, 32, 40, 48]
  if reset:
    assert iterations == [1, 2, 3, 1, 1, 2]
  else:
    assert iterations == [1, 2, 3, 4, 5, 6]
  assert float(gan.g_optimizer.learning_rate.numpy()) == lr
  for net in (gan.generator, gan.discriminator, gan.ema_generator):
    assert float(net.lod.numpy()) == 0.0


def test_reset_optimizers_zeros_state_keeps_learning_rate():
  gan = make_gan(8, bindings=["loss.fn = @wasserstein", "penalty.fn = @no_penalty"])
  gan.train_step(step_inputs(8))
  assert any(np.any(v.numpy() != 0) for v in gan.d_optimizer.variables
             if "momentum" in v.path)
  gan.reset_optimizers()
  for opt in (gan.g_optimizer, gan.d_optimizer):
    for v in opt.variables:
      if v.path.endswith("learning_rate"):
        assert float(v.numpy()) == pytest.approx(1e-3)
      else:
        assert not np.any(v.numpy())


def test_batch_schedule_and_drift(mirrored_strategy):
  """At 4x4 the step uses 4 of the 8 examples (2 per replica), at 8x8 all 8;
  images_seen counts what D saw. D's loss has the drift term."""
  with mirrored_strategy.scope():
    gan = make_gan(8, bindings=["loss.fn = @wasserstein", "penalty.fn = @no_penalty"],
                   batch_sizes={4: 4}, training_kimg=0.008, transition_kimg=0.0,
                   drift=0.5)
  _, seen, lods = _run_steps(mirrored_strategy, gan, 8, 3)
  assert lods == [1.0, 1.0, 0.0]
  assert seen == [4, 8, 16]
  metrics = gan.train_step(step_inputs(8))
  parts = float(metrics["d_loss_real"] + metrics["d_loss_fake"])
  assert float(metrics["d_loss"]) == pytest.approx(
      parts + 0.5 * float(metrics["drift"]), rel=1e-5)
  assert float(metrics["drift"]) > 0


def test_static_step_kwargs_hold_until_the_level_changes():
  """16 px, 16 images per level and per transition, 8 per step at 4x4 and
  8x8, 4 at 16x16: the level's batch and the number of steps it holds
  (through levels of the same batch), against a step-by-step walk of the
  schedule."""
  gan = make_gan(16, batch_sizes={16: 4})
  kw = dict(resolution=16, training_kimg=0.016, transition_kimg=0.016)
  table = {2: 8, 1: 8, 0: 4}  # floor(lod) -> examples
  for seen in (0, 8, 16, 24, 48, 56, 60, 64, 1000):
    gan.images_seen.assign(seen)
    static, steps = gan.static_step_kwargs(8, 1)
    level = math.floor(float(lod_at(seen, **kw)))
    assert static == {"batch": table[level]}, seen
    walk, s = 0, seen
    while table[math.floor(float(lod_at(s, **kw)))] == table[level] and walk < 100:
      walk, s = walk + 1, s + table[level]
    assert steps == (None if level == 0 else walk), seen
  # The same batch at every level: no static arguments.
  assert make_gan(16).static_step_kwargs(8, 1) == ({}, None)


def _grow_through_two_transitions(jit_compile):
  """9 steps at 16 px: 4x4, the fade to 8x8, 8x8, the fade to 16x16 (the
  batch drops from 8 to 4), WGAN-GP; every weight and optimizer variable."""
  gin.clear_config()
  gan = make_gan(16, bindings=["loss.fn = @wasserstein",
                               "penalty.fn = @wgangp_penalty"],
                 lamba=10.0, batch_sizes={16: 4}, jit_compile=jit_compile)
  step = lambda f: gan.distributed_train_step(tf.distribute.get_strategy(), f)
  lods = []
  for i in range(9):
    lods.append(float(step(step_inputs(16, step=i))["lod"]))
  variables = (gan.generator.weights + gan.discriminator.weights
               + gan.ema_generator.weights + gan.g_optimizer.variables
               + gan.d_optimizer.variables)
  return lods, int(gan.images_seen.numpy()), [(v.path, v.numpy()) for v in variables]


@pytest.mark.slow
def test_jit_compile_grows_like_the_plain_step():
  """The XLA step (growth, fade-in, optimizer resets and the level's batch
  inside one compiled step, one trace per batch size) computes what the
  plain step does, to 1e-5 (XLA fuses and reorders float32 arithmetic)."""
  lods, seen, plain = _grow_through_two_transitions(False)
  assert lods == [2.0, 2.0, 2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 0.25]
  assert seen == 7 * 8 + 2 * 4
  lods_xla, seen_xla, compiled = _grow_through_two_transitions(True)
  assert (lods_xla, seen_xla) == (lods, seen)
  assert len(plain) == len(compiled)
  for (name, a), (_, b) in zip(plain, compiled):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_jit_compile_step_at_32px_with_wgangp():
  """Four levels of nested conds differentiated twice (WGAN-GP) under XLA:
  the fused downscale's kernel must not need a third-order gradient of
  pad/slice (XLA has none for XlaDynamicUpdateSlice)."""
  gin.clear_config()
  gan = make_gan(32, bindings=["loss.fn = @wasserstein",
                               "penalty.fn = @wgangp_penalty"],
                 lamba=10.0, training_kimg=0, transition_kimg=0, jit_compile=True)
  # Tracing is enough: the missing gradient fails while the step is built.
  step = tf.function(gan.train_step, jit_compile=True)
  outputs = step.get_concrete_function(step_inputs(32)).structured_outputs
  assert {"lod", "d_loss", "g_loss"} <= set(outputs)


def test_grappler_memory_optimizer_off_for_progan_functions():
  """The AddN rewrite that breaks the second call of a large ProGAN step
  (AlreadyExistsError on its temporary variable) is off once a
  ProgressiveGAN exists, for the functions this thread calls."""
  from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
  from tensorflow.python.eager import context
  gin.clear_config()
  make_gan(8)
  proto = config_pb2.ConfigProto()
  proto.ParseFromString(context.context().function_call_options.config_proto_serialized)
  assert (proto.graph_options.rewrite_options.memory_optimization
          == rewriter_config_pb2.RewriterConfig.NO_MEM_OPT)


# --- The original's D loss (loss.py D_wgangp_acgan) ---------------------------

def test_d_loss_and_wgangp_penalty_are_the_originals():
  """D_wgangp_acgan without labels, written out on [-1, 1] images u = 2x - 1:
  mean(D(fake) - D(real) + 10 * (||dD(mix)/dmix|| - 1)^2 + 0.001 D(real)^2),
  mix = lerp(u_real, u_fake, a), a per example (the library's draws), D
  called on reals, fakes and mixes separately; mid-transition (lod 0.5)."""
  gan = make_gan(8, bindings=["loss.fn = @wasserstein", "penalty.fn = @wgangp_penalty"],
                 lamba=10.0)
  gan.assign_lod(0.5)
  rng = np.random.RandomState(6)
  real = tf.constant(rng.rand(8, 8, 8, 3).astype(np.float32))
  fake = tf.constant(rng.rand(8, 8, 8, 3).astype(np.float32))
  seeds = step_inputs(8)["seeds"][:, 0]
  metrics = gan.discriminator_loss(real, None, fake, None, seeds)

  d_net = lambda u: gan.discriminator(u * 0.5 + 0.5, None, training=True)[1][:, 0]
  u_real, u_fake = real * 2 - 1, fake * 2 - 1
  real_scores, fake_scores = d_net(u_real), d_net(u_fake)
  mixing = per_example_uniform(seeds, [1, 1, 1], salt=1)
  mixed = u_real + (u_fake - u_real) * mixing
  with tf.GradientTape() as tape:
    tape.watch(mixed)
    mixed_loss = tf.reduce_sum(d_net(mixed))
  norms = np.sqrt(np.sum(np.square(tape.gradient(mixed_loss, mixed)), axis=(1, 2, 3)))
  # The library keeps compare_gan's sqrt(1e-4 + |g|^2): negligible here.
  assert norms.min() > 0.15
  penalty = np.square(norms - 1.0) * (10.0 / 1.0 ** 2)
  loss = fake_scores - real_scores + penalty + 0.001 * np.square(real_scores)
  assert float(metrics["penalty"]) * 10.0 == pytest.approx(penalty.mean(), rel=1e-3)
  assert float(metrics["d_loss"]) == pytest.approx(float(np.mean(loss)), rel=1e-3)


def test_d_on_reals_does_not_depend_on_the_fakes():
  """6 reals and 6 fakes, group size 4: D sees them in separate calls (as the
  original's two D calls), so no stddev group mixes them."""
  gan = make_gan(8)
  rng = np.random.RandomState(7)
  real = tf.constant(rng.rand(6, 8, 8, 3).astype(np.float32))
  fake = tf.constant(rng.rand(6, 8, 8, 3).astype(np.float32))
  (_, real_logits, _), (_, fake_logits, _) = gan.run_discriminator(real, None, fake, None)
  (_, again, _), (_, fake_again, _) = gan.run_discriminator(real, None, fake * 0.1, None)
  np.testing.assert_array_equal(real_logits, again)
  assert np.abs(fake_logits - fake_again).max() > 1e-4
  np.testing.assert_array_equal(real_logits, gan.discriminator(real, None, training=True)[1])


# --- Shipped configs against networks.py -------------------------------------------

def _nf(stage, fmap_base, fmap_max, fmap_decay=1.0):
  # networks.py: nf(stage) = min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)
  return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


def original_g_params(resolution, channels, latent_size, fmap_base, fmap_max):
  """Trainable parameters of networks.py G_paper (label_size 0), layer by layer."""
  nf = lambda s: _nf(s, fmap_base, fmap_max)
  log2 = int(math.log2(resolution))
  n = latent_size * nf(1) * 16 + nf(1)  # 4x4/Dense: weight, bias after the reshape
  n += 3 * 3 * nf(1) * nf(1) + nf(1)  # 4x4/Conv
  for res in range(3, log2 + 1):
    n += 3 * 3 * nf(res - 2) * nf(res - 1) + nf(res - 1)  # Conv0_up
    n += 3 * 3 * nf(res - 1) * nf(res - 1) + nf(res - 1)  # Conv1
  for res in range(2, log2 + 1):
    n += nf(res - 1) * channels + channels  # ToRGB_lod{log2 - res}
  return n


def original_d_params(resolution, channels, fmap_base, fmap_max, mbstd_group_size):
  """Trainable parameters of networks.py D_paper (label_size 0), layer by layer."""
  nf = lambda s: _nf(s, fmap_base, fmap_max)
  log2 = int(math.log2(resolution))
  n = 0
  for res in range(2, log2 + 1):
    n += channels * nf(res - 1) + nf(res - 1)  # FromRGB_lod{log2 - res}
  for res in range(3, log2 + 1):
    n += 3 * 3 * nf(res - 1) * nf(res - 1) + nf(res - 1)  # Conv0
    n += 3 * 3 * nf(res - 1) * nf(res - 2) + nf(res - 2)  # Conv1_down
  extra = 1 if mbstd_group_size > 1 else 0  # the stddev feature map
  n += 3 * 3 * (nf(1) + extra) * nf(1) + nf(1)  # 4x4/Conv
  n += 16 * nf(1) * nf(0) + nf(0)  # 4x4/Dense0
  n += nf(0) * 1 + 1  # 4x4/Dense1
  return n


# config: (resolution, z_dim, fmap_base, fmap_max, mbstd_group_size)
@pytest.mark.parametrize("name,resolution,z_dim,fmap_base,fmap_max,group", [
    ("progan_cifar10", 32, 512, 8192, 512, 4),
    ("progan_celebahq", 128, 512, 8192, 512, 16),
    ("progan_shapes", 32, 32, 256, 16, 4)])
def test_shipped_config_networks_match_networks_py(name, resolution, z_dim, fmap_base,
                                                   fmap_max, group):
  compare_gan2.parse_gin([f"{name}.gin"])
  assert gin.query_parameter("options.z_dim") == z_dim
  g, d = architectures.build("progan_arch", resolution=resolution, colors=3,
                             z_dim=z_dim, num_classes=0)
  count = lambda net: sum(int(np.prod(w.shape)) for w in net.trainable_weights)
  assert count(g) == original_g_params(resolution, 3, z_dim, fmap_base, fmap_max)
  assert count(d) == original_d_params(resolution, 3, fmap_base, fmap_max, group)
  # The original's behaviours, pinned by the config.
  assert d.fused_scale and d.mbstd_grouping == "strided"
  assert d.mbstd_group_size == group and g.dense_bias == "per_channel"


# --- (7) Multi-replica ----------------------------------------------------------

def _train_once(strategy, features, traced, grouping="consecutive"):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan(
        8, bindings=["loss.fn = @wasserstein", "penalty.fn = @wgangp_penalty",
                     f'progan.Discriminator.mbstd_grouping = "{grouping}"',
                     "ProgressiveGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
                     "ProgressiveGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer"],
        lamba=10.0, g_lr=0.01, ema_decay=0.5)
    gan.images_seen.assign(20)  # mid-transition: lod 0.75
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(8)
  step = lambda f: gan.distributed_train_step(strategy, f)
  if traced:
    step = tf.function(step)
  for batch in strategy.experimental_distribute_dataset(dataset):
    metrics = step(batch)
  weights = (gan.generator.weights + gan.discriminator.weights
             + gan.ema_generator.weights)
  return ({k: float(v) for k, v in metrics.items()},
          [(w.path, w.numpy()) for w in weights], int(gan.images_seen.numpy()))


# Traced, the step takes a minute to compile on two CPU cores.
@pytest.mark.parametrize("traced", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_mirrored_equals_default(mirrored_strategy, traced):
  """One step that starts a transition (optimizer reset in a merge_call),
  WGAN-GP through the tf.cond levels: two replicas equal one with
  consecutive minibatch-stddev groups (4 reals, 4 fakes per replica: one
  group each, as the one-replica step's groups)."""
  features = step_inputs(8)
  m1, w1, seen1 = _train_once(tf.distribute.get_strategy(), features, traced)
  m2, w2, seen2 = _train_once(mirrored_strategy, features, traced)
  assert m1["lod"] == m2["lod"] == 0.75
  assert seen1 == seen2 == 28
  for key in m1:
    assert m1[key] == pytest.approx(m2[key], rel=1e-4, abs=1e-5), key
  assert len(w1) == len(w2)
  for (name, a), (_, b) in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-4, err_msg=name)


# --- (4, 5) Through the Runner ---------------------------------------------------

# 32 px shapes, 8 images a step; 16 images per level and per transition, so
# 4 steps per doubling: lod reaches 0 after 12 steps.
RUN = [
    'dataset.name = "shapes"', "shapes.resolution = 32",
    "shapes.num_train_examples = 128", "shapes.num_test_examples = 32",
    'options.architecture = "progan_arch"', "options.gan_class = @ProgressiveGAN",
    "options.batch_size = 8", "options.z_dim = 8", "options.lamba = 10",
    "loss.fn = @wasserstein", "penalty.fn = @wgangp_penalty",
    "ProgressiveGAN.training_kimg = 0.016", "ProgressiveGAN.transition_kimg = 0.016",
    "ProgressiveGAN.batch_sizes = {32: 4}",
    "run_config.tf_random_seed = 1", "run_config.num_sample_images = 4",
] + TINY_NETS


def make_runner(model_dir, steps, bindings=()):
  gin.clear_config()
  compare_gan2.parse_gin([], RUN + [f"options.training_steps = {steps}"] + list(bindings))
  return Runner(str(model_dir))


@pytest.mark.slow
def test_runner_grows_to_full_resolution(tmp_path):
  runner = make_runner(tmp_path, 14, ["run_config.iterations_per_loop = 7",
                                      "run_config.save_checkpoints_steps = 14"])
  assert runner.train() == 14
  gan = runner.gan
  for net in (gan.generator, gan.discriminator, gan.ema_generator):
    assert float(net.lod.numpy()) == 0.0
  # 8 a step below the 16 -> 32 fade (11 steps, to 88 images), then 4 a
  # step: the 14th step starts at 96 images, lod 0.
  assert int(gan.images_seen.numpy()) == 11 * 8 + 3 * 4
  samples = runner.generate(4)
  assert samples.shape == (4, 32, 32, 3)
  # Full resolution: not every 2x2 block of a sample is constant.
  assert np.abs(samples - np_block_average(samples, 2)).max() > 1e-3


@pytest.mark.slow
def test_resume_mid_transition_equals_uninterrupted(tmp_path):
  # 16 px and no penalty: the same growth logic, a third of the tracing time.
  every = ["run_config.iterations_per_loop = 3", "run_config.save_checkpoints_steps = 3",
           "shapes.resolution = 16", "penalty.fn = @no_penalty",
           "ProgressiveGAN.batch_sizes = {16: 4}"]
  make_runner(tmp_path / "full", 6, every).train()
  # Stop after 3 steps: images_seen 24, lod 1.5, halfway into 4 -> 8.
  split = make_runner(tmp_path / "split", 3, every)
  split.train()
  assert float(split.gan.scheduled_lod()) == 1.5
  assert int(split.gan.images_seen.numpy()) == 24
  os.remove(tmp_path / "split" / TRAIN_DONE)
  resumed = make_runner(tmp_path / "split", 6, every)
  assert resumed.train() == 6
  assert int(resumed.gan.images_seen.numpy()) == 48
  assert_same_checkpoints(str(tmp_path / "full" / "model.ckpt-6"),
                          str(tmp_path / "split" / "model.ckpt-6"))


def test_mirrored_with_strided_groups_trains(mirrored_strategy):
  """The original's strided groups are per replica (as its per-GPU D): two
  replicas group examples {0..3} and {4..7} of 8, one replica {0, 2, 4, 6}
  and {1, 3, 5, 7}; the step runs and differs from one replica's."""
  features = step_inputs(8)
  m1, _, _ = _train_once(tf.distribute.get_strategy(), features, False, "strided")
  m2, w2, _ = _train_once(mirrored_strategy, features, False, "strided")
  assert all(np.isfinite(v) for v in m2.values())
  assert all(np.all(np.isfinite(w)) for _, w in w2)
  assert m1["d_loss_real"] != pytest.approx(m2["d_loss_real"], rel=1e-6)
