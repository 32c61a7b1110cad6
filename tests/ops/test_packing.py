"""Packing (PacGAN, fjxmlzn/PacGAN): the packed D input against the original's
`concatenate(x_tildes, axis=1)` of one G call per slot, the D loss of a packed
maxout D against PacGAN's bricks (LinearMaxout, compute_losses) transcribed in
numpy, the refusals, and a packed run across a checkpoint, under XLA and
across replicas."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.gans import SSGAN, ModularGAN, make_step_inputs
from compare_gan2.ops import packing
from run_cases import (assert_close_values, assert_resume_equals_uninterrupted,
                       checkpoint_values, plain_and_compiled_loops)

PACGAN_MLP = ["mlp.Generator.hidden = 8", "mlp.Generator.num_hidden_layers = 2",
              "mlp.Discriminator.hidden = 6", "mlp.Discriminator.num_hidden_layers = 2",
              "mlp.Discriminator.maxout_pieces = 3", "G.batch_norm_fn = @batch_norm",
              "D.packing = 2"]


# PacGAN's training: packed D, D and G updated at once (ali_algorithm).
PACKED_RUN = ["D.packing = 2", "ModularGAN.simultaneous_updates = True"]


def _mlp(bindings=PACGAN_MLP, z_dim=2):
  gin.clear_config()
  gin.parse_config(list(bindings))
  tf.keras.utils.set_random_seed(0)
  return architectures.build("mlp_arch", resolution=1, colors=2, z_dim=z_dim)


def test_pack_lays_slots_out_as_pacgans_concatenation():
  """PacGAN: m independent z batches, x_tilde_i = G(z_i) in its own call, D sees
  concatenate(x_tildes, axis=1). Here: one z batch, `generate_by_slot`, `pack`."""
  g, _ = _mlp()
  rng = np.random.default_rng(0)
  zs = [rng.normal(size=(5, 2)).astype(np.float32) for _ in range(2)]
  original = np.concatenate([g(z, None, training=True).numpy().reshape(5, 2) for z in zs],
                            axis=1)
  z = np.stack(zs, axis=1).reshape(10, 2)  # sample j*m + i is slot i's j-th
  ours = packing.pack(packing.generate_by_slot(g, tf.constant(z), None, 2, training=True), 2)
  np.testing.assert_allclose(ours.numpy().reshape(5, 4), original, rtol=1e-5, atol=1e-6)
  # One call over all 10 would pool G's batch norm over both slots: not the same.
  pooled = packing.pack(g(tf.constant(z), None, training=True), 2).numpy().reshape(5, 4)
  assert np.abs(pooled - original).max() > 1e-3
  # Images: channel i * C + c is slot i's channel c.
  x = np.arange(4 * 2 * 2 * 3, dtype=np.float32).reshape(4, 2, 2, 3)
  np.testing.assert_array_equal(packing.pack(tf.constant(x), 2).numpy(),
                                np.concatenate([x[0::2], x[1::2]], axis=-1))


def test_generate_by_slot_updates_population_statistics_once():
  """PacGAN merges a batch norm's updates from its m applications (one per
  slot) into one: d * p + (1 - d) * mean of the slots' moments. That is the
  mean of what each slot's call alone makes from the same start (training
  mode normalizes with batch moments, so the slots' calls are independent)."""
  g, _ = _mlp(PACGAN_MLP + ["standardize_batch.decay = 0.5"])
  z = tf.random.stateless_normal([10, 2], [0, 1])
  g(z, None, training=False)  # builds the statistics
  statistics = [v for v in g.non_trainable_variables if "moving" in v.path]
  assert len(statistics) == 4  # mean and variance of 2 hidden layers
  for v in statistics:  # a start other than the initial zeros and ones
    v.assign(tf.random.stateless_uniform(v.shape, [2, len(v.path)], 0.5, 1.5))
  start = [v.numpy() for v in statistics]
  alone = []
  for i in range(2):
    g(z[i::2], None, training=True)
    alone.append([v.numpy() for v in statistics])
    for v, s in zip(statistics, start):
      v.assign(s)
  packing.generate_by_slot(g, z, None, 2, training=True)
  for k, v in enumerate(statistics):
    np.testing.assert_allclose(v.numpy(), (alone[0][k] + alone[1][k]) / 2, rtol=1e-5,
                               atol=1e-6)
  # Two updates in a row (slot 0's, then slot 1's) would weigh slot 1 twice.
  sequential = [0.5 * a0 + a1 - 0.5 * s for s, a0, a1 in zip(start, *alone)]
  assert max(np.abs(v.numpy() - q).max() for v, q in zip(statistics, sequential)) > 1e-3


def _linear_maxout(x, kernel, bias, pieces):
  """Blocks' LinearMaxout: dot + b, reshape (..., units, pieces), max."""
  pre = x @ kernel + bias
  return pre.reshape(len(x), -1, pieces).max(axis=-1)


def _softplus(x):
  return np.logaddexp(0.0, x)


def test_packed_maxout_d_loss_is_pacgans():
  """The D step's loss with D.packing = 2 and maxout units, against PacGAN's
  discriminator (LinearMaxout x 2, Linear) and compute_losses in numpy, on the
  same weights, reals and G slots."""
  gin.clear_config()
  gin.parse_config(PACGAN_MLP + ["loss.fn = @non_saturating"])
  tf.keras.utils.set_random_seed(0)
  g, d = architectures.build("mlp_arch", resolution=1, colors=2, z_dim=2)
  gan = ModularGAN(generator=g, discriminator=d, data_range=None)
  rng = np.random.default_rng(1)
  images = rng.normal(size=(8, 1, 1, 2)).astype(np.float32)
  inputs = make_step_inputs(images, np.zeros(8), disc_iters=1, z_dim=2, num_classes=0,
                            seed=0)
  slot = {k: v[:, 0] for k, v in inputs.items()}
  metrics, _ = gan.d_gradients(slot)
  z = slot["z"].numpy()
  x_tildes = [g(z[i::2], None, training=True).numpy().reshape(4, 2) for i in range(2)]
  w = [v.numpy() for v in d.weights]
  (k1, b1, k2, b2, k3, b3) = w
  assert k1.shape == (4, 18) and k2.shape == (6, 18)  # 2 x 2 inputs; 6 units x 3 pieces

  def discriminator(x):
    h = _linear_maxout(_linear_maxout(x, k1, b1, 3), k2, b2, 3)
    return h @ k3 + b3

  data_preds = discriminator(images.reshape(4, 4))
  sample_preds = discriminator(np.concatenate(x_tildes, axis=1))
  expected = np.mean(_softplus(-data_preds) + _softplus(sample_preds))
  assert float(metrics["d_loss"]) == pytest.approx(expected, rel=1e-5)


def test_packing_refusals():
  with pytest.raises(ValueError, match="must be a multiple of 2"):
    packing.pack(tf.zeros([3, 1, 1, 2]), 2)
  for bad in (0, True, 1.5):
    with pytest.raises(ValueError, match="D.packing must be an integer"):
      packing.check_packing(bad)
  with pytest.raises(ValueError, match="maxout_pieces must be"):
    _mlp(["mlp.Discriminator.maxout_pieces = 0"])
  g, d = _mlp()
  with pytest.raises(ValueError, match=r"D.packing \(PacGAN\) is for ModularGAN"):
    SSGAN(generator=g, discriminator=d)
  with pytest.raises(ValueError, match="unconditional D"):
    architectures.build("mlp_arch", resolution=1, colors=2, z_dim=2, num_classes=3)


def test_packed_run_resumes_exactly(tmp_path):
  """A packed DCGAN with batch norm in G (one G call per slot), simultaneous
  updates, stopped at 4 and resumed to 8: the same checkpoint as one run to 8."""
  _, full = assert_resume_equals_uninterrupted(tmp_path, PACKED_RUN)
  inputs = [v.shape[2] for k, v in checkpoint_values(full).items()
            if k.startswith("discriminator") and v.ndim == 4]
  assert 6 in inputs and 3 not in inputs  # 2 x 3 colors into D's first convolution


@pytest.mark.slow  # an XLA compilation of the loop (about 20 s)
def test_packed_compiled_loop_equals_the_plain_loop(tmp_path):
  plain, compiled = plain_and_compiled_loops(tmp_path, PACKED_RUN)
  assert_close_values(plain, compiled)


def test_packed_step_across_replicas_equals_one_replica(mirrored_strategy):
  """Two replicas, the same global batch of 8 (4 per replica, 2 packed
  examples each): each slot's batch-norm moments are the global slot's, so
  the losses and weights equal one replica's."""
  rng = np.random.default_rng(2)
  images = rng.normal(size=(8, 1, 1, 2)).astype(np.float32)
  features = make_step_inputs(images, np.zeros(8), disc_iters=1, z_dim=2,
                              num_classes=0, seed=0)
  results = []
  for strategy in (tf.distribute.get_strategy(), mirrored_strategy):
    gin.clear_config()
    gin.parse_config(PACGAN_MLP + PACKED_RUN[1:] + [  # SGD: Adam's first step is sign(g)
        f"ModularGAN.{net}_optimizer_fn = @tf.train.GradientDescentOptimizer"
        for net in ("g", "d")])
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
      g, d = architectures.build("mlp_arch", resolution=1, colors=2, z_dim=2)
      gan = ModularGAN(generator=g, discriminator=d, data_range=None, g_lr=0.1)
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(8)
    step = tf.function(lambda f, gan=gan, s=strategy: gan.distributed_train_step(s, f))
    for batch in strategy.experimental_distribute_dataset(dataset):
      metrics = step(batch)
    results.append(({k: float(v) for k, v in metrics.items()},
                    [v.numpy() for v in g.weights + d.weights]))
  (m1, w1), (m2, w2) = results
  for key in ("d_loss", "g_loss"):
    assert m1[key] == pytest.approx(m2[key], rel=1e-5), key
  for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
