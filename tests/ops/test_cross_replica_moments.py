"""Numerical tests of compare_gan2.ops (cross-replica batch moments) against independent numpy
computations."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.ops import normalization as norm

from op_reference import _rng, _np, _np_moments, _bn_input


@pytest.fixture
def mirrored_strategy():
  """conftest's two-CPU MirroredStrategy, with collective keys of its own.

  Every MirroredStrategy starts its collective keys at group 1, instance 100;
  TF's runtime rejects a key reused with another tensor shape (and then aborts
  every later collective of the process), so strategies made one per test
  collide. A distinct key base per strategy avoids that.
  """
  tf.distribute.MirroredStrategy._collective_key_base += 1000
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  tf.distribute.MirroredStrategy._collective_key_base += 1000
  return strategy


def _run_replicated(strategy, layer, x, steps):
  n = strategy.num_replicas_in_sync
  per_replica = x.shape[0] // n
  dist_x = strategy.experimental_distribute_values_from_function(
      lambda ctx: tf.constant(
          x[ctx.replica_id_in_sync_group * per_replica:
            (ctx.replica_id_in_sync_group + 1) * per_replica], tf.float32))

  @tf.function
  def step(inputs):
    return strategy.run(lambda t: layer(t, training=True), args=(inputs,))

  for _ in range(steps):
    out = step(dist_x)
  return np.concatenate([_np(t) for t in strategy.experimental_local_results(out)])


@pytest.mark.parametrize("cls", [norm.StandardizeBatch, norm.BatchNorm])
def test_cross_replica_batch_statistics(mirrored_strategy, cls):
  assert mirrored_strategy.num_replicas_in_sync == 2
  rng = _rng(17)
  # The two replicas' halves have very different moments.
  x = _bn_input(rng)
  x[4:] = x[4:] * 3.0 + 5.0
  with mirrored_strategy.scope():
    dist_layer = cls()
    dist_layer.build((None, 3, 3, 4))
  y_dist = _run_replicated(mirrored_strategy, dist_layer, x, steps=2)

  layer = cls()
  for _ in range(2):
    y = _np(layer(tf.constant(x, tf.float32), training=True))
  np.testing.assert_allclose(y_dist, y, atol=1e-5)
  mean, var = _np_moments(x)
  std = dist_layer if cls is norm.StandardizeBatch else dist_layer.standardize
  ref = layer if cls is norm.StandardizeBatch else layer.standardize
  for name in ("moving_mean", "moving_variance"):
    np.testing.assert_allclose(_np(getattr(std, name)),
                               _np(getattr(ref, name)), atol=1e-5)
  # Against numpy: two decay steps with the global-batch moments.
  np.testing.assert_allclose(_np(std.moving_mean),
                             (1 - 0.999**2) * mean, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(_np(std.moving_variance),
                             0.999**2 + (1 - 0.999**2) * var, rtol=1e-5)


def test_batch_moments_are_global_under_a_strategy(mirrored_strategy):
  rng = _rng(18)
  x = rng.normal(size=(8, 3)) + np.arange(8)[:, None]

  dist_x = mirrored_strategy.experimental_distribute_values_from_function(
      lambda ctx: tf.constant(x[ctx.replica_id_in_sync_group * 4:
                                (ctx.replica_id_in_sync_group + 1) * 4],
                              tf.float32))

  @tf.function
  def moments(t):
    return mirrored_strategy.run(lambda v: norm.batch_moments(v, [0]),
                                 args=(t,))

  mean, var = moments(dist_x)
  for m, v in zip(mirrored_strategy.experimental_local_results(mean),
                  mirrored_strategy.experimental_local_results(var)):
    np.testing.assert_allclose(_np(m), x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(_np(v), x.var(0), rtol=1e-5)
