"""The 2-D mixture configs: mog_ring / mog_grid keep their image-GAN
settings, the *_tuned configs pin the settings that learn, and the *_pacgan
configs pin PacGAN's (Lin et al., 2018) 2D-ring / 2D-grid GAN baseline as its
code sets it (fjxmlzn/PacGAN, synthetic_data_experiments/2DRing_GAN&PacGAN/
config.py and pacgan_task.py), written out here."""

import gin
import numpy as np
import pytest

import compare_gan2
from compare_gan2 import cli
from compare_gan2.core import config
from compare_gan2.data import mixtures
from compare_gan2.metrics import evaluation  # noqa: F401  (registers `eval.*`)
from compare_gan2.core import config_files


def _parse(name, bindings=()):
  gin.clear_config()
  compare_gan2.parse_gin([config_files.resolve_config(name)], list(bindings))
  return config.options()


def test_plain_configs_keep_the_image_gan_settings():
  for name in ("mog_ring", "mog_grid"):
    _parse(name)
    assert gin.query_parameter("tf.train.AdamOptimizer.beta2") == 0.999
    with pytest.raises(ValueError):  # N(0, 0.02), the library default
      gin.query_parameter("weights.initializer")
    assert config.options()["disc_iters"] == 1


@pytest.mark.parametrize("name, dataset", [("mog_ring_tuned", "mog_ring"),
                                           ("mog_grid_tuned", "mog_grid")])
def test_tuned_configs_pin_the_settings_that_learn(name, dataset):
  opts = _parse(name)
  assert gin.query_parameter("dataset.name") == dataset
  assert opts["architecture"] == "mlp_arch" and opts["training_steps"] == 2000
  assert opts["disc_iters"] == 5
  assert gin.query_parameter("weights.initializer") == "orthogonal"
  assert gin.query_parameter("tf.train.AdamOptimizer.beta1") == 0.5
  assert gin.query_parameter("tf.train.AdamOptimizer.beta2") == 0.9
  assert gin.query_parameter("ModularGAN.g_use_ema") is True
  assert gin.query_parameter("ModularGAN.ema_decay") == 0.995
  assert gin.query_parameter("ModularGAN.ema_start_step") == 1000
  # Checkpoints 1500, 1750, 2000 kept: the sweep's score_last = 3.
  assert gin.query_parameter("run_config.save_checkpoints_steps") == 250
  assert gin.query_parameter("run_config.keep_checkpoint_max") == 3


def test_pacgan_ring_config_pins_the_paper_setting():
  opts = _parse("mog_ring_pacgan")
  assert gin.query_parameter("dataset.name") == "mog_ring"
  assert gin.query_parameter("mog_ring.radius") == 1.0  # cos/sin of 2 pi k / 8
  assert gin.query_parameter("mog_ring.stddev") == 0.01  # variance 0.01 ** 2
  assert gin.query_parameter("mog_ring.num_train_examples") == 100000  # num_sample
  assert opts["batch_size"] == 100 and opts["z_dim"] == 2 and opts["disc_iters"] == 1
  assert gin.query_parameter("mlp.Generator.hidden") == 400  # gen_hidden_size
  assert gin.query_parameter("mlp.Generator.num_hidden_layers") == 4
  assert gin.query_parameter("mlp.Discriminator.hidden") == 200  # disc_hidden_size
  assert gin.query_parameter("mlp.Discriminator.num_hidden_layers") == 3
  assert gin.query_parameter("weights.stddev") == 0.02  # weights_init_std
  assert gin.query_parameter("ModularGAN.g_lr") == gin.query_parameter("ModularGAN.d_lr") == 1e-4
  assert gin.query_parameter("tf.train.AdamOptimizer.beta1") == 0.8
  assert gin.query_parameter("eval.num_samples") == 2500  # num_log_figure_sample
  assert {"modes_hit", "mode_coverage", "mode_kl"} <= set(gin.query_parameter("eval.metrics"))
  assert gin.query_parameter("mlp.Discriminator.maxout_pieces") == 5  # disc_maxout_pieces
  assert gin.query_parameter("ModularGAN.simultaneous_updates") is True  # ali_algorithm
  # Blocks' BatchNormalization: epsilon 1e-4; population statistics m * 0.05 + p * 0.95.
  assert gin.query_parameter("standardize_batch.epsilon") == 1e-4
  assert gin.query_parameter("standardize_batch.decay") == 0.95
  assert opts["training_steps"] == 400 * 100000 // 100  # num_epoch x num_sample / batch
  ds = mixtures.mog_ring(radius=1.0, stddev=0.01, num_train_examples=8)
  angles = np.arange(8) * np.pi * 2 / 8
  np.testing.assert_allclose(ds.means, np.stack([np.cos(angles), np.sin(angles)], -1),
                             atol=1e-6)


def test_pacgan_grid_config_uses_mog_grids_mixture():
  """PacGAN's 2D-grid: means (i, j) for i, j in -4, -2, 0, 2, 4, std 0.05."""
  _parse("mog_grid_pacgan")
  assert gin.query_parameter("dataset.name") == "mog_grid"
  means = np.array([[i, j] for i in range(-4, 5, 2) for j in range(-4, 5, 2)])
  np.testing.assert_array_equal(mixtures.GRID_MEANS, means)
  assert mixtures.GRID_STDDEV == 0.05
  assert gin.query_parameter("mlp.Generator.hidden") == 400


@pytest.mark.parametrize("kind", ["ring", "grid"])
def test_pacgan2_configs_pack_two_of_100_packed_examples(kind):
  """PacGAN2: D judges 2 samples at once; its batch of 100 packed examples is
  200 points; the rest is the unpacked config's."""
  opts = _parse(f"mog_{kind}_pacgan2")
  assert gin.query_parameter("D.packing") == 2
  assert opts["batch_size"] == 200
  assert gin.query_parameter(f"mog_{kind}.num_train_examples") == 100000
  assert gin.query_parameter("mlp.Discriminator.maxout_pieces") == 5
  assert opts["training_steps"] == 400000
