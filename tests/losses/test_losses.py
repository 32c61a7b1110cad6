"""Tests of compare_gan2.losses against independent numpy computations of the
formulas of REFERENCE.md section 4."""

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2.core import registry, config
from compare_gan2 import losses
from compare_gan2.core.registry import LOSSES, UnknownNameError

LOSS_NAMES = ("non_saturating", "wasserstein", "least_squares", "hinge")
TOL = dict(rtol=1e-5, atol=1e-5)


# --- Numpy references (float64) -------------------------------------------------

def _softplus(v):
  """log(1 + exp(v)), stable for large |v|."""
  return np.maximum(v, 0.0) + np.log1p(np.exp(-np.abs(v)))


def _np_ce(label, logits):
  """Mean sigmoid cross entropy: -[t log s(l) + (1-t) log(1-s(l))]."""
  # -log s(l) = softplus(-l); -log(1 - s(l)) = softplus(l).
  return np.mean(label * _softplus(-logits) + (1.0 - label) * _softplus(logits))


def _np_non_saturating(p_r, p_f, l_r, l_f):
  del p_r, p_f
  real, fake = _np_ce(1.0, l_r), _np_ce(0.0, l_f)
  return real + fake, real, fake, _np_ce(1.0, l_f)


def _np_wasserstein(p_r, p_f, l_r, l_f):
  del p_r, p_f
  real, fake = -np.mean(l_r), np.mean(l_f)
  return real + fake, real, fake, -np.mean(l_f)


def _np_least_squares(p_r, p_f, l_r, l_f):
  del l_r, l_f
  # compare_gan's loss_lib.least_squares: the parts carry no 0.5, d_loss does.
  real, fake = np.mean((p_r - 1.0) ** 2), np.mean(p_f ** 2)
  return 0.5 * (real + fake), real, fake, 0.5 * np.mean((p_f - 1.0) ** 2)


def _np_hinge(p_r, p_f, l_r, l_f):
  del p_r, p_f
  real = np.mean(np.maximum(0.0, 1.0 - l_r))
  fake = np.mean(np.maximum(0.0, 1.0 + l_f))
  return real + fake, real, fake, -np.mean(l_f)


NP_LOSSES = {"non_saturating": _np_non_saturating,
             "wasserstein": _np_wasserstein,
             "least_squares": _np_least_squares,
             "hinge": _np_hinge}


# --- Inputs ---------------------------------------------------------------------

def _sigmoid(v):
  return 1.0 / (1.0 + np.exp(-v))


def _inputs(seed=0, batch=8):
  """float32 D outputs [B, 1]: probs = sigmoid(logits). The logits include
  large magnitudes (stability of the cross entropy) and the hinge kinks +-1."""
  rng = np.random.default_rng(seed)
  l_r = rng.normal(0.5, 2.0, size=(batch, 1))
  l_f = rng.normal(-0.5, 2.0, size=(batch, 1))
  l_r[:4, 0] = [30.0, -25.0, 1.0, -1.0]
  l_f[:4, 0] = [-30.0, 25.0, -1.0, 1.0]
  l_r, l_f = l_r.astype(np.float32), l_f.astype(np.float32)
  p_r = _sigmoid(l_r.astype(np.float64)).astype(np.float32)
  p_f = _sigmoid(l_f.astype(np.float64)).astype(np.float32)
  return p_r, p_f, l_r, l_f


def _kwargs(p_r, p_f, l_r, l_f):
  """The keyword arguments ModularGAN passes to `get_losses`."""
  return dict(d_real=tf.constant(p_r), d_fake=tf.constant(p_f),
              d_real_logits=tf.constant(l_r), d_fake_logits=tf.constant(l_f))


def _expect(name, p_r, p_f, l_r, l_f):
  f64 = lambda a: np.asarray(a, np.float64)
  return NP_LOSSES[name](f64(p_r), f64(p_f), f64(l_r), f64(l_f))


def _check(result, expected):
  assert isinstance(result, tuple) and len(result) == 4
  for got, want, part in zip(result, expected,
                             ("d_loss", "d_loss_real", "d_loss_fake", "g_loss")):
    assert got.shape == (), part
    assert got.dtype == tf.float32, part
    np.testing.assert_allclose(float(got), want, err_msg=part, **TOL)


# --- Direct calls -----------------------------------------------------------------

def test_non_saturating_matches_numpy():
  p_r, p_f, l_r, l_f = _inputs()
  _check(losses.non_saturating(tf.constant(l_r), tf.constant(l_f)),
         _expect("non_saturating", p_r, p_f, l_r, l_f))


def test_wasserstein_matches_numpy():
  p_r, p_f, l_r, l_f = _inputs()
  _check(losses.wasserstein(tf.constant(l_r), tf.constant(l_f)),
         _expect("wasserstein", p_r, p_f, l_r, l_f))


def test_least_squares_matches_numpy():
  p_r, p_f, l_r, l_f = _inputs()
  _check(losses.least_squares(tf.constant(p_r), tf.constant(p_f)),
         _expect("least_squares", p_r, p_f, l_r, l_f))


def test_hinge_matches_numpy():
  p_r, p_f, l_r, l_f = _inputs()
  _check(losses.hinge(tf.constant(l_r), tf.constant(l_f)),
         _expect("hinge", p_r, p_f, l_r, l_f))


# compare_gan's d_loss from its parts: their sum, halved for least_squares.
D_LOSS_FROM_PARTS = {"least_squares": 0.5}


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_d_loss_from_parts_as_compare_gan(name):
  p_r, p_f, l_r, l_f = _inputs(seed=3)
  d_loss, real, fake, _ = losses.get_losses(fn=name, **_kwargs(p_r, p_f, l_r, l_f))
  scale = D_LOSS_FROM_PARTS.get(name, 1.0)
  np.testing.assert_allclose(float(d_loss), scale * (float(real) + float(fake)),
                             **TOL)


def test_known_values():
  """Hand-computed values, independent of the numpy helpers above."""
  l_r = tf.constant([[2.0], [0.0]])
  l_f = tf.constant([[-3.0], [0.5]])
  # hinge: real mean(relu(1-2), relu(1-0)) = 0.5; fake mean(relu(-2), relu(1.5))
  # = 0.75; G = -mean(-3, 0.5) = 1.25.
  _check(losses.hinge(l_r, l_f), (1.25, 0.5, 0.75, 1.25))
  # wasserstein: real -1, fake -1.25, G 1.25.
  _check(losses.wasserstein(l_r, l_f), (-2.25, -1.0, -1.25, 1.25))
  # least squares on probabilities 0.75 / 0.25.
  p_r = tf.constant([[0.75], [1.0]])
  p_f = tf.constant([[0.25], [0.0]])
  # real mean(0.0625, 0) = 0.03125 (no 0.5, as compare_gan); fake the same;
  # D 0.5 * (real + fake); G 0.5 * mean(0.5625, 1).
  _check(losses.least_squares(p_r, p_f), (0.03125, 0.03125, 0.03125, 0.390625))
  # non-saturating at logit 0: every cross entropy is log 2.
  zero = tf.zeros([3, 1])
  log2 = float(np.log(2.0))
  _check(losses.non_saturating(zero, zero), (2 * log2, log2, log2, log2))


def test_non_saturating_is_stable_for_large_logits():
  l_r = tf.constant([[100.0], [-100.0]])
  l_f = tf.constant([[-100.0], [100.0]])
  result = losses.non_saturating(l_r, l_f)
  for t in result:
    assert np.isfinite(float(t))
  # CE(1, 100) ~ 0, CE(1, -100) ~ 100: real = 50; fake likewise; G = 50.
  _check(result, (100.0, 50.0, 50.0, 50.0))


def test_non_saturating_generator_loss_is_non_saturating():
  """G's gradient does not vanish when D confidently rejects fakes."""
  l_f = tf.constant([[-20.0]])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(l_f)
    _, _, _, g_loss = losses.non_saturating(tf.zeros([1, 1]), l_f)
    minimax = -_tf_ce(0.0, l_f)  # the saturating G loss, for contrast
  np.testing.assert_allclose(float(tape.gradient(g_loss, l_f)[0, 0]), -1.0, atol=1e-6)
  assert abs(float(tape.gradient(minimax, l_f)[0, 0])) < 1e-8


def _tf_ce(label, logits):
  labels = tf.fill(tf.shape(logits), label)
  return tf.reduce_mean(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


# --- Selection through gin --------------------------------------------------------

@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gin_reference_selects_loss(name):
  """`loss.fn = @name` picks the loss; it reads probabilities or logits as it
  should even though all four are passed."""
  p_r, p_f, l_r, l_f = _inputs(seed=1)
  gin.parse_config(f"loss.fn = @{name}")
  _check(losses.get_losses(**_kwargs(p_r, p_f, l_r, l_f)),
         _expect(name, p_r, p_f, l_r, l_f))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gin_string_selects_loss(name):
  p_r, p_f, l_r, l_f = _inputs(seed=2)
  gin.parse_config(f"loss.fn = '{name}'")
  _check(losses.get_losses(**_kwargs(p_r, p_f, l_r, l_f)),
         _expect(name, p_r, p_f, l_r, l_f))


def test_gin_via_config_parse():
  p_r, p_f, l_r, l_f = _inputs(seed=4)
  compare_gan2.parse_gin(gin_bindings=["loss.fn = @hinge"])
  _check(losses.get_losses(**_kwargs(p_r, p_f, l_r, l_f)),
         _expect("hinge", p_r, p_f, l_r, l_f))


def test_default_loss_is_non_saturating():
  p_r, p_f, l_r, l_f = _inputs(seed=5)
  _check(losses.get_losses(**_kwargs(p_r, p_f, l_r, l_f)),
         _expect("non_saturating", p_r, p_f, l_r, l_f))


def test_inputs_used_by_each_loss():
  """Probabilities unrelated to the logits tell which inputs a loss reads:
  least squares uses only the probabilities, the others only the logits."""
  _, _, l_r, l_f = _inputs(seed=6)
  rng = np.random.default_rng(7)
  p_r = rng.uniform(size=l_r.shape).astype(np.float32)
  p_f = rng.uniform(size=l_f.shape).astype(np.float32)
  for name in LOSS_NAMES:
    _check(losses.get_losses(fn=name, **_kwargs(p_r, p_f, l_r, l_f)),
           _expect(name, p_r, p_f, l_r, l_f))


def test_losses_in_tf_function():
  p_r, p_f, l_r, l_f = _inputs(seed=8)
  gin.parse_config("loss.fn = @hinge")

  @tf.function
  def step(kwargs):
    return losses.get_losses(**kwargs)

  _check(step(_kwargs(p_r, p_f, l_r, l_f)), _expect("hinge", p_r, p_f, l_r, l_f))


def test_loss_gradients_match_numpy():
  """d(d_loss)/d(logits) of the hinge loss: -1/B where l_r < 1, 1/B where l_f > -1."""
  l_r = tf.constant([[0.5], [2.0], [-1.0], [3.0]])
  l_f = tf.constant([[0.5], [-2.0], [-0.5], [-3.0]])
  with tf.GradientTape() as tape:
    tape.watch([l_r, l_f])
    d_loss = losses.hinge(l_r, l_f)[0]
  g_r, g_f = tape.gradient(d_loss, [l_r, l_f])
  np.testing.assert_allclose(g_r.numpy()[:, 0], [-0.25, 0.0, -0.25, 0.0], **TOL)
  np.testing.assert_allclose(g_f.numpy()[:, 0], [0.25, 0.0, 0.25, 0.0], **TOL)


# --- Errors -------------------------------------------------------------------------

def test_registered_names():
  for name in LOSS_NAMES:
    assert name in LOSSES
    assert registry.LOSSES.get(name) is getattr(losses, name)


def test_unknown_loss_name_suggests_close_match():
  with pytest.raises(registry.UnknownNameError) as info:
    LOSSES.get("hingee")
  message = str(info.value)
  assert "'hingee'" in message
  assert "Did you mean" in message
  assert "hinge" in message.split("Did you mean")[1].split("?")[0]


def test_unknown_loss_name_through_gin():
  p_r, p_f, l_r, l_f = _inputs()
  gin.parse_config("loss.fn = 'hingee'")
  with pytest.raises(UnknownNameError, match="Did you mean: hinge"):
    losses.get_losses(**_kwargs(p_r, p_f, l_r, l_f))


def test_unknown_loss_name_as_argument():
  p_r, p_f, l_r, l_f = _inputs()
  with pytest.raises(UnknownNameError, match="least_squares"):
    losses.get_losses(fn="least_square", **_kwargs(p_r, p_f, l_r, l_f))


def test_unregistered_callable_is_rejected():
  p_r, p_f, l_r, l_f = _inputs()
  with pytest.raises(UnknownNameError, match="not a registered loss"):
    losses.get_losses(fn=lambda d_real_logits, d_fake_logits: None,
                      **_kwargs(p_r, p_f, l_r, l_f))


def test_missing_input_raises():
  _, _, l_r, l_f = _inputs()
  with pytest.raises(TypeError):
    losses.get_losses(fn="least_squares", d_real_logits=tf.constant(l_r),
                      d_fake_logits=tf.constant(l_f))
