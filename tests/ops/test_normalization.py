"""Numerical tests of compare_gan2.ops (normalizations) against independent numpy
computations."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.core import registry
from compare_gan2.ops import normalization as norm

from op_reference import _rng, _np, _holds, _np_standardize, _np_moments, _randomize, _bn_input


def test_standardize_batch_training_output():
  rng = _rng(8)
  x = _bn_input(rng)
  layer = norm.StandardizeBatch()
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var), rtol=1e-4,
                             atol=1e-4)
  ym, yv = _np_moments(y)
  np.testing.assert_allclose(ym, 0.0, atol=1e-5)
  np.testing.assert_allclose(yv, var / (var + 1e-3), rtol=1e-4)


def test_standardize_batch_moving_averages_and_inference():
  rng = _rng(9)
  layer = norm.StandardizeBatch()
  assert layer.decay == 0.999 and layer.epsilon == 1e-3
  mm, mv = np.zeros(4), np.ones(4)
  for _ in range(3):
    x = _bn_input(rng)
    layer(tf.constant(x, tf.float32), training=True)
    mean, var = _np_moments(x)
    mm = 0.999 * mm + 0.001 * mean
    mv = 0.999 * mv + 0.001 * var
  np.testing.assert_allclose(_np(layer.moving_mean), mm, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(_np(layer.moving_variance), mv, rtol=1e-5)
  assert not _holds(layer.trainable_weights, layer.moving_mean)
  x = _bn_input(rng)
  y = _np(layer(tf.constant(x, tf.float32), training=False))
  np.testing.assert_allclose(y, _np_standardize(x, mm, mv), rtol=1e-4,
                             atol=1e-4)
  # Inference leaves the moving averages alone.
  np.testing.assert_allclose(_np(layer.moving_mean), mm, rtol=1e-5, atol=1e-7)


def test_averaged_and_frozen_updates():
  """`averaged_updates`: one update with the mean of the calls' moments
  (Blocks' merged population updates: d * m + (1 - d) * mean over the
  duplicates), nested ones folded into the outer; `frozen_statistics`:
  batch moments for the output, no update; traced as eagerly."""
  rng = _rng(10)
  xs = [_bn_input(rng) for _ in range(3)]
  moments = [_np_moments(x) for x in xs]

  def run(layer):
    with norm.averaged_updates():
      layer(tf.constant(xs[0], tf.float32), training=True)
      with norm.averaged_updates():  # folded into the outer average
        layer(tf.constant(xs[1], tf.float32), training=True)
      with norm.frozen_statistics():
        y = layer(tf.constant(xs[2], tf.float32), training=True)
    return y

  for traced in (False, True):
    layer = norm.StandardizeBatch(decay=0.9)
    y = tf.function(run)(layer) if traced else run(layer)
    np.testing.assert_allclose(_np(y), _np_standardize(xs[2], *moments[2]), rtol=1e-4,
                               atol=1e-4)
    # The inner context averages its one call: the outer sees it once.
    mean = 0.1 * (moments[0][0] + moments[1][0]) / 2
    variance = 0.9 + 0.1 * (moments[0][1] + moments[1][1]) / 2
    np.testing.assert_allclose(_np(layer.moving_mean), mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(layer.moving_variance), variance, rtol=1e-5)
    layer(tf.constant(xs[2], tf.float32), training=True)  # outside: updates again
    np.testing.assert_allclose(_np(layer.moving_mean), 0.9 * mean + 0.1 * moments[2][0],
                               rtol=1e-5, atol=1e-7)


def test_standardize_batch_gin_decay_and_epsilon():
  gin.bind_parameter("standardize_batch.decay", 0.5)
  gin.bind_parameter("standardize_batch.epsilon", 0.25)
  rng = _rng(10)
  x = _bn_input(rng)
  layer = norm.StandardizeBatch()
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var, 0.25),
                             rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(_np(layer.moving_mean), 0.5 * mean, rtol=1e-5,
                             atol=1e-6)
  # An explicit argument beats gin.
  assert norm.StandardizeBatch(decay=0.9).decay == 0.9


def test_standardize_batch_standing_statistics():
  gin.bind_parameter("standardize_batch.use_moving_averages", False)
  rng = _rng(11)
  layer = norm.StandardizeBatch()
  assert not layer.use_moving_averages
  layer(tf.zeros((8, 3, 3, 4)), training=True)  # builds; training ignores accu
  means, variances = [], []
  with norm.accumulate_standing_statistics():
    for _ in range(3):
      x = _bn_input(rng)
      y = _np(layer(tf.constant(x, tf.float32), training=False))
      mean, var = _np_moments(x)
      means.append(mean)
      variances.append(var)
      # While accumulating, compare_gan normalizes with accu / counter: the
      # running averages, this batch included.
      np.testing.assert_allclose(
          y, _np_standardize(x, np.mean(means, 0), np.mean(variances, 0)),
          rtol=1e-4, atol=1e-4)
  assert float(_np(layer.accu_counter)) == 3.0
  np.testing.assert_allclose(_np(layer.accu_mean), np.sum(means, 0), rtol=1e-5)
  np.testing.assert_allclose(_np(layer.accu_variance), np.sum(variances, 0),
                             rtol=1e-5)
  x = _bn_input(rng)
  y = _np(layer(tf.constant(x, tf.float32), training=False))
  expected = _np_standardize(x, np.mean(means, 0), np.mean(variances, 0))
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
  # Later inference does not accumulate.
  assert float(_np(layer.accu_counter)) == 3.0
  layer.reset_standing_statistics()
  assert float(_np(layer.accu_counter)) == 0.0


def _np_accumulate_two_layers(batches, eps=1e-3):
  """Transcription of compare_gan's accumulation (arch_ops.py
  _accumulated_moments_for_inference with update_accus = 1; counter from
  1e-12, eval_gan_lib runs G once per batch) through two stacked layers with
  h = relu(2 * out1 - 0.5) between them. Returns each layer's accumulated
  (mean, variance) sums and the counter."""
  accu = [[0.0, 0.0] for _ in range(2)]
  counter = 1e-12
  for x in batches:
    counter += 1  # assign_add(accu_counter, 1), before the division
    out = x
    for k in range(2):
      mean, var = _np_moments(out)
      accu[k][0] = accu[k][0] + mean
      accu[k][1] = accu[k][1] + var
      out = (out - accu[k][0] / counter) / np.sqrt(accu[k][1] / counter + eps)
      if k == 0:
        out = np.maximum(2.0 * out - 0.5, 0.0)
  return accu, counter


def test_standing_statistics_of_stacked_layers_match_compare_gan():
  """The second layer accumulates the moments of inputs that the first
  normalized with its running averages (not with each batch's own moments)."""
  gin.bind_parameter("standardize_batch.use_moving_averages", False)
  rng = _rng(12)
  first, second = norm.StandardizeBatch(), norm.StandardizeBatch()
  run = lambda x: second(tf.nn.relu(2.0 * first(x, training=False) - 0.5),
                         training=False)
  run(tf.zeros((8, 3, 3, 4)))  # builds
  batches = [_bn_input(rng) for _ in range(4)]
  with norm.accumulate_standing_statistics():
    for x in batches:
      run(tf.constant(x, tf.float32))
  accu, counter = _np_accumulate_two_layers(batches)
  for layer, (mean_sum, var_sum) in zip((first, second), accu):
    np.testing.assert_allclose(float(_np(layer.accu_counter)), counter)
    np.testing.assert_allclose(_np(layer.accu_mean), mean_sum, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(_np(layer.accu_variance), var_sum, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("make", [
    norm.BatchNorm, norm.ConditionalBatchNorm, norm.SelfModulatedBatchNorm])
def test_normalization_build_creates_moving_statistics(make):
  layer = make()
  layer.build((None, 2, 2, 3))
  names = {v.path.split("/")[-1] for v in layer.weights}
  assert {"moving_mean", "moving_variance"} <= names
  assert tuple(layer.standardize.moving_mean.shape) == (3,)


def test_batch_norm_matches_numpy():
  rng = _rng(12)
  x = _bn_input(rng)
  layer = norm.BatchNorm()
  layer(tf.constant(x, tf.float32), training=False)
  np.testing.assert_array_equal(_np(layer.gamma), 1.0)
  np.testing.assert_array_equal(_np(layer.beta), 0.0)
  gamma, beta = rng.normal(size=4), rng.normal(size=4)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  y = _np(layer(tf.constant(x, tf.float32), training=True))
  mean, var = _np_moments(x)
  np.testing.assert_allclose(y, _np_standardize(x, mean, var) * gamma + beta,
                             rtol=1e-4, atol=1e-4)
  assert {v.name for v in layer.trainable_weights} == {"gamma", "beta"}


@pytest.mark.parametrize("gamma_offset", [True, False])
@pytest.mark.parametrize("use_bias", [False, True])
def test_conditional_batch_norm_matches_numpy(gamma_offset, use_bias):
  rng = _rng(13)
  x = _bn_input(rng)
  y = rng.normal(size=(8, 5))
  layer = norm.ConditionalBatchNorm(gamma_offset=gamma_offset,
                                    use_bias=use_bias)
  layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32))
  for lin in (layer.gamma, layer.beta):
    _randomize(lin, rng)
  out = _np(layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32),
                  training=True))
  gamma = y @ _np(layer.gamma.kernel)
  beta = y @ _np(layer.beta.kernel)
  if use_bias:
    gamma += _np(layer.gamma.bias)
    beta += _np(layer.beta.bias)
  else:
    assert not layer.gamma.use_bias and not layer.beta.use_bias
  if gamma_offset:
    gamma = 1.0 + gamma
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_conditional_batch_norm_without_y_raises():
  layer = norm.ConditionalBatchNorm()
  with pytest.raises(ValueError, match=r"needs a condition y.*y=None"):
    layer(tf.zeros((2, 2, 2, 4)), training=True)


def test_registry_made_normalization_picks_up_gin():
  gin.parse_config("conditional_batch_norm.gamma_offset = False")
  layer = registry.NORMALIZATIONS.make("conditional_batch_norm", name="cbn")
  assert isinstance(layer, norm.ConditionalBatchNorm)
  assert layer.name == "cbn" and layer.gamma_offset is False
  gin.clear_config()
  assert registry.NORMALIZATIONS.make("conditional_batch_norm").gamma_offset
  gin.parse_config("self_modulated_batch_norm.num_hidden = 7")
  smbn = norm.make_normalization("self_modulated_batch_norm", "s", use_sn=True)
  assert smbn.num_hidden == 7 and smbn.use_sn and smbn.name == "s"


def test_gin_offset_false_output_is_gamma_times_x():
  gin.parse_config("conditional_batch_norm.gamma_offset = False")
  rng = _rng(14)
  x, y = _bn_input(rng), rng.normal(size=(8, 3))
  layer = norm.make_normalization("conditional_batch_norm", "cbn")
  out = _np(layer(tf.constant(x, tf.float32), y=tf.constant(y, tf.float32),
                  training=True))
  gamma = y @ _np(layer.gamma.kernel)
  beta = y @ _np(layer.beta.kernel)
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("with_y", [False, True])
def test_self_modulated_batch_norm_matches_numpy(with_y):
  rng = _rng(15)
  x = _bn_input(rng)
  z = rng.normal(size=(8, 6))
  y = rng.normal(size=(8, 2)) if with_y else None
  tf_y = None if y is None else tf.constant(y, tf.float32)
  # With a y, condition on it too (use_y; the original's default ignores y).
  layer = norm.SelfModulatedBatchNorm(num_hidden=9, use_y=with_y)
  layer(tf.constant(x, tf.float32), y=tf_y, z=tf.constant(z, tf.float32))
  np.testing.assert_array_equal(_np(layer.gamma.bias), 1.0)
  np.testing.assert_array_equal(_np(layer.beta.bias), 0.0)
  np.testing.assert_array_equal(_np(layer.hidden.bias), 0.0)
  assert tuple(layer.hidden.kernel.shape) == (6 + (2 if with_y else 0), 9)
  for lin in (layer.hidden, layer.gamma, layer.beta):
    _randomize(lin, rng)
  out = _np(layer(tf.constant(x, tf.float32), y=tf_y,
                  z=tf.constant(z, tf.float32), training=True))
  cond = z if y is None else np.concatenate([z, y], axis=1)
  h = np.maximum(cond @ _np(layer.hidden.kernel) + _np(layer.hidden.bias), 0)
  gamma = h @ _np(layer.gamma.kernel) + _np(layer.gamma.bias)
  beta = h @ _np(layer.beta.kernel) + _np(layer.beta.bias)
  mean, var = _np_moments(x)
  expected = (_np_standardize(x, mean, var) * gamma[:, None, None, :]
              + beta[:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_self_modulated_batch_norm_defaults_and_needs_z():
  layer = norm.SelfModulatedBatchNorm()
  assert layer.num_hidden == 32
  with pytest.raises(ValueError, match="z=None"):
    layer(tf.zeros((2, 2, 2, 4)), training=True)


def test_layer_norm_matches_numpy():
  rng = _rng(16)
  x = _bn_input(rng, (3, 2, 5, 4))
  layer = norm.LayerNorm()
  layer(tf.constant(x, tf.float32))
  gamma, beta = rng.normal(size=4), rng.normal(size=4)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  y = _np(layer(tf.constant(x, tf.float32)))
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  var = x.var(axis=(1, 2, 3), keepdims=True)
  expected = (x - mean) / np.sqrt(var + 1e-12) * gamma + beta
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_no_batch_norm_is_identity():
  x = tf.random.normal((2, 3, 3, 4))
  for layer in (norm.NoBatchNorm(), norm.make_normalization(None, "n"),
                norm.make_normalization("no_batch_norm", "n")):
    assert isinstance(layer, norm.NoBatchNorm)
    np.testing.assert_array_equal(_np(layer(x, y=x, training=True)), _np(x))
