"""ModularGAN: one training step per architecture, loss and penalty; G/D
variables; disc_iters; EMA; labels; multi-replica equality."""

import itertools

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.core import registry
from compare_gan2.gans import ModularGAN, make_step_inputs
from tiny_configs import TINY
from gan_cases import NUM_CLASSES, Z_DIM, check_step, make_gan, step_inputs, values

LOSSES = registry.LOSSES.names()
PENALTIES = registry.PENALTIES.names()


# --- Every (loss, penalty) pair ------------------------------------------------
# One step per architecture, loss and penalty: tests/test_registered_parts.py.

def _pairwise_cases():
  """Every (loss, penalty) pair once, the architectures taken in turn, so each
  architecture also trains with several losses and penalties."""
  archs = sorted(TINY)
  pairs = itertools.product(LOSSES, PENALTIES)
  return [(archs[i % len(archs)], loss, penalty)
          for i, (loss, penalty) in enumerate(pairs)]


@pytest.mark.slow
@pytest.mark.parametrize("arch,loss,penalty", _pairwise_cases())
def test_step_loss_penalty_pairs(arch, loss, penalty):
  gan = make_gan(arch, conditional=True,
                 bindings=[f"loss.fn = @{loss}", f"penalty.fn = @{penalty}"])
  check_step(gan)


# --- Variables ----------------------------------------------------------------

# G/D/EMA variables apart and all reached by their loss: test_registered_parts.py.


def test_disc_iters_uses_separate_real_batches():
  gan = make_gan("resnet_biggan_arch", disc_iters=3)
  inputs = step_inputs(gan)
  assert inputs["images"].shape[1] == 3 and inputs["z"].shape[1] == 4
  check_step(gan)
  assert int(gan.d_optimizer.iterations.numpy()) == 3


def test_make_step_inputs_rejects_uneven_batch():
  with pytest.raises(ValueError, match="disc_iters=2"):
    make_step_inputs(np.zeros([5, 8, 8, 1]), np.zeros([5]), disc_iters=2, z_dim=4,
                     num_classes=0, seed=0)


def test_step_inputs_deterministic_and_distinct():
  a = make_step_inputs(np.zeros([4, 8, 8, 1]), np.zeros([4]), disc_iters=1,
                       z_dim=4, num_classes=5, seed=3, step=7)
  b = make_step_inputs(np.zeros([4, 8, 8, 1]), np.zeros([4]), disc_iters=1,
                       z_dim=4, num_classes=5, seed=3, step=7)
  c = make_step_inputs(np.zeros([4, 8, 8, 1]), np.zeros([4]), disc_iters=1,
                       z_dim=4, num_classes=5, seed=3, step=8)
  np.testing.assert_array_equal(a["z"], b["z"])
  assert not np.allclose(a["z"], c["z"])
  z = a["z"].numpy().reshape(-1, 4)
  assert len(np.unique(z[:, 0])) == len(z)  # every example its own draw
  assert np.all(np.abs(z) <= 1.0)  # U(-1, 1) by default
  seeds = a["seeds"].numpy().reshape(-1, 2)
  assert len({tuple(s) for s in seeds}) == len(seeds)


# --- EMA ------------------------------------------------------------------------

def test_ema_follows_formula():
  decay = 0.5
  gan = make_gan("resnet_biggan_arch", g_use_ema=True, ema_decay=decay,
                 ema_start_step=1)
  w0 = values(gan.generator.weights)
  np.testing.assert_array_equal(values(gan.ema_generator.weights)[0], w0[0])
  # Step 1 ends with global_step 1 >= start: ema = decay * ema + (1 - decay) * w1.
  # Before that the EMA equals the weights (checked with the next step's input).
  gan.global_step.assign(-1)  # the first step finishes before the start step
  gan.train_step(step_inputs(gan, seed=0))
  w1 = values(gan.generator.weights)
  for e, w in zip(gan.ema_generator.weights, w1):
    np.testing.assert_allclose(e.numpy(), w, atol=1e-6)
  gan.train_step(step_inputs(gan, seed=1))
  w2 = values(gan.generator.weights)
  for e, v, a, b in zip(gan.ema_generator.weights, gan.generator.weights, w1, w2):
    expected = decay * a + (1 - decay) * b if v.trainable else b
    np.testing.assert_allclose(e.numpy(), expected, rtol=1e-5, atol=1e-6)
  # Sampling uses the EMA generator, in inference mode.
  z = tf.random.stateless_uniform([2, Z_DIM], [1, 2], -1, 1)
  np.testing.assert_allclose(gan.sample(z), gan.ema_generator(z, None, training=False))


# --- Labels --------------------------------------------------------------------

def test_fit_label_distribution_uses_real_labels():
  gan = make_gan("resnet_biggan_arch", conditional=True, fit_label_distribution=True)
  inputs = gan._slot(step_inputs(gan), 0)
  y_real, y_fake = gan._labels(inputs)
  np.testing.assert_array_equal(y_real, y_fake)
  gan.fit_label_distribution = False
  _, y_fake = gan._labels(inputs)
  np.testing.assert_array_equal(
      y_fake, tf.one_hot(inputs["sampled_labels"], NUM_CLASSES))


def test_conditional_errors():
  with pytest.raises(ValueError, match="needs a dataset with labels"):
    make_gan("resnet_biggan_arch", conditional=False, batch_norm_g=False).__class__(
        generator=None, discriminator=None, conditional=True, num_classes=0)
  gan = make_gan("resnet_biggan_arch", conditional=True)
  with pytest.raises(ValueError, match="needs labels"):
    gan.sample(tf.zeros([2, Z_DIM]))
  g, d = gan.generator, gan.discriminator
  with pytest.raises(ValueError, match="num_classes=0"):
    ModularGAN(generator=g, discriminator=d, num_classes=NUM_CLASSES, conditional=False)


# --- Multi-replica -------------------------------------------------------------

def _train_once(strategy, arch, features, bindings):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan(arch, conditional=True, bindings=bindings,
                   disc_iters=2, g_use_ema=True, ema_start_step=0, ema_decay=0.5)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(
      int(features["images"].shape[0]))
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for batch in strategy.experimental_distribute_dataset(dataset):
    metrics = step(batch)
  weights = (gan.generator.weights + gan.discriminator.weights
             + gan.ema_generator.weights)
  return {k: float(v) for k, v in metrics.items()}, [(w.path, w.numpy()) for w in weights]


# Compiling BigGAN's step for two replicas takes minutes: SNDCGAN runs by default.
# The penalty's and the augmentation's per-example draws split over replicas
# too (test_runner checks the plain step under the Runner).
@pytest.mark.parametrize("arch,penalty,policy", [
    ("sndcgan_arch", "wgangp_penalty", "color,translation,cutout"),
    pytest.param("resnet_biggan_arch", "wgangp_penalty", "", marks=pytest.mark.slow)])
def test_mirrored_equals_default(mirrored_strategy, arch, penalty, policy):
  """Same global batch and noise: two replicas with synchronised batch norm in
  G give the weights of one replica (SGD, so no Adam sign noise); DiffAugment
  draws per example, so it splits over replicas too."""
  bindings = ["G.spectral_norm = True", "D.spectral_norm = True",
              f"penalty.fn = @{penalty}", f"DiffAugment.policy = '{policy}'",
              "ModularGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
              "ModularGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer",
              "ModularGAN.g_lr = 0.01"]
  resolution, colors, _ = TINY[arch]
  rng = np.random.RandomState(0)
  features = make_step_inputs(rng.rand(16, resolution, resolution, colors).astype(np.float32),
                              rng.randint(0, NUM_CLASSES, 16), disc_iters=2,
                              z_dim=Z_DIM, num_classes=NUM_CLASSES, seed=0)
  m1, w1 = _train_once(tf.distribute.get_strategy(), arch, features, bindings)
  m2, w2 = _train_once(mirrored_strategy, arch, features, bindings)
  for key in m1:
    assert m1[key] == pytest.approx(m2[key], rel=1e-4, abs=1e-5), key
  for (name, a), (_, b) in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-4, err_msg=name)
  assert len(w1) == len(w2)


def test_jit_compile_gives_the_same_step(mirrored_strategy):
  """The XLA-compiled step computes what the plain one does; with several
  replicas it refuses networks with batch norm or spectral norm (their
  cross-replica sums cannot sit inside XLA)."""
  runs = []
  for jit in (False, True):
    gin.clear_config()
    gan = make_gan("sndcgan_arch", conditional=True, g_use_ema=True, ema_start_step=0,
                   bindings=["G.spectral_norm = True", "D.spectral_norm = True",
                             "penalty.fn = @wgangp_penalty"], jit_compile=jit)
    step = tf.function(lambda f, gan=gan: gan.distributed_train_step(
        tf.distribute.get_strategy(), f))
    for seed in range(2):
      metrics = step(step_inputs(gan, seed=seed))
    runs.append(({k: float(v) for k, v in metrics.items()},
                 [w.numpy() for w in gan.generator.weights + gan.discriminator.weights
                  + gan.ema_generator.weights]))
  (m1, w1), (m2, w2) = runs
  for key in m1:
    assert m1[key] == pytest.approx(m2[key], rel=1e-4, abs=1e-5), key
  for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-5)
  with mirrored_strategy.scope():
    gan = make_gan("sndcgan_arch", jit_compile=True)
  with pytest.raises(ValueError, match="docs/xla_multi_replica.md"):
    gan.distributed_train_step(mirrored_strategy, step_inputs(gan))


@pytest.mark.parametrize("arch", ["sndcgan_arch", "resnet_cifar_arch"])
def test_mixed_precision_computes_in_bfloat16(arch):
  """Layers compute in bfloat16 on float32 weights; outputs and losses are
  float32; the global policy is left as it was."""
  resolution, colors, tiny = TINY[arch]
  gin.parse_config(list(tiny) + ["G.batch_norm_fn = @conditional_batch_norm",
                                 "D.spectral_norm = True"])
  keras.utils.set_random_seed(0)
  g, d = architectures.build(arch, resolution=resolution, colors=colors, z_dim=Z_DIM,
                             num_classes=NUM_CLASSES, mixed_precision=True)
  assert keras.config.dtype_policy().name == "float32"
  layers = [l for net in (g, d) for l in net._flatten_layers() if l.weights]
  assert {l.compute_dtype for l in layers} == {"bfloat16"}
  assert {w.dtype for w in g.weights + d.weights} == {"float32"}
  keras.utils.set_random_seed(0)
  g32, _ = architectures.build(arch, resolution=resolution, colors=colors, z_dim=Z_DIM,
                               num_classes=NUM_CLASSES)
  for a, b in zip(g32.weights, g.weights):
    a.assign(b)
  z = tf.random.stateless_uniform([4, Z_DIM], [0, 1], -1, 1)
  y = tf.one_hot([0, 1, 2, 3], NUM_CLASSES)
  low, full = g(z, y, training=False), g32(z, y, training=False)
  assert low.dtype == tf.float32
  difference = float(tf.reduce_max(tf.abs(low - full)))
  assert 0 < difference < 0.05  # bfloat16 has an 8-bit mantissa
  gan = ModularGAN(generator=g, discriminator=d, num_classes=NUM_CLASSES,
                   conditional=True)
  metrics = gan.train_step(step_inputs(gan))
  assert all(v.dtype == tf.float32 and np.isfinite(float(v)) for v in metrics.values())


# --- Checkpoints ----------------------------------------------------------------

def test_checkpoint_restores_every_variable(tmp_path):
  """All weights (batch-norm statistics, spectral-norm vectors, EMA) and the
  optimizer slots survive a save and a restore into a fresh GAN."""
  def build():
    return make_gan("resnet_biggan_arch", conditional=True, g_use_ema=True,
                    ema_start_step=0, bindings=["G.spectral_norm = True",
                                                "D.spectral_norm = True"])
  gan = build()
  gan.train_step(step_inputs(gan))
  path = tf.train.Checkpoint(**gan.checkpoint_items()).save(str(tmp_path / "ckpt"))
  fresh = build()

  def state(g):
    return [v.numpy() for v in (
        g.generator.weights + g.discriminator.weights + g.ema_generator.weights
        + g.g_optimizer.variables + g.d_optimizer.variables + [g.global_step])]

  saved = state(gan)
  assert any(not np.array_equal(a, b) for a, b in zip(saved, state(fresh)))
  tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_consumed()
  for a, b in zip(saved, state(fresh)):
    np.testing.assert_array_equal(a, b)


# --- G step latents (compare_gan's model_fn reuses the last D step's) -------------

def test_g_step_reuses_last_d_step_latents():
  """With the knob, a step equals the default step on inputs whose G slot holds
  the last D slot's z and sampled labels; without it, the G slot's own."""
  def trained(reuse, copy_latents):
    gan = make_gan("dcgan_arch", conditional=True, disc_iters=2,
                   g_step_reuses_d_latents=reuse)
    inputs = step_inputs(gan)
    if copy_latents:
      for key in ("z", "sampled_labels"):
        x = inputs[key].numpy()
        x[:, 2] = x[:, 1]
        inputs[key] = tf.constant(x)
    gan.train_step(inputs)
    return values(gan.generator.trainable_variables)

  reused = trained(reuse=True, copy_latents=False)
  for a, b in zip(reused, trained(reuse=False, copy_latents=True)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  own = trained(reuse=False, copy_latents=False)
  assert any(not np.allclose(a, b) for a, b in zip(reused, own))


# --- Simultaneous updates (ALI's and PacGAN's ali_algorithm) ---------------------

_SGD = [f"ModularGAN.{net}_optimizer_fn = @tf.train.GradientDescentOptimizer"
        for net in ("g", "d")]


def test_simultaneous_updates_take_both_gradients_at_the_same_weights():
  """ali_algorithm: theano.grad of D's loss and of G's loss in one graph, at
  the current weights, on one batch and one z, then both steps. Here: both
  gradients taken on a copy before any update, SGD applied in numpy."""
  def gan_and_inputs(**kwargs):
    gin.clear_config()
    # A large rate: at initialisation the gradients are ~1e-6.
    gan = make_gan("dcgan_arch", bindings=_SGD, g_lr=100.0, **kwargs)
    return gan, step_inputs(gan)

  reference, inputs = gan_and_inputs()
  slot = {k: v[:, 0] for k, v in inputs.items()}
  with tf.GradientTape(persistent=True) as tape:
    fake = reference.generator(slot["z"], None, training=True)
    d_real = reference.discriminator(slot["images"], None, training=True)[1]
    d_fake = reference.discriminator(fake, None, training=True)[1]
    softplus = tf.nn.softplus
    d_loss = tf.reduce_mean(softplus(-d_real)) + tf.reduce_mean(softplus(d_fake))
    g_loss = tf.reduce_mean(softplus(-d_fake))
  expected_d = [w.numpy() - 100.0 * g.numpy() for w, g in zip(
      reference.discriminator.trainable_variables,
      tape.gradient(d_loss, reference.discriminator.trainable_variables))]
  expected_g = [w.numpy() - 100.0 * g.numpy() for w, g in zip(
      reference.generator.trainable_variables,
      tape.gradient(g_loss, reference.generator.trainable_variables))]
  gan, inputs = gan_and_inputs(simultaneous_updates=True)
  gan.train_step(inputs)
  for want, got in zip(expected_d + expected_g, values(
      gan.discriminator.trainable_variables + gan.generator.trainable_variables)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
  assert int(gan.global_step.numpy()) == 1
  # G ran once in the original's step: its batch-norm population statistics
  # took one update, the reference's forward pass.
  statistics = [v for v in reference.generator.non_trainable_variables if "moving" in v.path]
  assert len(statistics) == 8
  for want, got in zip(values(statistics), values(
      [v for v in gan.generator.non_trainable_variables if "moving" in v.path])):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  moved = max(np.abs(a - b.numpy()).max() for a, b in zip(
      expected_g, reference.generator.trainable_variables))
  assert moved > 1e-4
  # Alternating (the default): G's gradient sees the updated D.
  alternating, _ = gan_and_inputs(g_step_reuses_d_latents=True)
  alternating.train_step(inputs)
  assert max(np.abs(a - b).max() for a, b in zip(
      expected_g, values(alternating.generator.trainable_variables))) > 1e-5
  with pytest.raises(ValueError, match="needs disc_iters = 1"):
    make_gan("dcgan_arch", simultaneous_updates=True, disc_iters=2)
