"""biggan_cifar_arch: the PyTorch BigGAN-CIFAR networks of the DiffAugment
paper (mit-han-lab/data-efficient-gans DiffAugment-biggan-cifar/BigGAN.py,
layers.py). Parameter counts are derived layer by layer from that code."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.architectures import biggan_cifar


def _build(ch=64, num_classes=10, z_dim=128, conditional_norm=True):
  gin.parse_config([
      f"biggan_cifar.Generator.ch = {ch}", f"biggan_cifar.Discriminator.ch = {ch}",
      "G.batch_norm_fn = " + ("@conditional_batch_norm" if conditional_norm
                              else "@batch_norm"),
      "G.spectral_norm = True", "D.spectral_norm = True"])
  keras.utils.set_random_seed(0)
  return architectures.build("biggan_cifar_arch", resolution=32, colors=3,
                             z_dim=z_dim, num_classes=num_classes)


def _count(model):
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def test_parameter_counts_of_the_cifar10_networks():
  """G_ch = D_ch = 64, dim_z = 128, 10 classes, no attention (the CIFAR-10
  scripts). Spectral-norm u/sv and BN running statistics are buffers."""
  g, d = _build()
  # G_arch[32]: in/out channels 4 ch = 256 for all three blocks.
  linear = 128 * (256 * 4 * 4) + 256 * 4 * 4          # SNLinear(dim_z, 16 * 256)
  conv3 = 3 * 3 * 256 * 256 + 256                       # SNConv2d 3x3 with bias
  conv_sc = 1 * 1 * 256 * 256 + 256                     # upsample -> learnable_sc
  ccbn = 2 * (10 * 256)                                 # gain, bias: nn.Embedding
  g_block = 2 * conv3 + conv_sc + 2 * ccbn              # conv1, conv2, sc, bn1, bn2
  output = 2 * 256 + (3 * 3 * 256 * 3 + 3)              # bn gain/bias, SNConv2d(256, 3)
  assert _count(g) == linear + 3 * g_block + output == 4304387
  # D_arch[32]: in [3, 256, 256, 256], out 256, downsample [T, T, F, F].
  block1 = (3 * 3 * 3 * 256 + 256) + conv3 + (1 * 1 * 3 * 256 + 256)
  block2 = 2 * conv3 + conv_sc                          # downsample -> learnable_sc
  block34 = 2 * conv3                                   # same width, no pooling
  head = (256 * 1 + 1) + 10 * 256                       # SNLinear, SNEmbedding
  assert _count(d) == block1 + block2 + 2 * block34 + head == 4207361


def test_structure_follows_the_original():
  g, d = _build(ch=2, num_classes=3, z_dim=8)
  # No SN on G's class embeddings (BigGAN.py: which_embedding = nn.Embedding).
  for block in g.blocks:
    for bn in (block.bn1, block.bn2):
      assert not bn.gamma.use_sn and not bn.gamma.use_bias and bn.gamma_offset
  # Only D's first two blocks pool; shortcut convs where width changes or pooling.
  assert [b.down for b in d.blocks] == [True, True, False, False]
  assert [b.preactivation for b in d.blocks] == [False, True, True, True]
  assert [b.conv_sc is not None for b in d.blocks] == [True, True, False, False]
  x = tf.random.uniform([2, 32, 32, 3])
  net = x
  for block in d.blocks:
    net = block(net)
  assert tuple(net.shape) == (2, 8, 8, 8)
  # Spectral norm's u runs over the output units (layers.SN), over the
  # classes for D's embedding (SNEmbedding).
  assert tuple(d.blocks[0].conv1.u.shape) == (1, 8)
  assert tuple(d.embedding_fc.u.shape) == (3, 1)
  assert tuple(g.fc_noise.u.shape) == (1, 8 * 16)


def test_dblock_matches_its_formula():
  """layers.DBlock.forward on a tiny block, written out with numpy."""
  keras.utils.set_random_seed(1)
  block = biggan_cifar.DBlock(3, down=True, preactivation=True)
  x = tf.random.normal([1, 4, 4, 2])
  out = block(x).numpy()

  def conv(layer, v):
    return tf.nn.conv2d(v, layer.kernel, 1, "SAME").numpy() + layer.bias.numpy()

  def pool(v):
    return v.reshape(1, 2, 2, 2, 2, -1).mean(axis=(2, 4))

  h = conv(block.conv2, np.maximum(conv(block.conv1, np.maximum(x.numpy(), 0)), 0))
  expected = pool(h) + pool(conv(block.conv_sc, x.numpy()))
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_other_resolutions_raise():
  gin.parse_config(["biggan_cifar.Generator.ch = 2", "biggan_cifar.Discriminator.ch = 2"])
  with pytest.raises(ValueError, match="resolution"):
    architectures.build("biggan_cifar_arch", resolution=64, colors=3, z_dim=8)
  with pytest.raises(ValueError, match="resolution"):
    biggan_cifar.Generator(resolution=64, colors=3, z_dim=8)


def test_unconditional_and_config_round_trip():
  g, d = _build(ch=2, num_classes=0, z_dim=8, conditional_norm=False)
  assert d.embedding_fc is None
  x = g(tf.zeros([2, 8]), None, training=False)
  assert tuple(x.shape) == (2, 32, 32, 3)
  g2 = type(g).from_config(g.get_config())
  g2(tf.zeros([1, 8]), None, training=False)
  assert [v.shape for v in g2.weights] == [v.shape for v in g.weights]
