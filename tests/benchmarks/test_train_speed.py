"""benchmarks/train_speed.py: its FLOP counter, its PyTorch peer's likeness to
resnet_cifar_arch, and that the step it times is a real training step."""

import os
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import architectures
from compare_gan2.core import config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
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
  compare_gan2.parse_gin(gin_bindings=bindings + [f"G.spectral_norm = {g_sn}"])
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
  # Where torch sees a GPU the peer runs there, as the library's step does.
  assert result["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


# --- The class table ---------------------------------------------------------------


def test_flop_counter_enters_cond_branches_and_calls():
  """The profiler stops at cond branches and function calls (ProGAN's levels
  are cond branches); the count enters them, the most expensive branch of a
  cond, each called function once per call."""
  m, k, n = 3, 5, 7

  @tf.function
  def inner(a, b):
    return tf.matmul(a, b)

  def fn(pred, a, b, c):
    big = lambda: tf.matmul(tf.matmul(a, b), tf.transpose(b))  # 2mkn + 2mnk
    small = lambda: a + c  # m*k additions
    return tf.cond(pred, small, big) + inner(a, b)[:, :k]

  args = (tf.constant(True), tf.zeros([m, k]), tf.zeros([k, n]), tf.zeros([m, k]))
  total, by_type = train_speed.count_flops(fn, *args)
  assert by_type["MatMul"] == 2 * m * k * n + 2 * m * n * k + 2 * m * k * n
  # ... plus the outer AddV2 (m*k): not the cond's small branch.
  assert total == by_type["MatMul"] + m * k
  # Without the branches and the call the profiler alone counts the AddV2.
  graph = tf.function(fn).get_concrete_function(*args).graph
  assert int(tf.compat.v1.profiler.profile(
      graph=graph, options=train_speed._profile_opts()).total_float_ops) == m * k


def _row(gan_class, fmt, off, on, batch=32):
  return {"class": gan_class, "format": fmt, "batch_size": batch, "g_ch": 64,
          "d_ch": 64, "resolution": 32, "flops": 10e9,
          "xla_off": {"ms_per_step": off}, "xla_on": {"ms_per_step": on}}


def test_class_summary_says_when_xla_and_bfloat16_pay():
  rows = [_row("SSGAN", "float32", 1000.0, 800.0), _row("SSGAN", "bfloat16", 500.0, 600.0),
          _row("ProgressiveGAN", "float32", 2000.0, 3000.0)]
  limits = {"n": 2048, "tf_gflops": 400.0, "tf_bf16_gflops": 800.0, "numpy_gflops": 400.0}
  for row in rows:
    train_speed.finish_row(row, limits)
  assert rows[0]["xla_off"]["gflops"] == pytest.approx(10.0)
  assert rows[0]["xla_off"]["fraction_of_tf_matmul"] == pytest.approx(10.0 / 400.0)
  assert rows[0]["xla_off"]["fraction_of_tf_bf16_matmul"] == pytest.approx(10.0 / 800.0)
  summary = train_speed.class_summary(rows)
  assert summary[0] == (
      "SSGAN: XLA faster by 20% in float32 (800 vs 1000 ms/step); XLA slower by 20% "
      "in bfloat16 (600 vs 500 ms/step); bfloat16 2.00x with XLA off and 1.33x with "
      "XLA on the float32 speed.")
  assert summary[1] == ("ProgressiveGAN: XLA slower by 50% in float32 "
                        "(3000 vs 2000 ms/step).")
  assert summary[2] == ("XLA (ModularGAN.jit_compile) pays for: float32: SSGAN; "
                        "bfloat16: none.")
  record = {"classes": rows, "steps": 3, "repeats": 3}
  lines = train_speed.class_table(record)
  ssgan_bf16_on = [l for l in lines if l.startswith("| SSGAN | bfloat16 | on ")]
  assert ssgan_bf16_on == ["| SSGAN | bfloat16 | on | 600.0 | 53.3 | 10.00 | 16.7 | 4% "
                           "| 2% | 1.20 (does not pay) | 1.33x |"]
  assert any(l.startswith("| SSGAN | float32 | on | 800.0 ") and "0.80 (pays)" in l
             for l in lines)


def test_load_warning_above_six_tenths_of_the_cores(monkeypatch):
  monkeypatch.setattr(train_speed, "cores", lambda: 2)
  assert train_speed.load_warning("start", 1.2) is None
  assert "load average 1.30 at the start on 2 cores (limit 1.2)" in (
      train_speed.load_warning("start", 1.3))


def test_parse_args_classes_and_quick():
  args = train_speed.parse_args(["--quick", "--classes", "SSGAN"])
  assert (args.class_batch, args.class_g_ch, args.class_d_ch) == (4, 8, 8)
  assert (args.steps, args.repeats) == (2, 1)
  default = train_speed.parse_args([])
  assert default.classes.split(",") == list(train_speed.CLASSES)
  assert default.formats == "float32,bfloat16" and default.xla == "off,on"
  assert not default.reference
  with pytest.raises(SystemExit, match="Unknown --classes entry 'WGAN'"):
    train_speed.main(["--classes", "WGAN"])


def _assert_trained(runner, still=()):
  """One step of the benchmark's loop (XLA off) is a training step: finite
  losses, step 1, and every trainable weight of G, D and the heads moves
  but those named in `still` (path substrings) and the hinge-bias exception."""
  gan = runner.gan
  variables = gan.generator.trainable_variables + gan.d_variables
  before = _values(variables)
  loop = train_speed.train_loop(runner, xla=False)
  metrics = loop(train_speed.iterator_of(runner), tf.constant(1))
  assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  assert runner.step == 1
  moved = {v.path: not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)}
  hinge = gin.query_parameter("loss.fn").selector == "hinge"
  for path, changed in moved.items():
    if any(s in path for s in still) or (hinge and path.endswith("final_fc/bias")):
      continue
    assert changed, path
  return metrics, moved


# The per-class benchmark checks trace whole GAN steps (30 s to 3 min each):
# outside CI's time budget, run them with COMPARE_GAN2_BENCH_TESTS=1 before
# recording benchmarks/results/train_speed.*.
_BENCH_CLASSES = pytest.mark.skipif(
    not os.environ.get("COMPARE_GAN2_BENCH_TESTS"),
    reason="benchmark class checks: set COMPARE_GAN2_BENCH_TESTS=1")


def _class_runner(gan_class, mixed_precision=False):
  args = train_speed.parse_args(["--quick"])
  return train_speed.build_class_runner(gan_class, args.class_batch, args.class_g_ch,
                                        args.class_d_ch, mixed_precision=mixed_precision)


@pytest.mark.slow
@_BENCH_CLASSES
@pytest.mark.parametrize("gan_class", ["SSGAN", "S3GAN", "DiffAugment"])
def test_class_step_trains(gan_class):
  runner = _class_runner(gan_class)
  gan = runner.gan
  assert gan.conditional and gan.ema_generator is not None
  assert runner.info["architecture"] == ARCH
  if gan_class == "SSGAN":
    assert type(gan).__name__ == "SSGAN" and gan.self_supervision == "rotation_gan"
    assert "rotation" in gan.heads
  elif gan_class == "S3GAN":
    assert type(gan).__name__ == "S3GAN" and gan.use_predictor and gan.project_y
    assert {"rotation", "projection", "predictor"} <= set(gan.heads)
    assert gan.discriminator.embedding_fc is None  # only S3GAN's projection
  else:
    assert type(gan).__name__ == "ModularGAN"
    assert gan.augmentation.policy == "color,translation,cutout"
  metrics, _ = _assert_trained(runner)
  if gan_class != "DiffAugment":
    assert float(metrics["rotation_loss_real"]) > 0
  if gan_class == "S3GAN":
    assert float(metrics["class_loss"]) > 0
  gin.clear_config()


@pytest.mark.slow
@_BENCH_CLASSES
def test_progan_step_is_the_largest_level():
  """ProGAN's timed step runs at lod 0 (full size) from the first step: no
  fade-in (alpha 1), no optimizer reset; every weight moves but the toRGB /
  fromRGB layers of the coarser levels, which only a fade-in uses."""
  runner = _class_runner("ProgressiveGAN")
  gan = runner.gan
  assert type(gan).__name__ == "ProgressiveGAN" and not gan.conditional
  assert runner.info["resolution"] == 32 and gan.max_lod == 3
  assert float(gan.generator.lod.numpy()) == 0.0
  metrics, moved = _assert_trained(runner, still=[
      f"{net}_{r}" for net in ("g_torgb", "d_fromrgb") for r in (4, 8, 16)])
  assert float(metrics["lod"]) == 0.0 and float(gan.generator.lod.numpy()) == 0.0
  assert int(gan.images_seen.numpy()) == runner.options["batch_size"]
  # No reset: Adam counted the one step.
  assert int(gan.g_optimizer.iterations.numpy()) == 1
  # The coarser levels' toRGB / fromRGB did not move (the level is 32 px).
  coarse = [p for p in moved if any(f"{n}_{r}/" in p for n in ("g_torgb", "d_fromrgb")
                                    for r in (4, 8, 16))]
  assert coarse and not any(moved[p] for p in coarse)
  assert moved[[p for p in moved if "g_torgb_32/" in p][0]]
  gin.clear_config()


@pytest.mark.slow
@_BENCH_CLASSES
def test_loop_flops_are_one_step():
  """The FLOPs counted on the Runner's loop (one step, then a while loop the
  count does not enter) are those of one train_step; bfloat16 counts the
  same operations."""
  counts = {}
  for mixed in (False, True):
    runner = _class_runner("ModularGAN", mixed_precision=mixed)
    step = train_speed.step_flops(runner)["flops"]
    loop = train_speed.train_loop(runner, xla=False)
    counted = train_speed.loop_flops(loop, train_speed.iterator_of(runner),
                                     tf.constant(2))["flops"]
    assert counted == pytest.approx(step, rel=1e-6)
    counts[mixed] = counted
  assert counts[True] == pytest.approx(counts[False], rel=1e-3)
  gin.clear_config()


def test_others_cpu_share_leaves_out_this_process(monkeypatch):
  # 10 s on 2 cores: the machine was busy 18 CPU-seconds, 10 of them ours.
  monkeypatch.setattr(train_speed, "cores", lambda: 2)
  monkeypatch.setattr(train_speed, "cpu_seconds", lambda: (10.0, 118.0, 20.0))
  assert train_speed.others_cpu_share((0.0, 100.0, 10.0)) == pytest.approx(8 / 20)
  # Our own busy threads alone: nobody else.
  monkeypatch.setattr(train_speed, "cpu_seconds", lambda: (10.0, 120.0, 30.0))
  assert train_speed.others_cpu_share((0.0, 100.0, 10.0)) == 0.0


def test_cpu_seconds_reads_the_machine_and_this_process():
  wall, busy, own = train_speed.cpu_seconds()
  assert wall > 0 and busy > 0 and own > 0
  assert train_speed.cpu_seconds()[2] >= own
