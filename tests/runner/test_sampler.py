"""Sampling with standing statistics: G's batch moments averaged once per step
before sampling, and the samples use them."""

import numpy as np
import tensorflow as tf

from run_cases import make_runner


def test_standing_statistics_before_sampling(tmp_path):
  """With standardize_batch.use_moving_averages = False, sampling first
  averages G's batch moments over num_standing_batches batches, once per
  step; the samples use them (zeroed statistics give other images)."""
  runner = make_runner(tmp_path, 2, ["standardize_batch.use_moving_averages = False",
                                     "run_config.num_standing_batches = 3"])
  runner.train()
  counters = [w for w in runner.gan.sampling_generator.weights
              if w.path.endswith("accu_counter")]
  assert counters and all(float(c.numpy()) == 3.0 for c in counters)
  samples = runner.generate(8)
  assert all(float(c.numpy()) == 3.0 for c in counters)  # not accumulated again
  means = [w.numpy() for w in runner.gan.sampling_generator.weights
           if w.path.endswith("accu_mean")]
  assert all(np.isfinite(m).all() and np.abs(m).sum() > 0 for m in means)
  runner.restore_from(str(tmp_path / "model.ckpt-2"))
  np.testing.assert_allclose(runner.generate(8), samples, rtol=1e-5, atol=1e-6)
  for w in runner.gan.sampling_generator.weights:
    if w.path.rsplit("/", 1)[-1] in ("accu_mean", "accu_variance", "accu_counter"):
      w.assign(tf.zeros_like(w))
  z, _ = runner.sample_inputs(8)
  assert not np.allclose(runner.gan.sample(z).numpy(), samples, atol=1e-3)
