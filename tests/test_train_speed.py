"""benchmarks/train_speed.py: its FLOP counter, its PyTorch peer's likeness to
resnet_cifar_arch, and that the step it times is a real training step."""

import os
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures, config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "benchmarks"))
import train_speed  # noqa: E402

ARCH = train_speed.REFERENCE_ARCH
Z_DIM = train_speed.ARCHS[ARCH]["z_dim"]


def test_flop_counter_matches_analytic_conv_and_dense():
  b, h, k, cin, cout, n_in, n_out = 3, 8, 3, 5, 7, 11, 13
  conv = train_speed.graph_flops(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"),
                                 tf.zeros([b, h, h, cin]), tf.zeros([k, k, cin, cout]))
  # SAME padding: the profiler counts every output position as a full K*K
  # window (padded taps included), as the analytic formula does.
  assert conv == 2 * b * h * h * k * k * cin * cout
  dense = train_speed.graph_flops(tf.matmul, tf.zeros([b, n_in]),
                                  tf.zeros([n_in, n_out]))
  assert dense == 2 * b * n_in * n_out
  check = train_speed.conv_flops_check()
  assert check["conv_profiler"] == check["conv_analytic"]
  assert check["conv_fwd_bwd_profiler"] == check["conv_fwd_bwd_analytic"]
  assert check["dense_profiler"] == check["dense_analytic"]


def _keras_models(g_ch: int, d_ch: int, g_sn: bool):
  bindings = [b for b in train_speed.gin_bindings(ARCH, 2, g_ch, d_ch)
              if not b.startswith("G.spectral_norm")]
  config.parse(gin_bindings=bindings + [f"G.spectral_norm = {g_sn}"])
  return architectures.build(ARCH, resolution=32, colors=3, z_dim=Z_DIM,
                             num_classes=10)


def _trainable(model) -> int:
  return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize("g_sn", [False, True])
def test_torch_peer_matches_library_architecture(g_sn):
  torch = pytest.importorskip("torch")
  import torch_peer  # pylint: disable=g-import-not-at-top
  g_ch, d_ch = 8, 4  # different, so that swapped widths would show
  generator, discriminator = _keras_models(g_ch, d_ch, g_sn)
  peer = torch_peer.TorchGAN(z_dim=Z_DIM, num_classes=10, g_ch=g_ch, d_ch=d_ch,
                             g_sn=g_sn)
  # Trainable parameters only: spectral norm's u (Keras: non-trainable
  # weight; torch: u/v buffers) and the BN moving statistics are not trained.
  assert torch_peer.num_trainable(peer.generator) == _trainable(generator)
  assert torch_peer.num_trainable(peer.discriminator) == _trainable(discriminator)
  z = np.random.RandomState(0).uniform(-1, 1, [2, Z_DIM]).astype(np.float32)
  y = np.eye(10, dtype=np.float32)[[1, 7]]
  images = generator(z, y, training=True)
  d_out = discriminator(images, y, training=True)
  with torch.no_grad():
    t_images = peer.generator(torch.from_numpy(z), torch.from_numpy(y))
    t_out = peer.discriminator(t_images, torch.from_numpy(y))
  assert tuple(t_images.permute(0, 2, 3, 1).shape) == tuple(images.shape) == (2, 32, 32, 3)
  for a, b in zip(t_out, d_out):
    assert tuple(a.shape) == tuple(b.shape)


# The hinge-bias exception: while every logit is inside the hinge margin
# (|l| < 1, as at initialisation) the D loss's gradient on D's last bias is
# -1 (reals) + 1 (fakes) = 0, in either framework, so that one weight rightly
# stays put after one step; every other weight must move.


def _values(variables):
  return [np.array(v.numpy()) for v in variables]


def test_quick_step_trains_the_library_gan():
  args = train_speed.parse_args(["--quick"])
  ch = train_speed.ARCHS[ARCH]["quick_ch"]
  batch = int(args.batch_sizes.split(",")[0])
  runner = train_speed.build_runner(ARCH, batch, ch, ch)
  gan = runner.gan
  assert gan.conditional and gan.ema_generator is not None
  assert gin.query_parameter("loss.fn").selector == "hinge"
  g_before = _values(gan.generator.trainable_variables)
  d_before = _values(gan.discriminator.trainable_variables)
  loop = train_speed.train_loop(runner, xla=False)
  metrics = loop(train_speed.iterator_of(runner), tf.constant(1))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert runner.step == 1
  for before, v in zip(g_before + d_before,
                       gan.generator.trainable_variables + gan.discriminator.trainable_variables):
    if v.path.endswith("final_fc/bias"):
      continue  # the hinge-bias exception
    assert not np.array_equal(before, v.numpy()), v.path
  # Before ema_start_step the EMA generator is G's weights.
  for e, w in zip(gan.ema_generator.weights, gan.generator.weights):
    np.testing.assert_allclose(e.numpy(), w.numpy())


def test_quick_step_trains_the_torch_peer():
  torch = pytest.importorskip("torch")
  import torch_peer  # pylint: disable=g-import-not-at-top
  ch = train_speed.ARCHS[ARCH]["quick_ch"]
  peer = torch_peer.TorchGAN(z_dim=Z_DIM, num_classes=10, g_ch=ch, d_ch=ch)
  params = [p for name, p in list(peer.generator.named_parameters())
            + list(peer.discriminator.named_parameters())
            if not name.startswith("final_fc.bias")]  # the hinge-bias exception
  before = [p.detach().clone() for p in params]
  metrics = peer.step(peer.inputs(torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  for b, p in zip(before, params):
    assert not torch.equal(b, p.detach())
  for e, w in zip(peer.ema_generator.parameters(), peer.generator.parameters()):
    assert torch.equal(e, w.detach())
  threads = torch.get_num_threads()
  try:  # one thread: quick even when other processes load the cores
    result = torch_peer.time_step(batch_size=2, steps=1, repeats=1, g_ch=ch,
                                  d_ch=ch, threads=1)
  finally:
    torch.set_num_threads(threads)
  assert result["ms_per_step"] > 0 and result["threads"] == 1
