"""Consistency regularization (CR, bCR, zCR): each term against the papers'
formula in numpy on the same tiny D and G and the same random draws, the
gradients the papers prescribe, every GAN class, replicas, XLA, names."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.augment import diffaugment as augment
from compare_gan2.gans import consistency as cr_lib
from compare_gan2.gans.consistency import BalancedCR, CR, LatentCR
from compare_gan2.gans.lecam import LeCamStyleGAN2
from compare_gan2.gans.regularizer import DStep, GStep
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import REGISTRIES, UnknownNameError
from gan_cases import NUM_CLASSES, class_step, make_gan, two_distributed_steps
from run_cases import assert_close_values, plain_and_compiled_loops
from tiny_configs import GAN_CLASSES

B, H, W, C, K, ZD = 6, 8, 8, 2, 3, 5


# --- The papers' T in numpy --------------------------------------------------------

def _numpy_transform(x, seeds, salt, ratio=0.125, padding="reflect", flips=True):
  """Flip left-right where the example's draw < 1/2 (if `flips`), then shift
  by (dy, dx) with np.pad (reflect or zeros): out[i, j] = padded[i - dy, j - dx]."""
  flip = per_example_uniform(seeds, [1, 1, 1], salt).numpy()[:, 0, 0, 0] < 0.5
  flip &= flips
  offsets = augment.random_offsets(seeds, salt + 1, x.shape[1:3], ratio).numpy()
  out = np.empty_like(x)
  for b in range(x.shape[0]):
    img = x[b, :, ::-1] if flip[b] else x[b]
    s = max(x.shape[1], x.shape[2])
    mode = "reflect" if padding == "reflect" else "constant"
    padded = np.pad(img, [(s - 1, s - 1), (s - 1, s - 1), (0, 0)], mode=mode)
    dy, dx = offsets[b]
    out[b] = padded[s - 1 - dy:s - 1 - dy + x.shape[1], s - 1 - dx:s - 1 - dx + x.shape[2]]
  return out, flip, offsets


@pytest.mark.parametrize("padding, flips", [("reflect", True), ("zeros", True), ("reflect", False)])
def test_transform_is_flip_then_shift_as_numpy(padding, flips):
  """T as numpy computes it; `cr.flip = False` / `bcr.flip = False` (data
  whose meaning a mirror changes) keeps the same shifts without the flip."""
  rng = np.random.RandomState(0)
  x = rng.rand(16, 8, 8, 3).astype(np.float32)
  seeds = tf.constant([[3, i] for i in range(16)], tf.int32)
  ours = cr_lib.consistency_transform(
      tf.constant(x), seeds, 11, padding=padding, flip=flips).numpy()
  expected, flip, offsets = _numpy_transform(x, seeds, 11, padding=padding, flips=flips)
  np.testing.assert_array_equal(ours, expected)
  # The draws cover both flips and shifts up to 1 pixel at 8 (int(8/8 + 0.5)).
  assert flip.any() == flips and not flip.all()
  assert offsets.min() == -1 and offsets.max() == 1
  if not flips:
    for reg in (CR(flip=False), BalancedCR(flip=False)):
      np.testing.assert_array_equal(reg.transform(tf.constant(x), seeds, 11).numpy(), expected)


# --- A tiny D and G, in TensorFlow and in numpy --------------------------------------

def _weights(seed=0):
  rng = np.random.RandomState(seed)
  return {"w": rng.randn(H * W * C, 1).astype(np.float32) * 0.3,
          "v": rng.randn(H * W * C, K).astype(np.float32) * 0.3,
          "g": rng.randn(ZD, H * W * C).astype(np.float32)}


def _np_d(x, y, p):
  """Logits of a projection D: x.w + <y, x.V>."""
  flat = x.reshape(x.shape[0], -1)
  return flat @ p["w"] + np.sum(y * (flat @ p["v"]), axis=1, keepdims=True)


def _np_g(z, p):
  return (1.0 / (1.0 + np.exp(-(z @ p["g"])))).reshape(-1, H, W, C)


def _tf_parts(p):
  w, v, g = (tf.Variable(p[k]) for k in ("w", "v", "g"))

  def discriminate(x, y, is_real):
    del is_real
    flat = tf.reshape(x, [tf.shape(x)[0], -1])
    return flat @ w + tf.reduce_sum(y * (flat @ v), axis=1, keepdims=True)

  def generate(z, y):
    del y
    return tf.reshape(tf.sigmoid(z @ g), [-1, H, W, C])

  return (w, v, g), discriminate, generate


def _inputs(seed=1):
  rng = np.random.RandomState(seed)
  real = rng.rand(B, H, W, C).astype(np.float32)
  z = rng.randn(B, ZD).astype(np.float32)
  y = np.eye(K, dtype=np.float32)[rng.randint(0, K, B)]
  seeds = tf.constant([[7, i] for i in range(B)], tf.int32)
  return real, z, y, seeds


def _d_step(p, discriminate, generate, real, z, y, seeds):
  fake = tf.stop_gradient(generate(tf.constant(z), y))  # as the GAN's D step
  return DStep(real=tf.constant(real), y_real=tf.constant(y), fake=fake,
               y_fake=tf.constant(y), real_logits=discriminate(real, y, True),
               fake_logits=discriminate(fake, y, False), z=tf.constant(z), seeds=seeds,
               step=tf.constant(0, tf.int64), discriminate=discriminate, generate=generate)


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_cr_and_bcr_equal_the_papers_formula(padding):
  """cr: lambda ||D(x) - D(T(x))||^2; bcr adds lambda_fake ||D(G(z)) -
  D(T(G(z)))||^2; the mean over the batch of the squared logit difference."""
  p = _weights()
  _, discriminate, generate = _tf_parts(p)
  real, z, y, seeds = _inputs()
  step = _d_step(p, discriminate, generate, real, z, y, seeds)
  fake = _np_g(z, p)
  t_real, *_ = _numpy_transform(real, seeds, cr_lib.REAL_T_SALT, padding=padding)
  t_fake, *_ = _numpy_transform(fake, seeds, cr_lib.FAKE_T_SALT, padding=padding)
  e_real = np.mean((_np_d(real, y, p) - _np_d(t_real, y, p)) ** 2)
  e_fake = np.mean((_np_d(fake, y, p) - _np_d(t_fake, y, p)) ** 2)
  assert e_real > 1e-3 and e_fake > 1e-3

  weighted, metrics = CR(padding=padding).d_term(step)
  np.testing.assert_allclose(float(metrics["cr_real"]), e_real, rtol=1e-5)
  np.testing.assert_allclose(float(weighted), 10.0 * e_real, rtol=1e-5)
  weighted, metrics = BalancedCR(lambda_real=3.0, lambda_fake=7.0,
                                 padding=padding).d_term(step)
  np.testing.assert_allclose(float(metrics["bcr_real"]), e_real, rtol=1e-5)
  np.testing.assert_allclose(float(metrics["bcr_fake"]), e_fake, rtol=1e-5)
  np.testing.assert_allclose(float(weighted), 3.0 * e_real + 7.0 * e_fake, rtol=1e-5)


def test_cr_gradient_flows_through_both_sides():
  """d/dw of ||D(x) - D(T(x))||^2 with D linear: 2 mean_b d_b (x_b - T(x_b)),
  d_b = (x_b - T(x_b)).w. A stop-gradient on either side would halve it or
  flip its sign."""
  p = _weights()
  (w, _, _), discriminate, generate = _tf_parts({**p, "v": np.zeros_like(p["v"])})
  real, z, y, seeds = _inputs()
  with tf.GradientTape() as tape:
    step = _d_step(p, discriminate, generate, real, z, y, seeds)
    weighted, _ = CR(weight=1.0).d_term(step)
  ours = tape.gradient(weighted, w).numpy()
  t_real, *_ = _numpy_transform(real, seeds, cr_lib.REAL_T_SALT)
  diff = (real - t_real).reshape(B, -1)
  expected = 2.0 * diff.T @ (diff @ p["w"]) / B
  np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_zcr_equals_the_papers_formula_and_g_maximizes_sensitivity():
  """D: lambda_dis ||D(G(z)) - D(G(z + dz))||^2; G: -lambda_gen ||G(z) -
  G(z + dz)||^2 (mean over pixels), dz = sigma * N(0, 1) from the seeds.
  G's term pushes G(z) and G(z + dz) apart: a gradient step on it grows the
  distance; D's term reaches D's weights only (G's images are constants)."""
  p = _weights()
  (w, _, g), discriminate, generate = _tf_parts(p)
  real, z, y, seeds = _inputs()
  reg = LatentCR(lambda_dis=5.0, lambda_gen=0.5, sigma_noise=0.03)
  dz = cr_lib.per_example_normal(seeds, ZD, cr_lib.NOISE_SALT).numpy()
  moved = z + 0.03 * dz
  e_dis = np.mean((_np_d(_np_g(z, p), y, p) - _np_d(_np_g(moved, p), y, p)) ** 2)
  e_gen = np.mean((_np_g(z, p) - _np_g(moved, p)) ** 2)
  assert e_dis > 0 and e_gen > 0

  with tf.GradientTape(persistent=True) as tape:
    step = _d_step(p, discriminate, generate, real, z, y, seeds)
    d_weighted, d_metrics = reg.d_term(step)
    fake = generate(tf.constant(z), y)
    g_weighted, g_metrics = reg.g_term(GStep(fake=fake, z=tf.constant(z), y_fake=y,
                                             seeds=seeds, step=step.step,
                                             generate=generate))
  np.testing.assert_allclose(float(d_metrics["zcr_dis"]), e_dis, rtol=1e-4)
  np.testing.assert_allclose(float(d_weighted), 5.0 * e_dis, rtol=1e-4)
  np.testing.assert_allclose(float(g_metrics["zcr_gen"]), e_gen, rtol=1e-4)
  np.testing.assert_allclose(float(g_weighted), -0.5 * e_gen, rtol=1e-4)
  assert tape.gradient(d_weighted, g) is None
  assert np.abs(tape.gradient(d_weighted, w).numpy()).max() > 0
  grad = tape.gradient(g_weighted, g).numpy()
  stepped = {**p, "g": p["g"] - 10.0 * grad}
  assert np.mean((_np_g(z, stepped) - _np_g(moved, stepped)) ** 2) > e_gen


def test_latent_noise_is_standard_normal_per_example():
  seeds = tf.constant([[1, i] for i in range(4000)], tf.int32)
  draws = cr_lib.per_example_normal(seeds, 8, cr_lib.NOISE_SALT).numpy()
  assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1.0) < 0.02
  # The draw of an example depends on its seeds only (replica-independent).
  np.testing.assert_array_equal(
      cr_lib.per_example_normal(seeds[5:7], 8, cr_lib.NOISE_SALT).numpy(), draws[5:7])


# --- In every GAN class ----------------------------------------------------------------

_TERMS = {"cr": ("cr_real",), "bcr": ("bcr_real", "bcr_fake"), "zcr": ("zcr_dis",)}
_WEIGHTS = {"cr": {"weight": 10.0}, "bcr": {"lambda_real": 10.0, "lambda_fake": 10.0},
            "zcr": {"lambda_dis": 5.0, "lambda_gen": 0.5}}


def _class_gan(name, regularizer, policy=""):
  arch, conditional, bindings, kwargs = GAN_CLASSES[name]
  extra = [] if name == "ProgressiveGAN" else ["weights.initializer = 'orthogonal'"]
  gin.clear_config()
  base = make_gan(arch, conditional=conditional,
                  bindings=[*bindings, *extra, f"DiffAugment.policy = '{policy}'"])
  return REGISTRIES["gan"].get(name)(
      generator=base.generator, discriminator=base.discriminator,
      num_classes=NUM_CLASSES if conditional else 0, d_regularizer=regularizer, **kwargs)


def _class_step(gan):
  return {k: float(v) for k, v in class_step(gan).items()}


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("reg", sorted(_TERMS))
@pytest.mark.parametrize("name", sorted(GAN_CLASSES))
def test_every_gan_class_adds_the_weighted_terms(name, reg):
  """The same networks and inputs with the papers' weights and with 0: D's
  loss differs by the weighted terms; for zcr with only lambda_gen set to 0
  (D's update unchanged), G's loss differs by -lambda_gen * zcr_gen."""
  cls = REGISTRIES["regularizer"].get(reg)
  on, off = (_class_step(_class_gan(name, cls(**w)))
             for w in (_WEIGHTS[reg], {k: 0.0 for k in _WEIGHTS[reg]}))
  terms = _TERMS[reg]
  for key in terms:
    assert np.isfinite(on[key]) and on[key] > 0.0, key
    assert on[key] == pytest.approx(off[key], rel=1e-4, abs=1e-9), key
  weights = list(_WEIGHTS[reg].values())
  expected = sum(wt * on[k] for wt, k in zip(weights, terms))
  np.testing.assert_allclose(on["d_loss"] - off["d_loss"], expected, rtol=1e-3, atol=1e-6)
  if reg == "zcr":
    no_gen = _class_step(_class_gan(name, cls(lambda_dis=5.0, lambda_gen=0.0)))
    assert on["zcr_gen"] > 0.0
    np.testing.assert_allclose(on["g_loss"] - no_gen["g_loss"], -0.5 * on["zcr_gen"],
                               rtol=1e-3, atol=1e-7)
  else:
    assert "zcr_gen" not in on


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_bcr_sees_the_diffaugmented_images():
  """With DiffAugment, bCR's x is what D saw: D(x) is the step's logits."""
  metrics = _class_step(_class_gan("ModularGAN", "bcr", "translation,cutout"))
  assert metrics["bcr_real"] > 0 and metrics["bcr_fake"] > 0


def test_lecam_and_consistency_combine():
  """A list of regularizers: each term added once, LeCam's state checkpointed."""
  runs = {}
  for regs in (["lecam_stylegan2", "bcr", "zcr"], ["lecam_stylegan2"]):
    gan = _class_gan("ModularGAN", regs)
    runs[len(regs)] = (gan, _class_step(gan))
  (gan, both), (_, lecam) = runs[3], runs[1]
  assert isinstance(gan.d_regularizer, list) and len(gan.d_regularizer) == 3
  assert both["lecam"] == pytest.approx(lecam["lecam"], rel=1e-4)
  expected = 10.0 * (both["bcr_real"] + both["bcr_fake"]) + 5.0 * both["zcr_dis"]
  np.testing.assert_allclose(both["d_loss"] - lecam["d_loss"], expected, rtol=1e-3, atol=1e-6)
  assert len(gan.checkpoint_items()["d_regularizer"].variables) == 5
  assert "d_regularizer" not in _class_gan("ModularGAN", "bcr").checkpoint_items()


# --- Replicas and XLA ----------------------------------------------------------------

_SGD = ["ModularGAN.g_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.d_optimizer_fn = @tf.train.GradientDescentOptimizer",
        "ModularGAN.g_lr = 0.05", "weights.initializer = 'orthogonal'"]


def _two_steps(strategy, regs, jit=False):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan("dcgan_arch", conditional=True, bindings=_SGD, disc_iters=2,
                   batch_norm_g=False, d_regularizer=regs, jit_compile=jit)
  metrics = two_distributed_steps(strategy, gan)
  return metrics, [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]


def _assert_same(a, b):
  (m1, w1), (m2, w2) = a, b
  assert m1.keys() == m2.keys()
  for key in m1:
    assert m1[key] == pytest.approx(m2[key], rel=1e-3, abs=1e-6), key
  for x, y in zip(w1, w2):
    np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("regs", ["cr", ["bcr", "zcr"]])
def test_mirrored_equals_single_replica(mirrored_strategy, regs):
  """Two replicas, the same global batch, two steps: the same terms, losses
  and weights as one replica (per-example draws, losses over the global batch)."""
  single = _two_steps(tf.distribute.get_strategy(), regs)
  assert single[0]["zcr_gen" if "zcr" in regs else "cr_real"] > 0
  _assert_same(single, _two_steps(mirrored_strategy, regs))


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_jit_compile_equals_the_plain_step():
  """XLA on one device: the plain step's terms, losses and weights."""
  regs = ["bcr", "zcr"]
  _assert_same(_two_steps(tf.distribute.get_strategy(), regs),
               _two_steps(tf.distribute.get_strategy(), regs, jit=True))


# Each replica's D and G gradients compiled apart (about 2 minutes on 2 cores).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_jit_compile_on_two_replicas_equals_the_plain_step(mirrored_strategy):
  """XLA with two replicas (no all-reduce inside the terms, so the
  per-replica compilation is allowed): the plain step's values."""
  regs = ["bcr", "zcr"]
  _assert_same(_two_steps(tf.distribute.get_strategy(), regs),
               _two_steps(mirrored_strategy, regs, jit=True))


# Two XLA compilations (about 40 s on 2 cores): the fast suite's XLA check is
# test_jit_compile_equals_the_plain_step.
@pytest.mark.slow
def test_compiled_loop_equals_the_plain_loop(tmp_path, caplog):
  """The Runner's loop XLA-compiled whole (`run_config.compile_loop`) with
  bCR + zCR and DiffAugment: the weights of the plain loop; the terms are in
  the progress line."""
  caplog.set_level("INFO", logger="compare_gan2")
  plain, compiled = plain_and_compiled_loops(tmp_path, [
      "ModularGAN.d_regularizer = ['bcr', 'zcr']",
      "DiffAugment.policy = 'translation,cutout'"])
  assert not any(k.startswith("d_regularizer") for k in plain)  # no state
  assert_close_values(plain, compiled)
  lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
  assert all(k in lines[-1] for k in ("bcr_real", "bcr_fake", "zcr_dis", "zcr_gen"))


# --- Names and settings ---------------------------------------------------------------

def test_gin_selects_them_by_name():
  gin.parse_config(["ModularGAN.d_regularizer = ['bcr', @zcr]", "bcr.lambda_fake = 2.0",
                    "zcr.sigma_noise = 0.1", "bcr.padding = 'zeros'"])
  gan = make_gan("dcgan_arch")
  bcr, zcr = gan.d_regularizer
  assert isinstance(bcr, BalancedCR) and isinstance(zcr, LatentCR)
  assert (bcr.lambda_real, bcr.lambda_fake, bcr.padding) == (10.0, 2.0, "zeros")
  assert (zcr.lambda_dis, zcr.lambda_gen, zcr.sigma_noise) == (5.0, 0.5, 0.1)
  assert CR().weight == 10.0 and CR().padding == "reflect"


def test_unknown_names_give_the_close_match():
  with pytest.raises(UnknownNameError, match="Did you mean: bcr"):
    make_gan("dcgan_arch", d_regularizer="bcrr")
  with pytest.raises(UnknownNameError, match="zcr"):
    make_gan("dcgan_arch", d_regularizer=["lecam_biggan", "zrc"])


@pytest.mark.parametrize("make,message", [
    (lambda: CR(weight=-1.0), "cr.weight must be >= 0"),
    (lambda: BalancedCR(lambda_fake=-0.5), "bcr.lambda_fake must be >= 0"),
    (lambda: LatentCR(sigma_noise=float("nan")), "zcr.sigma_noise must be >= 0"),
    (lambda: CR(padding="wrap"), "cr.padding must be one of reflect, zeros"),
    (lambda: BalancedCR(shift_ratio=0.5), r"bcr.shift_ratio must be in \[0, 0.5\)"),
    (lambda: BalancedCR(flip="no"), "bcr.flip must be True or False"),
    (lambda: make_gan("dcgan_arch", d_regularizer=["bcr", "bcr"]), "lists bcr twice")])
def test_bad_settings_are_one_clear_error(make, message):
  with pytest.raises(ValueError, match=message):
    make()


def test_zcr_outside_the_training_step_says_what_it_needs():
  p = _weights()
  _, discriminate, generate = _tf_parts(p)
  real, z, y, seeds = _inputs()
  step = _d_step(p, discriminate, generate, real, z, y, seeds)
  step.z = None
  with pytest.raises(ValueError, match="zcr needs the D step's latents"):
    LatentCR().d_term(step)
  assert LeCamStyleGAN2().g_term(None)[1] == {}
