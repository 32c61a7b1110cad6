"""Tests of compare_gan2.penalties against independent numpy computations of the
formulas of REFERENCE.md section 4, with discriminators whose input gradient is
known in closed form."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.core import registry, config
from compare_gan2 import losses
from compare_gan2 import penalties
from compare_gan2.ops.layers import Linear
from compare_gan2.core.random_ops import per_example_uniform
from compare_gan2.core.registry import PENALTIES, UnknownNameError
from compare_gan2.core import config_files
from gan_cases import make_gan

PENALTY_NAMES = ("no_penalty", "wgangp_penalty", "dragan_penalty",
                 "l2_penalty", "r1_penalty")
TOL = dict(rtol=1e-5, atol=1e-5)
SHAPE = (5, 4, 3, 2)  # [B, H, W, C]


def _np(t):
  return np.asarray(t, dtype=np.float64)


def _images(seed, shape=SHAPE, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def _seeds(batch, first=17, offset=0):
  return tf.constant([[first, offset + i] for i in range(batch)], tf.int32)


class QuadraticD:
  """D(x)_i = sum(0.5 c x_i^2 + w x_i), so grad_x D(x)_i = c x_i + w.

  Records the inputs it is called with (eager mode only).
  """

  def __init__(self, seed=0, shape=SHAPE[1:]):
    rng = np.random.default_rng(100 + seed)
    self.c = rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
    self.w = rng.normal(0.0, 0.7, size=shape).astype(np.float32)
    self.inputs = []

  def __call__(self, x, y):
    del y
    self.inputs.append(x)
    v = 0.5 * self.c * tf.square(x) + self.w * x
    return tf.reduce_sum(v, axis=[1, 2, 3])[:, None]

  def np_grad(self, x):
    return _np(self.c) * _np(x) + _np(self.w)


def _np_norms(grad):
  """sqrt(1e-4 + ||g_i||^2) per example."""
  return np.sqrt(1e-4 + np.sum(np.square(grad), axis=(1, 2, 3)))


def _np_gradient_penalty(grad):
  return np.mean(np.square(_np_norms(grad) - 1.0))


def _linear_keras_d(seed=0, shape=SHAPE[1:]):
  """Flatten + Dense(1): grad_x D(x)_i = kernel reshaped to the image shape."""
  model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                            keras.layers.Dense(1)])
  rng = np.random.default_rng(200 + seed)
  kernel = rng.normal(0.0, 0.2, size=(int(np.prod(shape)), 1)).astype(np.float32)
  model.layers[-1].kernel.assign(kernel)
  model.layers[-1].bias.assign([0.3])
  return model, kernel


def _alphas(x, x_fake, x_hat):
  """The per-example a with x_hat = x + a (x_fake - x); checks the residual."""
  d = _np(x_fake) - _np(x)
  delta = _np(x_hat) - _np(x)
  a = np.sum(delta * d, axis=(1, 2, 3)) / np.sum(d * d, axis=(1, 2, 3))
  np.testing.assert_allclose(delta, a[:, None, None, None] * d, atol=1e-6)
  return a


# --- no_penalty ---------------------------------------------------------------------

def test_no_penalty_is_zero():
  p = penalties.no_penalty()
  assert p.shape == () and float(p) == 0.0


# --- wgangp_penalty -----------------------------------------------------------------

def test_wgangp_linear_d_matches_closed_form():
  """For linear D the gradient is w everywhere: (sqrt(1e-4 + ||w||^2) - 1)^2."""
  w = np.full(SHAPE[1:], 0.3, np.float32)  # ||w||^2 = 24 * 0.09 = 2.16
  d = lambda x, y: tf.reduce_sum(w * x, axis=[1, 2, 3])[:, None]
  p = penalties.wgangp_penalty(d, tf.constant(_images(0)), tf.constant(_images(1)),
                               None, _seeds(SHAPE[0]))
  assert p.shape == ()
  np.testing.assert_allclose(float(p), (np.sqrt(1e-4 + 2.16) - 1.0) ** 2, **TOL)


def test_gradient_penalties_keep_epsilon():
  """A D with zero input gradient: norm sqrt(1e-4) = 0.01, penalty 0.99^2."""
  d = lambda x, y: tf.reduce_sum(0.0 * x, axis=[1, 2, 3])[:, None] + 1.0
  x, x_fake = tf.constant(_images(22)), tf.constant(_images(23))
  p = penalties.wgangp_penalty(d, x, x_fake, None, _seeds(SHAPE[0]))
  np.testing.assert_allclose(float(p), 0.99 ** 2, **TOL)
  p = penalties.dragan_penalty(d, x, None, _seeds(SHAPE[0]))
  np.testing.assert_allclose(float(p), 0.99 ** 2, **TOL)


def test_wgangp_quadratic_d_matches_numpy():
  x, x_fake = _images(2), _images(3)
  d = QuadraticD()
  p = penalties.wgangp_penalty(d, tf.constant(x), tf.constant(x_fake), None,
                               _seeds(SHAPE[0]))
  assert len(d.inputs) == 1
  x_hat = _np(d.inputs[0])
  a = _alphas(x, x_fake, x_hat)
  assert np.all(a >= 0.0) and np.all(a < 1.0)
  np.testing.assert_allclose(float(p), _np_gradient_penalty(d.np_grad(x_hat)), **TOL)
  # The same penalty, with x_hat rebuilt from the alphas in numpy.
  x_hat_np = _np(x) + a[:, None, None, None] * (_np(x_fake) - _np(x))
  np.testing.assert_allclose(float(p), _np_gradient_penalty(d.np_grad(x_hat_np)), **TOL)


def test_wgangp_interpolation_randomness():
  batch = 8
  x, x_fake = _images(4, (batch, 2, 2, 1)), _images(5, (batch, 2, 2, 1))
  x, x_fake = tf.constant(x), tf.constant(x_fake)

  def alphas(seeds, xs=x, fakes=x_fake):
    d = QuadraticD(shape=(2, 2, 1))
    p = penalties.wgangp_penalty(d, xs, fakes, None, seeds)
    return _alphas(xs, fakes, d.inputs[0]), float(p)

  a1, p1 = alphas(_seeds(batch))
  a2, p2 = alphas(_seeds(batch))
  np.testing.assert_array_equal(a1, a2)  # deterministic for fixed seeds
  assert p1 == p2
  assert len(np.unique(np.round(a1, 6))) == batch  # different across examples
  assert np.all(a1 >= 0.0) and np.all(a1 < 1.0)
  a3, _ = alphas(_seeds(batch, first=18))
  assert np.all(np.abs(a3 - a1) > 1e-6)  # other seeds, other draws
  # One example's draw depends on its own seed only: equal seeds, equal a; the
  # draws of a sub-batch are the rows of the full batch's.
  same = tf.constant([[5, 9]] * batch, tf.int32)
  a4, _ = alphas(same)
  np.testing.assert_allclose(a4, np.full(batch, a4[0]), atol=1e-6)
  a5, _ = alphas(_seeds(batch)[3:6], x[3:6], x_fake[3:6])
  np.testing.assert_allclose(a5, a1[3:6], atol=1e-6)


def test_wgangp_split_batch_gives_same_penalty():
  """Per-example seeds: the mean of the penalties of two halves is the
  penalty of the whole batch (as on two replicas)."""
  batch = 6
  x = tf.constant(_images(6, (batch, 3, 3, 2)))
  x_fake = tf.constant(_images(7, (batch, 3, 3, 2)))
  seeds = _seeds(batch)
  d = QuadraticD(shape=(3, 3, 2))
  full = penalties.wgangp_penalty(d, x, x_fake, None, seeds)
  halves = [penalties.wgangp_penalty(d, x[s], x_fake[s], None, seeds[s])
            for s in (slice(0, 3), slice(3, 6))]
  np.testing.assert_allclose(float(full), np.mean([float(h) for h in halves]), **TOL)


def test_wgangp_passes_labels_to_d():
  """D(x, y)_i = (w . x_i)(v . y_i): grad_i = w (v . y_i)."""
  batch = SHAPE[0]
  rng = np.random.default_rng(8)
  w = rng.normal(0.0, 0.3, SHAPE[1:]).astype(np.float32)
  v = np.array([0.5, 1.0, 2.0], np.float32)
  y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]

  def d(x, labels):
    return (tf.reduce_sum(w * x, axis=[1, 2, 3]) * tf.linalg.matvec(labels, v))[:, None]

  p = penalties.wgangp_penalty(d, tf.constant(_images(9)), tf.constant(_images(10)),
                               tf.constant(y), _seeds(batch))
  grad = _np(w)[None] * (_np(y) @ _np(v))[:, None, None, None]
  np.testing.assert_allclose(float(p), _np_gradient_penalty(grad), **TOL)


def test_wgangp_keras_d_and_gradient_wrt_weights():
  """Double backprop: with kernel k, P = (n - 1)^2, n = sqrt(1e-4 + ||k||^2),
  so dP/dk = 2 (n - 1) k / n and dP/db = 0."""
  model, k = _linear_keras_d()
  d = lambda x, y: model(x, training=True)
  with tf.GradientTape() as tape:
    p = penalties.wgangp_penalty(d, tf.constant(_images(11)),
                                 tf.constant(_images(12)), None, _seeds(SHAPE[0]))
  n = np.sqrt(1e-4 + np.sum(_np(k) ** 2))
  np.testing.assert_allclose(float(p), (n - 1.0) ** 2, **TOL)
  dense = model.layers[-1]
  g_k, g_b = tape.gradient(p, [dense.kernel, dense.bias])
  np.testing.assert_allclose(_np(g_k), 2.0 * (n - 1.0) * _np(k) / n, **TOL)
  assert g_b is None or float(tf.reduce_max(tf.abs(g_b))) == 0.0


def test_wgangp_in_tf_function_matches_eager():
  x, x_fake = tf.constant(_images(13)), tf.constant(_images(14))
  seeds = _seeds(SHAPE[0])
  d = QuadraticD()
  eager = penalties.wgangp_penalty(d, x, x_fake, None, seeds)
  graph = tf.function(
      lambda a, b, s: penalties.wgangp_penalty(d, a, b, None, s))(x, x_fake, seeds)
  np.testing.assert_allclose(float(graph), float(eager), **TOL)


# --- dragan_penalty -----------------------------------------------------------------

def test_dragan_quadratic_d_matches_numpy():
  # Values near 0 and 1 so that the clipping is exercised.
  x = _images(15)
  x[0] = 0.0
  x[1] = 1.0
  d = QuadraticD(seed=1)
  p = penalties.dragan_penalty(d, tf.constant(x), None, _seeds(SHAPE[0]))
  assert len(d.inputs) == 1
  x_hat = _np(d.inputs[0])
  std = np.std(_np(x))  # over the whole batch, population std
  assert np.all(x_hat >= 0.0) and np.all(x_hat <= 1.0)
  delta = x_hat - _np(x)
  assert np.all(np.abs(delta) <= 0.5 * std + 1e-6)
  inside = (x_hat > 0.0) & (x_hat < 1.0)
  u = delta[inside] / std + 0.5
  assert np.all(u >= -1e-6) and np.all(u < 1.0 + 1e-6)
  # Clipped entries: x + std (u - 0.5) left [0, 1].
  assert np.any(x_hat == 0.0) and np.any(x_hat == 1.0)
  assert np.all(_np(x)[x_hat == 0.0] <= 0.5 * std + 1e-6)
  assert np.all(_np(x)[x_hat == 1.0] >= 1.0 - 0.5 * std - 1e-6)
  np.testing.assert_allclose(float(p), _np_gradient_penalty(d.np_grad(x_hat)), **TOL)


def test_dragan_linear_d_matches_closed_form():
  w = np.full(SHAPE[1:], -0.1, np.float32)  # ||w||^2 = 0.24
  d = lambda x, y: tf.reduce_sum(w * x, axis=[1, 2, 3])[:, None]
  p = penalties.dragan_penalty(d, tf.constant(_images(16)), None, _seeds(SHAPE[0]))
  np.testing.assert_allclose(float(p), (np.sqrt(1e-4 + 0.24) - 1.0) ** 2, **TOL)


def test_dragan_noise_scale_is_batch_std():
  """An example that is constant still gets noise of the batch's std, and a
  batch that is constant gets none."""
  x = np.full((4, 3, 3, 1), 0.5, np.float32)
  x[2:] = _images(17, (2, 3, 3, 1), 0.3, 0.7)
  d = QuadraticD(shape=(3, 3, 1))
  penalties.dragan_penalty(d, tf.constant(x), None, _seeds(4))
  delta = _np(d.inputs[0]) - _np(x)
  std = np.std(_np(x))
  u = delta / std + 0.5  # no clipping: 0.3 +- std / 2 stays in [0, 1]
  assert np.all(u >= -1e-6) and np.all(u < 1.0 + 1e-6)
  assert np.max(np.abs(delta[0])) > 0.1 * std
  assert np.max(np.abs(delta[0])) <= 0.5 * std + 1e-6

  const = np.full((3, 2, 2, 1), 0.25, np.float32)
  d = QuadraticD(shape=(2, 2, 1))
  p = penalties.dragan_penalty(d, tf.constant(const), None, _seeds(3))
  np.testing.assert_array_equal(_np(d.inputs[0]), _np(const))
  np.testing.assert_allclose(float(p), _np_gradient_penalty(d.np_grad(const)), **TOL)


def test_dragan_noise_randomness():
  x = tf.constant(_images(18, (6, 3, 3, 1), 0.3, 0.7))
  std = float(np.std(x.numpy()))

  def noise(seeds):
    d = QuadraticD(shape=(3, 3, 1))
    penalties.dragan_penalty(d, x, None, seeds)
    return (_np(d.inputs[0]) - _np(x)) / std + 0.5

  u1, u2 = noise(_seeds(6)), noise(_seeds(6))
  np.testing.assert_array_equal(u1, u2)
  flat = u1.reshape(6, -1)
  for i in range(6):
    assert np.std(flat[i]) > 0.05  # per pixel, not one value per example
    for j in range(i):
      assert np.max(np.abs(flat[i] - flat[j])) > 1e-3  # per example
  assert np.max(np.abs(noise(_seeds(6, first=99)) - u1)) > 1e-3


# --- r1_penalty ---------------------------------------------------------------------

def test_r1_quadratic_d_matches_numpy():
  x = _images(19)
  d = QuadraticD(seed=2)
  p = penalties.r1_penalty(d, tf.constant(x), None)
  np.testing.assert_array_equal(_np(d.inputs[0]), _np(x))  # D sees the reals
  grad = d.np_grad(x)
  expected = 0.5 * np.mean(np.sum(grad ** 2, axis=(1, 2, 3)))
  np.testing.assert_allclose(float(p), expected, **TOL)


def test_r1_keras_d_and_gradient_wrt_weights():
  """P = ||k||^2 / 2 for a linear D, so dP/dk = k."""
  model, k = _linear_keras_d(seed=1)
  with tf.GradientTape() as tape:
    p = penalties.r1_penalty(lambda x, y: model(x, training=True),
                             tf.constant(_images(20)), None)
  np.testing.assert_allclose(float(p), 0.5 * np.sum(_np(k) ** 2), **TOL)
  g_k = tape.gradient(p, model.layers[-1].kernel)
  np.testing.assert_allclose(_np(g_k), _np(k), **TOL)


# --- l2_penalty ---------------------------------------------------------------------

def _l2_model():
  inputs = keras.Input((4, 4, 2))
  h = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
  h = keras.layers.BatchNormalization(name="bn")(h)
  h = keras.layers.Flatten()(h)
  h = Linear(5, use_sn=True, name="sn_linear")(h)
  h = keras.layers.Dense(4, name="frozen")(h)
  h = keras.layers.Dense(1, name="out")(h)
  model = keras.Model(inputs, h)
  model.get_layer("frozen").trainable = False
  rng = np.random.default_rng(21)
  for w in model.weights:  # non-zero biases, betas, ... so that including
    w.assign(rng.normal(size=w.shape).astype(np.float32))  # them would show
  return model


def test_l2_is_the_mean_over_trainable_kernels():
  """The original: tf.reduce_mean([l2_loss(k) for k in D's ".../kernel:0"
  variables]); a mean over kernels, not a sum."""
  model = _l2_model()
  kernels = [model.get_layer(n).kernel for n in ("conv", "sn_linear", "out")]
  expected = np.mean([0.5 * np.sum(_np(k) ** 2) for k in kernels])
  with tf.GradientTape() as tape:
    p = penalties.l2_penalty(model.weights)  # frozen, BN, u: not kernels/trainable
  assert p.shape == ()
  np.testing.assert_allclose(float(p), expected, **TOL)
  # The gradient is each kernel / (number of kernels), and nothing else gets one.
  grads = tape.gradient(p, model.trainable_weights)
  for w, g in zip(model.trainable_weights, grads):
    if any(w is k for k in kernels):
      np.testing.assert_allclose(_np(g), _np(w) / len(kernels), **TOL)
    else:
      assert g is None, w.path


def test_l2_differs_from_sum_over_all_weights():
  model = _l2_model()
  everything = sum(0.5 * np.sum(_np(w) ** 2) for w in model.trainable_weights)
  assert abs(float(penalties.l2_penalty(model.trainable_weights)) - everything) > 1.0


def test_l2_of_an_ssgan_discriminator_includes_its_heads():
  """Through the GAN, with `penalty.fn = @l2_penalty`: the kernels of a tiny
  conditional SN-DCGAN D (its 4 convolutions, final_fc, the projection
  embedding_fc) and of SSGAN's rotation head, as the original's
  `discriminator.trainable_variables` (every name containing
  "discriminator", so "discriminator_rotation/score_classify/kernel" too)."""
  from compare_gan2.gans import SSGAN
  from compare_gan2.ops.layers import Conv2D
  base = make_gan("dcgan_arch", conditional=True, bindings=["D.spectral_norm = True"])
  gan = SSGAN(generator=base.generator, discriminator=base.discriminator,
              num_classes=base.num_classes, conditional=True)
  d = gan.discriminator
  convs = [l for l in d._flatten_layers() if isinstance(l, Conv2D)]
  assert len(convs) == 4
  kernels = [c.kernel for c in convs] + [d.final_fc.kernel, d.embedding_fc.kernel,
                                         gan.heads["rotation"].kernel]
  l2s = [0.5 * np.sum(_np(k) ** 2) for k in kernels]
  expected = np.mean(l2s)
  gin.parse_config("penalty.fn = @l2_penalty")
  x = tf.zeros([2, d.resolution, d.resolution, d.colors])
  p = gan.penalty_loss(x, x, tf.one_hot([0, 1], gan.num_classes), _seeds(2))
  np.testing.assert_allclose(float(p), expected, **TOL)
  assert abs(np.sum(l2s) - float(p)) > 1e-3  # not the sum


def test_l2_without_kernels_is_an_error():
  with pytest.raises(ValueError, match="no trainable kernels"):
    penalties.l2_penalty([keras.Variable(1.0, name="bias")])


# --- dragan_penalty and the data's range -------------------------------------------

def _mog_points(seed, batch=16):
  """2-D mixture points as [B, 1, 1, 2] "images", on the 5x5 grid at -4..4."""
  rng = np.random.default_rng(seed)
  means = np.stack(np.meshgrid(np.arange(-4, 5, 2), np.arange(-4, 5, 2)), -1).reshape(-1, 2)
  points = means[rng.integers(0, 25, batch)] + rng.normal(0, 0.05, (batch, 2))
  return points.reshape(batch, 1, 1, 2).astype(np.float32)


def test_dragan_unbounded_data_is_not_clipped():
  """data_range None (the mixtures): x_hat = x + std (u - 0.5) everywhere,
  with every u in [0, 1); the old [0, 1] clip would move most points."""
  x = _mog_points(0)
  assert np.mean((x < 0) | (x > 1)) > 0.5
  d = QuadraticD(seed=5, shape=(1, 1, 2))
  p = penalties.dragan_penalty(d, tf.constant(x), None, _seeds(16), data_range=None)
  x_hat = _np(d.inputs[0])
  std = np.std(_np(x))
  u = (x_hat - _np(x)) / std + 0.5
  assert np.all(u >= -1e-5) and np.all(u < 1.0 + 1e-5)
  assert np.any(x_hat < 0.0) and np.any(x_hat > 1.0)
  np.testing.assert_allclose(float(p), _np_gradient_penalty(d.np_grad(x_hat)), **TOL)
  # The noise is the same as with clipping; only the clip differs.
  d2 = QuadraticD(seed=5, shape=(1, 1, 2))
  penalties.dragan_penalty(d2, tf.constant(x), None, _seeds(16))
  np.testing.assert_allclose(_np(d2.inputs[0]), np.clip(x_hat, 0.0, 1.0), atol=1e-6)


def test_dragan_clips_to_the_data_range():
  x = _images(24, low=-1.0, high=1.0)
  x[0], x[1] = -1.0, 1.0
  d = QuadraticD(seed=6)
  penalties.dragan_penalty(d, tf.constant(x), None, _seeds(SHAPE[0]),
                           data_range=(-1.0, 1.0))
  x_hat = _np(d.inputs[0])
  assert np.all(x_hat >= -1.0) and np.all(x_hat <= 1.0)
  assert np.any(x_hat == -1.0) and np.any(x_hat == 1.0)
  assert np.any(x_hat < 0.0)  # not the [0, 1] clip


def test_gan_passes_the_data_range_to_the_penalty():
  """ModularGAN(data_range=None) does not clip; the default (images) does;
  the runner takes the dataset's `value_range`."""
  from compare_gan2.data import mixtures
  from compare_gan2.data.base import ImageDataset
  assert mixtures.mog_grid(num_train_examples=8, num_test_examples=8).value_range is None
  assert ImageDataset.value_range == (0.0, 1.0)
  gin.parse_config("penalty.fn = @dragan_penalty")
  x = tf.constant(_mog_points(1, batch=4))
  for data_range in (None, (0.0, 1.0)):
    gan = make_gan("mlp_arch", data_range=data_range)
    seen = []
    d_fn = gan.discriminator_fn
    gan.discriminator_fn = lambda images, y: seen.append(images) or d_fn(images, y)
    gan.penalty_loss(x, x, None, _seeds(4))
    clipped = np.all((_np(seen[0]) >= 0.0) & (_np(seen[0]) <= 1.0))
    assert clipped == (data_range is not None)


def test_runner_gives_the_gan_the_dataset_range(tmp_path):
  from compare_gan2 import cli
  from compare_gan2.runner import Runner
  compare_gan2.parse_gin([config_files.resolve_config("mog_ring")],
               ["mog_ring.num_train_examples = 64", "mog_ring.num_test_examples = 64",
                "mlp.Generator.hidden = 4", "mlp.Discriminator.hidden = 4"])
  assert Runner(str(tmp_path / "mog")).gan.data_range is None


# --- Selection through gin, and the weight options.lamba ----------------------------

def _all_kwargs(model=None, d=None, seed=0):
  """The keyword arguments ModularGAN passes to `get_penalty_loss`."""
  if model is None:
    model, _ = _linear_keras_d(seed)
  if d is None:
    d = lambda x, y: model(x, training=True)
  return dict(discriminator=d, discriminator_model=model,
              discriminator_variables=model.trainable_weights,
              x=tf.constant(_images(30 + seed)), x_fake=tf.constant(_images(40 + seed)),
              y=None, seeds=_seeds(SHAPE[0]), data_range=(0.0, 1.0))


def _direct(name, kwargs):
  k = kwargs
  return {
      "no_penalty": lambda: penalties.no_penalty(),
      "wgangp_penalty": lambda: penalties.wgangp_penalty(
          k["discriminator"], k["x"], k["x_fake"], k["y"], k["seeds"]),
      "dragan_penalty": lambda: penalties.dragan_penalty(
          k["discriminator"], k["x"], k["y"], k["seeds"]),
      "l2_penalty": lambda: penalties.l2_penalty(k["discriminator_variables"]),
      "r1_penalty": lambda: penalties.r1_penalty(k["discriminator"], k["x"], k["y"]),
  }[name]()


def _np_expected(name, kwargs, kernel):
  """Closed forms for the linear Keras D of `_all_kwargs`."""
  n2 = np.sum(_np(kernel) ** 2)
  return {"no_penalty": 0.0,
          "wgangp_penalty": (np.sqrt(1e-4 + n2) - 1.0) ** 2,
          "dragan_penalty": (np.sqrt(1e-4 + n2) - 1.0) ** 2,
          "l2_penalty": 0.5 * n2,
          "r1_penalty": 0.5 * n2}[name]


@pytest.mark.parametrize("name", PENALTY_NAMES)
def test_gin_reference_selects_penalty(name):
  model, kernel = _linear_keras_d(seed=3)
  kwargs = _all_kwargs(model)
  gin.parse_config(f"penalty.fn = @{name}")
  p = penalties.get_penalty_loss(**kwargs)
  np.testing.assert_allclose(float(p), _np_expected(name, kwargs, kernel), **TOL)
  np.testing.assert_allclose(float(p), float(_direct(name, kwargs)), **TOL)


@pytest.mark.parametrize("name", PENALTY_NAMES)
def test_gin_string_selects_penalty(name):
  d = QuadraticD(seed=4)
  kwargs = _all_kwargs(d=d, seed=4)
  gin.parse_config(f"penalty.fn = '{name}'")
  p = penalties.get_penalty_loss(**kwargs)
  np.testing.assert_allclose(float(p), float(_direct(name, kwargs)), **TOL)


def test_default_penalty_is_no_penalty():
  assert float(penalties.get_penalty_loss(**_all_kwargs())) == 0.0


@pytest.mark.parametrize("lamba", [None, 10.0, 0.1])
def test_options_lamba_weights_penalty(lamba):
  """d_loss + lamba * penalty, as ModularGAN combines them, with everything
  chosen in gin: wasserstein loss, WGAN-GP penalty, `options.lamba`."""
  model, kernel = _linear_keras_d(seed=5)
  bindings = ["loss.fn = @wasserstein", "penalty.fn = @wgangp_penalty"]
  if lamba is not None:
    bindings.append(f"options.lamba = {lamba}")
  compare_gan2.parse_gin(gin_bindings=bindings)
  weight = config.options()["lamba"]
  assert weight == (1.0 if lamba is None else lamba)

  kwargs = _all_kwargs(model, seed=5)
  l_r = model(kwargs["x"], training=True)
  l_f = model(kwargs["x_fake"], training=True)
  d_loss, *_ = losses.get_losses(d_real=tf.sigmoid(l_r), d_fake=tf.sigmoid(l_f),
                                 d_real_logits=l_r, d_fake_logits=l_f)
  total = d_loss + weight * penalties.get_penalty_loss(**kwargs)

  k, b = _np(kernel)[:, 0], 0.3
  flat = lambda t: _np(t).reshape(SHAPE[0], -1)
  np_d_loss = -np.mean(flat(kwargs["x"]) @ k + b) + np.mean(flat(kwargs["x_fake"]) @ k + b)
  np_penalty = (np.sqrt(1e-4 + np.sum(k ** 2)) - 1.0) ** 2
  np.testing.assert_allclose(float(total), np_d_loss + weight * np_penalty, **TOL)


def test_options_lamba_keeps_original_spelling():
  """The option keeps the original's spelling."""
  gin.parse_config("options.lamba = 2.5")
  assert config.options()["lamba"] == 2.5
  with pytest.raises(ValueError):
    gin.parse_config("options.lambda = 2.5")


# --- Errors -------------------------------------------------------------------------

def test_registered_names():
  for name in PENALTY_NAMES:
    assert name in PENALTIES
    assert registry.PENALTIES.get(name) is getattr(penalties, name)


@pytest.mark.parametrize("typo, suggestion", [("wgangp", "wgangp_penalty"),
                                              ("r1_penatly", "r1_penalty"),
                                              ("dragan", "dragan_penalty")])
def test_unknown_penalty_name_suggests_close_match(typo, suggestion):
  with pytest.raises(registry.UnknownNameError) as info:
    PENALTIES.get(typo)
  message = str(info.value)
  assert f"'{typo}'" in message and "penalty" in message
  assert suggestion in message.split("Did you mean")[1].split("?")[0]


def test_unknown_penalty_name_through_gin():
  gin.parse_config("penalty.fn = 'wgangp'")
  with pytest.raises(UnknownNameError, match="Did you mean: wgangp_penalty"):
    penalties.get_penalty_loss(**_all_kwargs())


def test_unregistered_penalty_callable_is_rejected():
  with pytest.raises(UnknownNameError, match="not a registered penalty"):
    penalties.get_penalty_loss(fn=lambda x: tf.reduce_sum(x), **_all_kwargs())


# --- per_example_uniform, the source of the penalties' randomness --------------------

def test_per_example_uniform_properties():
  seeds = _seeds(4)
  u = per_example_uniform(seeds, [3, 2], salt=1).numpy()
  assert u.shape == (4, 3, 2) and u.dtype == np.float32
  assert np.all(u >= 0.0) and np.all(u < 1.0)
  np.testing.assert_array_equal(u, per_example_uniform(seeds, [3, 2], salt=1).numpy())
  np.testing.assert_array_equal(u[1:3], per_example_uniform(seeds[1:3], [3, 2], salt=1))
  assert np.max(np.abs(u - per_example_uniform(seeds, [3, 2], salt=2).numpy())) > 1e-3
  v = per_example_uniform(seeds, [3, 2], salt=1, minval=-2.0, maxval=-1.0).numpy()
  assert np.all(v >= -2.0) and np.all(v < -1.0)
