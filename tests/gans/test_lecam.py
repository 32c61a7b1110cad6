"""LeCam regularization (google/lecam-gan): both flavours against their
originals transcribed here, in every GAN class, across replicas, under XLA
and across a checkpoint."""


import gin
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.training import moving_averages

from compare_gan2.gans import ModularGAN, SSGAN, make_step_inputs
from compare_gan2.gans.lecam import LeCamBigGAN, LeCamStyleGAN2
from compare_gan2.gans.regularizer import make_regularizer
from compare_gan2.core.registry import REGISTRIES, UnknownNameError
from gan_cases import NUM_CLASSES, Z_DIM, class_step as _class_step, make_gan, step_inputs
from run_cases import (assert_close_values, assert_resume_equals_uninterrupted,
                       checkpoint_values, plain_and_compiled_loops)
from tiny_configs import GAN_CLASSES


def _logit_sequence(steps, batch=6, seed=0):
  """(real, fake) D logits [batch, 1] per step, drifting apart as in training."""
  rng = np.random.RandomState(seed)
  return [((1.0 + 0.3 * t + rng.randn(batch, 1)).astype(np.float32),
           (-0.5 - 0.2 * t + rng.randn(batch, 1)).astype(np.float32))
          for t in range(steps)]


def _relu(x):
  return np.maximum(x, 0.0)


# --- lecam_stylegan2: stylegan2/lecam_loss.py ------------------------------------

def _stylegan2_original(sequence, decay=0.99):
  """lecamreg(), transcribed: assign_moving_average(decay, zero_debias=True)
  of the batch means, then the regularizer with the updated EMAs."""
  one_minus = np.float32(1.0 - decay)
  biased = {"real": np.float32(0), "fake": np.float32(0)}
  local_step, out = np.float32(0), []
  for real, fake in sequence:
    local_step += np.float32(1)
    ema = {}
    for name, scores in (("real", real), ("fake", fake)):
      biased[name] = biased[name] - (biased[name] - scores.mean()) * one_minus
      ema[name] = biased[name] / (np.float32(1) - (np.float32(1) - one_minus) ** local_step)
    reg = (np.mean(np.square(_relu(real - ema["fake"])))
           + np.mean(np.square(_relu(ema["real"] - fake))))
    out.append((reg, ema["real"], ema["fake"]))
  return out


def _tf_assign_moving_average(values, decay=0.99):
  """TensorFlow's own op, as the original calls it (graph mode, TF1 style)."""
  graph = tf.Graph()
  with graph.as_default():
    var = tf.compat.v1.Variable(0.0, shape=(), dtype=tf.float32, trainable=False)
    x = tf.compat.v1.placeholder(tf.float32, [])
    op = moving_averages.assign_moving_average(var, x, decay=decay, zero_debias=True)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return [sess.run(op, {x: v}) for v in values]


def test_stylegan2_flavour_matches_the_original():
  sequence = _logit_sequence(8)
  reg = LeCamStyleGAN2(weight=0.7)
  ours = [reg(tf.constant(r), tf.constant(f), tf.constant(t, tf.int64))
          for t, (r, f) in enumerate(sequence)]
  expected = _stylegan2_original(sequence)
  tf_real = _tf_assign_moving_average([r.mean() for r, _ in sequence])
  for (weighted, metrics), (e_reg, e_real, e_fake), t_real in zip(ours, expected, tf_real):
    np.testing.assert_allclose(float(metrics["lecam"]), e_reg, rtol=1e-6)
    np.testing.assert_allclose(float(weighted), 0.7 * e_reg, rtol=1e-6)
    np.testing.assert_allclose(float(metrics["lecam_ema_real"]), e_real, rtol=1e-6)
    np.testing.assert_allclose(float(metrics["lecam_ema_fake"]), e_fake, rtol=1e-6)
    np.testing.assert_allclose(float(metrics["lecam_ema_real"]), t_real, rtol=1e-6)
  # Zero debiasing: the first EMA is the first mean, not 1% of it.
  np.testing.assert_allclose(float(ours[0][1]["lecam_ema_real"]), sequence[0][0].mean(),
                             rtol=1e-5)


# --- lecam_biggan: biggan_cifar/losses.py, third_party/utils.py ema_losses -------

class _EmaLosses:
  """utils.ema_losses, transcribed (D_real and D_fake only)."""

  def __init__(self, init=1000., decay=0.9, start_itr=0):
    self.D_real, self.D_fake = init, init
    self.decay, self.start_itr = decay, start_itr

  def update(self, cur, mode, itr):
    decay = 0.0 if itr < self.start_itr else self.decay
    setattr(self, mode, getattr(self, mode) * decay + cur * (1 - decay))


def _biggan_original(sequence, num_d_steps, start_itr, lc):
  """train_fns.GAN_training_function's D steps: loss_hinge_dis updates the
  EMAs, then lecam_reg * LC if itr > start_itr (itr counts G steps)."""
  ema, out = _EmaLosses(start_itr=start_itr), []
  for i, (dis_real, dis_fake) in enumerate(sequence):
    itr = i // num_d_steps
    ema.update(float(np.mean(dis_fake)), "D_fake", itr)
    ema.update(float(np.mean(dis_real)), "D_real", itr)
    reg = (np.mean(_relu(dis_real - ema.D_fake) ** 2)
           + np.mean(_relu(ema.D_real - dis_fake) ** 2))
    out.append((reg * lc if itr > start_itr else 0.0, ema.D_real, ema.D_fake))
  return out


@pytest.mark.parametrize("start_itr", [0, 2])
def test_biggan_flavour_matches_the_original(start_itr):
  """Two D steps per G step; the start iteration switches the decay and the
  term; with start 0 the initial 1000 enters the EMA."""
  num_d_steps, sequence = 2, _logit_sequence(12)
  reg = LeCamBigGAN(weight=0.3, start_step=start_itr)
  expected = _biggan_original(sequence, num_d_steps, start_itr, lc=0.3)
  for i, ((real, fake), (e_loss, e_real, e_fake)) in enumerate(zip(sequence, expected)):
    weighted, metrics = reg(tf.constant(real), tf.constant(fake),
                            tf.constant(i // num_d_steps, tf.int64))
    np.testing.assert_allclose(float(weighted), e_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(metrics["lecam_ema_real"]), e_real, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["lecam_ema_fake"]), e_fake, rtol=1e-5)
  assert any(e == 0.0 for e, _, _ in expected) and any(e > 0 for e, _, _ in expected)


def test_regularizer_is_stop_gradient_in_its_emas():
  """d(weight * R)/d(logits): the EMAs are constants (their own dependence
  on the logits is cut), as in both originals."""
  real = tf.constant([[0.5], [2.0], [-1.0]])
  fake = tf.constant([[0.1], [-2.0], [1.5]])
  reg = LeCamStyleGAN2(weight=1.0)
  with tf.GradientTape() as tape:
    tape.watch([real, fake])
    weighted, metrics = reg(real, fake, tf.constant(0, tf.int64))
  g_real, g_fake = tape.gradient(weighted, [real, fake])
  a_r, a_f = float(metrics["lecam_ema_real"]), float(metrics["lecam_ema_fake"])
  np.testing.assert_allclose(g_real.numpy(), 2 * _relu(real.numpy() - a_f) / 3, rtol=1e-5)
  np.testing.assert_allclose(g_fake.numpy(), -2 * _relu(a_r - fake.numpy()) / 3, rtol=1e-5)


# --- In every GAN class ------------------------------------------------------------

def _class_gan(name, regularizer, policy="", **extra):
  arch, conditional, bindings, kwargs = GAN_CLASSES[name]
  base = make_gan(arch, conditional=conditional,
                  bindings=[*bindings, f"DiffAugment.policy = '{policy}'"])
  return REGISTRIES["gan"].get(name)(
      generator=base.generator, discriminator=base.discriminator,
      num_classes=NUM_CLASSES if conditional else 0, d_regularizer=regularizer,
      **kwargs, **extra)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("policy", ["", "translation,cutout"])
@pytest.mark.parametrize("name", sorted(GAN_CLASSES))
def test_every_gan_class_adds_weight_times_lecam_to_d_loss(name, policy):
  """Same networks and inputs with weight 0.5 and weight 0: D's loss differs
  by exactly 0.5 * R; the EMAs are logged and held by the GAN."""
  runs = []
  for weight in (0.5, 0.0):
    gin.clear_config()
    gan = _class_gan(name, LeCamStyleGAN2(weight=weight), policy)
    runs.append((gan, _class_step(gan)))
  (gan, with_reg), (_, without) = runs
  for key in ("lecam", "lecam_ema_real", "lecam_ema_fake"):
    assert np.isfinite(float(with_reg[key])), key
  assert float(with_reg["lecam"]) > 0.0
  assert float(with_reg["lecam"]) == pytest.approx(float(without["lecam"]), rel=1e-5)
  np.testing.assert_allclose(float(with_reg["d_loss"]) - float(without["d_loss"]),
                             0.5 * float(with_reg["lecam"]), rtol=1e-4, atol=1e-6)
  state = {v.name.split(":")[0]: float(v.numpy()) for v in gan.d_regularizer.variables}
  assert state["lecam_local_step"] == 1.0
  assert state["lecam_ema_real"] == float(with_reg["lecam_ema_real"])
  assert "d_regularizer" in gan.checkpoint_items()


@pytest.mark.parametrize("flavour", ["lecam_stylegan2", "lecam_biggan"])
def test_emas_average_d_logits_on_the_step_batch(flavour):
  """After the first D step both flavours' EMAs are D's mean logits on that
  step's reals and fakes (before D's update)."""
  gan = make_gan("dcgan_arch", batch_norm_g=False, d_regularizer=flavour)
  inputs = step_inputs(gan)
  fake = gan.generator(inputs["z"][:, 0], None, training=True)
  (_, real_logits, _), (_, fake_logits, _) = gan.run_discriminator(
      inputs["images"][:, 0], None, fake, None)
  metrics = gan.train_step(inputs)
  np.testing.assert_allclose(float(metrics["lecam_ema_real"]),
                             float(tf.reduce_mean(real_logits)), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(float(metrics["lecam_ema_fake"]),
                             float(tf.reduce_mean(fake_logits)), rtol=1e-5, atol=1e-6)
  if flavour == "lecam_biggan":  # step 0 <= start_step 1000: not yet added
    assert float(metrics["lecam"]) == 0.0


# --- gin, names ----------------------------------------------------------------

def test_gin_selects_a_flavour_for_subclasses_too():
  gin.parse_config(["ModularGAN.d_regularizer = @lecam_biggan",
                    "lecam_biggan.weight = 0.05", "lecam_biggan.start_step = 7"])
  base = make_gan("dcgan_arch")
  gan = SSGAN(generator=base.generator, discriminator=base.discriminator)
  assert isinstance(base.d_regularizer, LeCamBigGAN)
  assert isinstance(gan.d_regularizer, LeCamBigGAN)
  assert (gan.d_regularizer.weight, gan.d_regularizer.start_step) == (0.05, 7)
  assert make_gan("dcgan_arch", d_regularizer=None).d_regularizer is None


def test_unknown_flavour_names_the_close_match():
  with pytest.raises(UnknownNameError, match="Did you mean: lecam_stylegan2"):
    make_regularizer("lecam_stylegan")
  with pytest.raises(UnknownNameError, match="lecam_biggan"):
    make_gan("dcgan_arch", d_regularizer="lecam_bigan")


@pytest.mark.parametrize("make,message", [
    (lambda: LeCamStyleGAN2(decay=1.0), "lecam_stylegan2.decay must be in"),
    (lambda: LeCamBigGAN(weight=-0.1), "lecam_biggan.weight must be >= 0"),
    (lambda: LeCamBigGAN(start_step=-1), "lecam_biggan.start_step must be >= 0")])
def test_bad_settings_are_one_clear_error(make, message):
  with pytest.raises(ValueError, match=message):
    make()


# --- Replicas and XLA -------------------------------------------------------------

_SGD = ["ModularGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.g_lr = 0.01"]


def _two_steps(strategy, features, flavour, jit=False):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan("dcgan_arch", conditional=True, bindings=_SGD, disc_iters=2,
                   d_regularizer=flavour, jit_compile=jit)
  dataset = tf.data.Dataset.from_tensor_slices(features).batch(
      int(features["images"].shape[0]))
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for _ in range(2):
    for batch in strategy.experimental_distribute_dataset(dataset):
      metrics = step(batch)
  state = [v.numpy() for v in gan.d_regularizer.variables]
  return {k: float(v) for k, v in metrics.items()}, state


def _features():
  rng = np.random.RandomState(0)
  return make_step_inputs(rng.rand(16, 16, 16, 3).astype(np.float32),
                          rng.randint(0, NUM_CLASSES, 16), disc_iters=2,
                          z_dim=Z_DIM, num_classes=NUM_CLASSES, seed=0)


@pytest.mark.parametrize("flavour", ["lecam_stylegan2", "lecam_biggan"])
def test_mirrored_emas_equal_single_replica(mirrored_strategy, flavour):
  """Two replicas, the same global batch: the EMAs (means over replicas),
  the regularizer and the losses equal one replica's."""
  features = _features()
  m1, s1 = _two_steps(tf.distribute.get_strategy(), features, flavour)
  m2, s2 = _two_steps(mirrored_strategy, features, flavour)
  for a, b in zip(s1, s2):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  for key in ("lecam", "lecam_ema_real", "lecam_ema_fake", "d_loss"):
    assert m1[key] == pytest.approx(m2[key], rel=1e-4, abs=1e-6), key


def test_jit_compile_gives_the_same_emas(mirrored_strategy):
  features = _features()
  m1, s1 = _two_steps(tf.distribute.get_strategy(), features, "lecam_stylegan2")
  m2, s2 = _two_steps(tf.distribute.get_strategy(), features, "lecam_stylegan2", jit=True)
  for a, b in zip(s1, s2):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert m1["lecam"] == pytest.approx(m2["lecam"], rel=1e-4, abs=1e-6)
  # Several replicas under XLA compile each replica's loss alone: refused.
  gin.clear_config()
  with mirrored_strategy.scope():
    gan = make_gan("dcgan_arch", batch_norm_g=False, d_regularizer="lecam_biggan",
                   jit_compile=True)
  with pytest.raises(ValueError, match="averages D's outputs over replicas"):
    gan.distributed_train_step(mirrored_strategy, step_inputs(gan))


# --- Checkpoints ---------------------------------------------------------------------

def test_checkpoint_restores_the_emas(tmp_path):
  def build():
    return make_gan("dcgan_arch", d_regularizer="lecam_stylegan2")
  gan = build()
  for seed in range(3):
    gan.train_step(step_inputs(gan, seed=seed))
  path = tf.train.Checkpoint(**gan.checkpoint_items()).save(str(tmp_path / "ckpt"))
  fresh = build()
  saved = [v.numpy() for v in gan.d_regularizer.variables]
  assert any(a != b.numpy() for a, b in zip(saved, fresh.d_regularizer.variables))
  tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_consumed()
  for a, b in zip(saved, fresh.d_regularizer.variables):
    assert a == b.numpy()


def test_resumed_run_equals_uninterrupted(tmp_path, caplog):
  """Stop at 4, resume to 8 (the BigGAN flavour starting at step 2): the same
  EMAs, weights and optimizer state as one run to 8; the EMAs are in the
  progress line."""
  caplog.set_level("INFO", logger="compare_gan2")
  bindings = ["ModularGAN.d_regularizer = 'lecam_biggan'", "lecam_biggan.start_step = 2"]
  _, full = assert_resume_equals_uninterrupted(tmp_path, bindings)
  emas = [v for k, v in checkpoint_values(full).items() if k.startswith("d_regularizer")]
  assert len(emas) == 2 and all(abs(float(v)) < 1000.0 for v in emas)
  lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
  assert "lecam_ema_real" in lines[-1] and "lecam_ema_fake" in lines[-1]


# Two XLA compilations (about 35 s on 2 cores): the fast suite's XLA check is
# test_jit_compile_gives_the_same_emas.
@pytest.mark.slow
def test_compiled_loop_equals_the_plain_loop(tmp_path):
  """The Runner's loop of 3 steps XLA-compiled whole (`run_config.compile_loop`)
  with LeCam and DiffAugment: the same EMAs and weights as the plain loop."""
  plain, compiled = plain_and_compiled_loops(tmp_path, [
      "ModularGAN.d_regularizer = 'lecam_stylegan2'",
      "DiffAugment.policy = 'translation,cutout'"])
  assert sum(k.startswith("d_regularizer") for k in plain) == 5
  assert_close_values(plain, compiled)
