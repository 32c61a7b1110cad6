"""jit_compile with several replicas (MirroredStrategy): each replica's losses
and gradients XLA-compiled, the all-reduce and the update not (TensorFlow
cannot compile MirroredStrategy's merge_call; docs/xla_multi_replica.md)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2.gans import make_step_inputs
from gan_cases import NUM_CLASSES, Z_DIM, make_gan


def _train(strategy, jit, bindings=(), steps=2):
  gin.clear_config()
  with strategy.scope():
    gan = make_gan("dcgan_arch", conditional=True, batch_norm_g=False,
                   bindings=["penalty.fn = @wgangp_penalty", *bindings],
                   disc_iters=2, g_use_ema=True, ema_start_step=0, ema_decay=0.5,
                   jit_compile=jit)
  rng = np.random.RandomState(0)
  step = tf.function(lambda f: gan.distributed_train_step(strategy, f))
  for s in range(steps):
    features = make_step_inputs(rng.rand(16, 16, 16, 3).astype(np.float32),
                                rng.randint(0, NUM_CLASSES, 16), disc_iters=2,
                                z_dim=Z_DIM, num_classes=NUM_CLASSES, seed=0, step=s)
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(16)
    for batch in strategy.experimental_distribute_dataset(dataset):
      metrics = step(batch)
  weights = gan.generator.weights + gan.discriminator.weights + gan.ema_generator.weights
  return gan, {k: float(v) for k, v in metrics.items()}, [w.numpy() for w in weights]


def test_split_xla_equals_plain_mirrored_step(mirrored_strategy):
  """Two replicas, networks without batch norm or spectral norm (Adam, the
  WGAN-GP penalty, two D steps, EMA): the same weights as without XLA."""
  gan, m1, w1 = _train(mirrored_strategy, jit=False)
  assert not gan._compiled_gradients
  gan, m2, w2 = _train(mirrored_strategy, jit=True)
  assert sorted(gan._compiled_gradients) == ["d_gradients", "g_gradients"]
  for key in m1:
    assert m1[key] == pytest.approx(m2[key], rel=1e-5, abs=1e-5), key
  assert len(w1) == len(w2)
  for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("binding,layer", [("D.spectral_norm = True", "conv"),
                                           ("G.batch_norm_fn = @conditional_batch_norm",
                                            "standardize")])
def test_split_xla_refuses_synchronising_layers(mirrored_strategy, binding, layer):
  gin.clear_config()
  with mirrored_strategy.scope():
    gan = make_gan("dcgan_arch", conditional=True, batch_norm_g=False,
                   bindings=[binding], jit_compile=True)
  features = make_step_inputs(np.zeros([8, 16, 16, 3], np.float32), np.zeros(8),
                              disc_iters=1, z_dim=Z_DIM, num_classes=NUM_CLASSES, seed=0)
  with pytest.raises(ValueError, match="docs/xla_multi_replica.md") as error:
    gan.distributed_train_step(mirrored_strategy, features)
  assert "docs/xla_multi_replica.md" in str(error.value)
  assert layer in str(error.value)
  assert "single device" in str(error.value)
