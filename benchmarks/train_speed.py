"""Training speed of the library's real step, for every GAN class, held
against the machine's limit.

  python benchmarks/train_speed.py                  # the record (~20 min, 2 idle cores)
  python benchmarks/train_speed.py --quick          # tiny widths: does it work?
  python benchmarks/train_speed.py --classes SSGAN,ProgressiveGAN --formats bfloat16
  python benchmarks/train_speed.py --classes "" --reference   # full-size reference only

Measures, in one run:
  1. the machine's limit: dense 2048x2048 matmul GFLOP/s in TensorFlow
     (`tf.linalg.matmul`) in float32 and in bfloat16, and in numpy (float32),
     warmed up, best of several;
  2. the class table: for each GAN class (`--classes`), number format
     (`--formats`: float32, and bfloat16 = `run_config.mixed_precision = True`,
     bfloat16 compute on float32 weights) and XLA off/on (`--xla`;
     on = `ModularGAN.jit_compile = True`, the per-replica step compiled),
     ms/step and images/s of the library's training step as the Runner runs
     it: a `Runner` built from gin bindings on `--data_fake_dataset` data,
     `--steps` steps per tf.function call as `run_config.iterations_per_loop`
     does, in the Runner's own loop. The classes, all at 32 px, batch
     `--class_batch` (32), G/D widths `--class_g_ch`/`--class_d_ch` (128/128):
       ModularGAN      resnet_cifar_arch SNGAN (the reference's step: conditional,
                       conditional BN in G, spectral norm and projection in D,
                       EMA of G, hinge loss, Adam(2e-4, 0, 0.999), disc_iters 1);
       SSGAN           the same with the rotation loss (rotation_gan, D weight
                       1.0, G weight 0.2: D also sees 4 rotations of the batch);
       S3GAN           the same network as S3GAN with rotation, S3GAN's own
                       projection and the class predictor (use_predictor; the
                       architecture's projection off, as the S3GAN configs);
       ProgressiveGAN  progan_arch at its largest level: training_kimg =
                       transition_kimg = 0 puts lod at 0 (32 px, after growth)
                       from the first step, so no fade-in and no optimizer
                       reset is timed; nf = the width at every level,
                       WGAN-GP (lambda 10) + drift, unconditional, as the
                       ProGAN configs;
       DiffAugment     ModularGAN with DiffAugment.policy =
                       "color,translation,cutout" (every image D sees);
     and per class a sentence: XLA faster/slower by x% (ms/step on/off) in
     each format, and bfloat16's speed-up over float32;
  3. FLOPs of one step, counted by TensorFlow's graph profiler
     (`tf.compat.v1.profiler`, float_operation) on the traced step, plus the
     ops inside cond/case branches and nested function calls (the profiler
     stops at them; ProGAN's levels are cond branches), counting the most
     expensive branch of each cond: the taken path plus, for ProGAN, the
     1x1 toRGB/fromRGB convs of the untaken fade-in branches (under 1% at
     these widths); checked against the analytic 2*B*H*W*K*K*Cin*Cout of one
     convolution and 2*N*in*out of one dense layer. Achieved GFLOP/s and its
     share of the TF float32 and bfloat16 matmul rates;
  4. with `--reference` (not in the default run: it adds about 25 minutes on
     2 cores), the full-size architecture table as before: resnet_cifar_arch
     (G 256 / D 128 ch, the library's defaults), sndcgan_arch and
     resnet_biggan_arch (128 px) at `--batch_sizes`, in each format, XLA
     off/on, with the input pipeline's share (the same number of batches
     pulled from the Runner's `train_inputs` alone, divided by the step time)
     and the PyTorch peer (benchmarks/torch_peer.py) of resnet_cifar_arch's
     step at the same widths and batch sizes, torch threads = CPU cores.

Time (estimated for 2 idle cores; the run records its own `wall_s`): about
20 minutes, most of it tracing and XLA compilation rather than the timed
steps (about 4 minutes): each class and format is traced twice (the Runner's
loop traces the step once before and once inside its while loop) and traced
and compiled once more with XLA. ProGAN's step, whose four levels are nested
conds differentiated twice (WGAN-GP), takes about a minute per trace, about
9 minutes in all; `--classes ProgressiveGAN` and `--classes
ModularGAN,SSGAN,S3GAN,DiffAugment` split the run in two. `--quick` saves
the timed steps only: its traces cost the same.

ProGAN's XLA-on step is not timed by default (`--no_xla ProgressiveGAN`):
on this CPU its compilation and first 3 steps took 965 s and the next call
had not finished after 8 minutes; the row records why. `--no_xla ''` times
it. The record is saved after every class row (`complete` false until the
end), so a stopped run keeps what it measured.

The load average (1 min) is recorded at the start and at the end, and a
warning printed and written into the record when it exceeds
0.6 x cores (1.2 on 2 cores): other processes then share the CPU and the
numbers are not a record.

Writes <out>.json (appends a record) and <out>.md (the latest table); <out>
defaults to benchmarks/results/train_speed (with --quick:
/tmp/train_speed_quick). Extra dependency: torch (CPU build) for the peer
(`--reference` only), `pip install -e '.[torch-port]'`; without it the peer
is skipped.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import compare_gan2
from compare_gan2.core import config
from compare_gan2.core import files  # noqa: E402
from compare_gan2.gans import progan  # noqa: E402,F401  (registers ProgressiveGAN)
from compare_gan2.runner.train import Runner  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# The targets: the library's resnet_cifar step at most 1/1.2 of the PyTorch
# step's time, and at least 80% of the numpy matmul rate.
TORCH_SPEEDUP_TARGET = 1.2
MATMUL_FRACTION_TARGET = 0.8
REFERENCE_ARCH = "resnet_cifar_arch"
# A load average above this fraction of the cores (1.2 on 2 cores): other
# processes share the CPU, the numbers are not a record.
LOAD_WARN_FRACTION = 0.6
# Why `--no_xla`'s default leaves ProGAN's XLA step untimed.
PROGAN_XLA_REASON = (
    "on this CPU the XLA step compiled and ran its first 3 steps in 965 s, and the "
    "next 3-step call had not finished after 8 min (2026-11-30, float32); "
    "--no_xla '' times it")
# Number format -> `run_config.mixed_precision`.
FORMATS = {"float32": False, "bfloat16": True}


def cores() -> int:
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def load_limit() -> float:
  return LOAD_WARN_FRACTION * cores()


# Architecture -> the dataset whose shape the fake data take, its gin module,
# full widths (the library's defaults), --quick widths, whether G has spectral
# norm (as in the shipped configs: SNGAN/SNDCGAN only in D, BigGAN in both).
ARCHS: dict[str, dict[str, Any]] = {
    "resnet_cifar_arch": dict(dataset="cifar10", module="resnet_cifar", z_dim=128,
                              g_ch=256, d_ch=128, quick_ch=16, g_sn=False),
    "sndcgan_arch": dict(dataset="cifar10", module="sndcgan", z_dim=128,
                         g_ch=64, d_ch=64, quick_ch=8, g_sn=False),
    # 128 px: 5 blocks + 1 chunks of hierarchical z -> z_dim 120; attention
    # needs widths divisible by 8, so the --quick width is 8.
    "resnet_biggan_arch": dict(dataset="imagenet_128", module="resnet_biggan",
                               z_dim=120, g_ch=96, d_ch=96, quick_ch=8, g_sn=True),
}

# The class table (32 px, fake cifar10 data): class -> the bindings added to
# the ModularGAN step's (resnet_cifar_arch SNGAN), or None for ProGAN, which
# has its own networks and loss (`progan_bindings`).
CLASSES: dict[str, list[str] | None] = {
    "ModularGAN": [],
    "SSGAN": ["options.gan_class = @SSGAN", 'SSGAN.self_supervision = "rotation_gan"',
              "SSGAN.weight_rotation_loss_d = 1.0", "SSGAN.weight_rotation_loss_g = 0.2"],
    "S3GAN": ["options.gan_class = @S3GAN", 'S3GAN.self_supervision = "rotation"',
              "S3GAN.project_y = True", "S3GAN.use_predictor = True",
              # Only S3GAN's projection (as the S3GAN configs).
              "resnet_cifar.Discriminator.project_y = False"],
    "ProgressiveGAN": None,
    "DiffAugment": ['DiffAugment.policy = "color,translation,cutout"'],
}
CLASS_BATCH, CLASS_G_CH, CLASS_D_CH = 32, 128, 128
QUICK_CLASS_BATCH, QUICK_CLASS_CH = 4, 8


def log(message: str) -> None:
  print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Machine limit ---------------------------------------------------------------


def matmul_rates(n: int = 2048, repeats: int = 5) -> dict[str, float]:
  """Best-of-`repeats` n x n matmul GFLOP/s: TF float32, TF bfloat16 and
  numpy float32."""
  rng = np.random.RandomState(0)
  a, b = rng.rand(n, n).astype(np.float32), rng.rand(n, n).astype(np.float32)
  ta, tb = tf.constant(a), tf.constant(b)
  ha, hb = tf.cast(ta, tf.bfloat16), tf.cast(tb, tf.bfloat16)
  flops = 2.0 * n ** 3

  def best(fn: Callable[[], Any]) -> float:
    fn()  # warm up threads and caches
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      fn()
      times.append(time.perf_counter() - start)
    return flops / min(times) / 1e9

  return {"n": n, "tf_gflops": best(lambda: tf.linalg.matmul(ta, tb).numpy()),
          "tf_bf16_gflops": best(lambda: tf.linalg.matmul(ha, hb).numpy()),
          "numpy_gflops": best(lambda: a @ b)}


# --- FLOP counting ---------------------------------------------------------------

# Ops that call functions: op type -> the attributes naming them. A cond or
# case runs one of its branches (alternatives); a call runs its function.
_BRANCHES = {"If": ("then_branch", "else_branch"),
             "StatelessIf": ("then_branch", "else_branch")}
_CASES = ("Case", "StatelessCase")
_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def _profile_opts() -> dict[str, Any]:
  builder = tf.compat.v1.profiler.ProfileOptionBuilder
  return builder(builder.float_operation()).with_empty_output().build()


def _function_graph(graph: Any, name: str) -> Any:
  """The FuncGraph of function `name`, looked up from `graph` outwards."""
  g = graph
  while g is not None:
    functions = getattr(g, "_functions", {})
    if name in functions:
      return functions[name].graph
    g = getattr(g, "outer_graph", None)
  raise KeyError(f"function {name!r} not found from graph {graph.name!r}")


def _registry_flops(graph: Any, memo: dict[str, tuple[int, dict[str, int]]] | None = None
                    ) -> tuple[int, dict[str, int]]:
  """(total, per op type) of `graph`: each op's registered "flops" statistic
  (the profiler's source), descending into branches and function calls;
  a cond or case counts its most expensive branch, a while loop not at
  all (its trip count is not in the graph). `memo`: counts by function name."""
  from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-import-not-at-top
  memo = {} if memo is None else memo
  counts: dict[str, int] = {}

  def called(name: str) -> tuple[int, dict[str, int]]:
    if name not in memo:
      memo[name] = _registry_flops(_function_graph(graph, name), memo)
    return memo[name]

  def add(extra: dict[str, int]) -> None:
    for k, v in extra.items():
      counts[k] = counts.get(k, 0) + v

  for op in graph.get_operations():
    try:
      stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
    except (ValueError, TypeError):
      stat = None
    if stat is not None and stat.value:
      add({op.type: int(stat.value)})
    attrs = op.node_def.attr
    if op.type in _BRANCHES:
      names = [attrs[a].func.name for a in _BRANCHES[op.type]]
    elif op.type in _CASES:
      names = [f.name for f in attrs["branches"].list.func]
    elif op.type in _CALLS:
      names = [attrs["f"].func.name]
    else:
      continue
    options = [called(n) for n in names]
    add(max(options, key=lambda o: o[0])[1])
  return sum(counts.values()), counts


def graph_flop_count(graph: Any) -> tuple[int, dict[str, int]]:
  """(total, per op type) float operations of one run of `graph`: the
  graph profiler's total on its top level (float_operation) plus the ops
  inside cond/case branches (the most expensive branch) and nested function
  calls, which the profiler does not enter; while loops are not entered.
  The per-type split reads the same "flops" registry the profiler uses."""
  top = int(tf.compat.v1.profiler.profile(graph=graph, options=_profile_opts())
            .total_float_ops)
  from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-import-not-at-top
  top_registry = 0
  for op in graph.get_operations():
    try:
      stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
    except (ValueError, TypeError):
      continue
    top_registry += int(stat.value or 0)
  total, counts = _registry_flops(graph)
  # The profiler's count of the top level replaces the registry's (they
  # agree on every op type the library uses; the profiler is the reference).
  return top + total - top_registry, counts


def count_flops(fn: Callable[..., Any], *args: Any) -> tuple[int, dict[str, int]]:
  """(total, per op type) float operations of one trace of `fn(*args)`
  (nothing runs): `graph_flop_count` of its graph. Counts every op with a
  registered "flops" statistic: Conv2D and its two backprops as 2 * output
  elements * K*K*Cin (resp. the equivalent), MatMul as 2*M*K*N, element-wise
  ops one per element. Shapes must be fully known."""
  return graph_flop_count(tf.function(fn).get_concrete_function(*args).graph)


def graph_flops(fn: Callable[..., Any], *args: Any) -> int:
  """Float operations of one call of `fn(*args)` (`count_flops`' total)."""
  return count_flops(fn, *args)[0]


def flops_by_type(fn: Callable[..., Any], *args: Any) -> dict[str, int]:
  """The same count as `graph_flops`, per op type."""
  return count_flops(fn, *args)[1]


def conv_flops_check(batch: int = 2, size: int = 16, k: int = 3, cin: int = 8,
                     cout: int = 16) -> dict[str, int]:
  """The profiler's count of one SAME conv (forward; forward + both
  backprops) and one dense layer against the analytic counts."""
  x = tf.zeros([batch, size, size, cin])
  w = tf.zeros([k, k, cin, cout])

  def forward_backward(x, w):
    with tf.GradientTape() as tape:
      tape.watch([x, w])
      y = tf.nn.conv2d(x, w, 1, "SAME")
    return tape.gradient(y, [x, w], output_gradients=tf.ones_like(y))

  analytic = 2 * batch * size * size * k * k * cin * cout
  dense_x, dense_w = tf.zeros([batch, cin]), tf.zeros([cin, cout])
  return {"conv_profiler": graph_flops(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), x, w),
          "conv_analytic": analytic,
          # Backward = input gradient + filter gradient, each as the forward.
          "conv_fwd_bwd_profiler": sum(
              v for t, v in flops_by_type(forward_backward, x, w).items()
              if t.startswith("Conv2D")),
          "conv_fwd_bwd_analytic": 3 * analytic,
          "dense_profiler": graph_flops(tf.matmul, dense_x, dense_w),
          "dense_analytic": 2 * batch * cin * cout}


def _dense_flops(by_type: dict[str, int]) -> int:
  return sum(v for t, v in by_type.items()
             if t.startswith(("Conv2D", "MatMul", "BatchMatMul")))


# --- The library's step ----------------------------------------------------------


def gin_bindings(arch: str, batch_size: int, g_ch: int, d_ch: int) -> list[str]:
  """The ModularGAN step the benchmark times (SNGAN), as gin bindings of the
  Runner."""
  spec = ARCHS[arch]
  module = spec["module"]
  return [
      f'dataset.name = "{spec["dataset"]}"',
      f'options.architecture = "{arch}"',
      f"options.batch_size = {batch_size}",
      "options.gan_class = @ModularGAN",
      "options.disc_iters = 1",
      "options.lamba = 1",
      f"options.z_dim = {spec['z_dim']}",
      "options.training_steps = 1000000000",
      "ModularGAN.conditional = True",
      "ModularGAN.g_use_ema = True",
      "ModularGAN.g_lr = 0.0002",
      "ModularGAN.g_optimizer_fn = @tf.train.AdamOptimizer",
      "ModularGAN.d_optimizer_fn = @tf.train.AdamOptimizer",
      "tf.train.AdamOptimizer.beta1 = 0.0",
      "tf.train.AdamOptimizer.beta2 = 0.999",
      "G.batch_norm_fn = @conditional_batch_norm",
      f"G.spectral_norm = {spec['g_sn']}",
      "D.spectral_norm = True",
      "standardize_batch.decay = 0.9",
      "standardize_batch.epsilon = 1e-5",
      "loss.fn = @hinge",
      "penalty.fn = @no_penalty",
      "run_config.tf_random_seed = 0",
      f"{module}.Generator.ch = {g_ch}",
      f"{module}.Discriminator.ch = {d_ch}",
  ]


def progan_bindings(batch_size: int, g_ch: int, d_ch: int) -> list[str]:
  """ProGAN at its largest level: progan_arch at 32 px with nf = the width at
  every level (fmap_base = 16 x width, fmap_max = width), training_kimg =
  transition_kimg = 0 (lod 0 from the first step: no fade-in, no optimizer
  reset), WGAN-GP (lambda 10) + drift, Adam(1e-3, 0, 0.99), EMA of G, the
  original's network defaults pinned as in the ProGAN configs."""
  return [
      'dataset.name = "cifar10"',
      'options.architecture = "progan_arch"',
      "options.gan_class = @ProgressiveGAN",
      f"options.batch_size = {batch_size}",
      "options.disc_iters = 1",
      "options.lamba = 10",
      "options.z_dim = 128",
      "options.training_steps = 1000000000",
      "z.distribution_fn = @tf.random.normal",
      f"progan.Generator.fmap_base = {16 * g_ch}",
      f"progan.Generator.fmap_max = {g_ch}",
      f"progan.Discriminator.fmap_base = {16 * d_ch}",
      f"progan.Discriminator.fmap_max = {d_ch}",
      "progan.Discriminator.mbstd_group_size = 4",
      "progan.Discriminator.fused_scale = True",
      'progan.Discriminator.mbstd_grouping = "strided"',
      'progan.Generator.dense_bias = "per_channel"',
      "loss.fn = @wasserstein",
      "penalty.fn = @wgangp_penalty",
      "ProgressiveGAN.drift = 0.001",
      "ProgressiveGAN.training_kimg = 0",
      "ProgressiveGAN.transition_kimg = 0",
      "ProgressiveGAN.g_use_ema = True",
      "ProgressiveGAN.ema_decay = 0.999",
      "run_config.tf_random_seed = 0",
  ]


def class_bindings(gan_class: str, batch_size: int, g_ch: int, d_ch: int) -> list[str]:
  """The step of `gan_class` (a key of CLASSES) at 32 px, as gin bindings."""
  if gan_class not in CLASSES:
    raise ValueError(f"Unknown GAN class {gan_class!r}; one of {', '.join(CLASSES)}")
  extra = CLASSES[gan_class]
  if extra is None:
    return progan_bindings(batch_size, g_ch, d_ch)
  return gin_bindings(REFERENCE_ARCH, batch_size, g_ch, d_ch) + extra


def _runner(bindings: list[str], mixed_precision: bool, model_dir: str | None) -> Runner:
  gin.clear_config()
  compare_gan2.parse_gin(gin_bindings=bindings + [
      f"run_config.mixed_precision = {mixed_precision}"])
  return Runner(model_dir or tempfile.mkdtemp(prefix="train_speed_"),
                fake_data=True)


def build_runner(arch: str, batch_size: int, g_ch: int, d_ch: int,
                 model_dir: str | None = None, mixed_precision: bool = False) -> Runner:
  """A Runner of the ModularGAN step of `arch` on fake data of the
  architecture's dataset (clears gin)."""
  return _runner(gin_bindings(arch, batch_size, g_ch, d_ch), mixed_precision, model_dir)


def build_class_runner(gan_class: str, batch_size: int, g_ch: int, d_ch: int,
                       model_dir: str | None = None,
                       mixed_precision: bool = False) -> Runner:
  """A Runner of `gan_class`'s step (see CLASSES) on fake 32 px data (clears gin)."""
  return _runner(class_bindings(gan_class, batch_size, g_ch, d_ch), mixed_precision,
                 model_dir)


def iterator_of(runner: Runner):
  return iter(runner.strategy.experimental_distribute_dataset(runner.train_inputs(0)))


def train_loop(runner: Runner, xla: bool) -> Callable[..., dict[str, tf.Tensor]]:
  """`loop(iterator, tf.constant(n))`: n training steps in one tf.function,
  the Runner's own loop (the code `train()` runs), with the library's
  `ModularGAN.jit_compile` off or on (the per-replica step XLA-compiled)."""
  runner.gan.jit_compile = xla
  return runner.loop.loop_fn(retrace=True)  # traced anew with the new setting


def loop_flops(loop: Callable[..., Any], iterator: Any,
               num_steps: tf.Tensor) -> dict[str, Any]:
  """FLOPs of one training step from the loop's own trace (the one its calls
  then use): the loop runs one step, then a while loop of the others, which
  the count does not enter, so the count is one step's."""
  graph = loop.get_concrete_function(iterator, num_steps).graph
  total, by_type = graph_flop_count(graph)
  return {"flops": total, "conv_matmul_flops": _dense_flops(by_type),
          "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


def _median(values: list[float]) -> float:
  return float(np.median(values))


def time_calls(call: Callable[[], Any], repeats: int, label: str) -> list[float]:
  """Seconds of `repeats` calls after one warm-up (compiling) call; the
  warm-up's seconds first."""
  times = []
  for r in range(repeats + 1):
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    log(f"  {label} {'warm-up (traces/compiles)' if r == 0 else f'repeat {r}'}: "
        f"{elapsed:.2f} s")
    times.append(elapsed)
  return times


def time_train(runner: Runner, xla: bool, steps: int, repeats: int,
               label: str, count: bool = False) -> dict[str, Any]:
  """ms/step (median over `repeats` calls of `steps` steps) of the Runner's
  loop; with `count`, also the FLOPs of one step from the loop's trace."""
  loop = train_loop(runner, xla)
  iterator = iterator_of(runner)
  num = tf.constant(steps)
  out: dict[str, Any] = {}
  if count:
    start = time.perf_counter()
    out["flops"] = loop_flops(loop, iterator, num)
    out["trace_s"] = time.perf_counter() - start

  def call():
    metrics = loop(iterator, num)
    # float() waits for the step: the device is done when the value is here.
    return {k: float(v) for k, v in metrics.items()}

  times = time_calls(call, repeats, f"{label} xla={'on' if xla else 'off'}")
  out.update(ms_per_step=1e3 * _median(times[1:]) / steps, times_s=times[1:],
             warmup_s=times[0])
  return out


def time_inputs(runner: Runner, steps: int, repeats: int, label: str) -> float:
  """Median ms per batch of pulling `steps` step inputs from the Runner's
  pipeline in one tf.function, as the training loop pulls them."""
  iterator = iterator_of(runner)

  @tf.function
  def pull(iterator, num_steps):
    total = tf.constant(0.0)
    for _ in tf.range(num_steps):
      features = next(iterator)
      total += tf.reduce_sum(features["images"][:1]) + tf.reduce_sum(features["z"][:1])
    return total

  num = tf.constant(steps)
  times = time_calls(lambda: float(pull(iterator, num)), repeats, f"{label} inputs")
  return 1e3 * _median(times[1:]) / steps


def step_flops(runner: Runner) -> dict[str, Any]:
  """FLOPs of one `gan.train_step` on one global batch (traced, not run)."""
  features = next(iter(runner.train_inputs(0)))
  total, by_type = count_flops(runner.gan.train_step, features)
  return {"flops": total, "conv_matmul_flops": _dense_flops(by_type),
          "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


def _time_modes(runner: Runner, row: dict[str, Any], xla_modes: list[bool], steps: int,
                repeats: int, label: str, skip_xla: str | None = None) -> None:
  """row["xla_off"/"xla_on"] timed; row["flops"] from the first loop traced.
  With `skip_xla` (the reason), XLA on is recorded as not timed."""
  for xla in xla_modes:
    key = "xla_on" if xla else "xla_off"
    if xla and skip_xla:
      row[key] = {"skipped": skip_xla}
      log(f"  {label} xla=on not timed: {skip_xla}")
      continue
    count = "flops" not in row
    try:
      result = time_train(runner, xla, steps, repeats, label, count=count)
    except Exception as e:  # noqa: BLE001  (record why it failed, go on)
      text = " ".join(str(e).split())[:500]
      row[key] = {"error": f"{type(e).__name__}: {text}"}
      log(f"  {label} xla={'on' if xla else 'off'} FAILED: {row[key]['error']}")
      traceback.print_exc()
      continue
    if count:
      flops = result.pop("flops")
      row.update(flops=flops["flops"], conv_matmul_flops=flops["conv_matmul_flops"],
                 flops_by_type=dict(list(flops["by_type"].items())[:8]))
      log(f"  {label}: {flops['flops'] / 1e9:.2f} GFLOP per step "
          f"({flops['conv_matmul_flops'] / 1e9:.2f} in conv/matmul)")
    row[key] = result


def measure_arch(arch: str, batch_size: int, g_ch: int, d_ch: int, xla_modes: list[bool],
                 steps: int, repeats: int, fmt: str = "float32") -> dict[str, Any]:
  """A row of the reference table: `arch`'s ModularGAN step in format `fmt`."""
  label = f"{arch} B={batch_size} {fmt}"
  log(f"{label}: building the Runner (G ch {g_ch}, D ch {d_ch})")
  runner = build_runner(arch, batch_size, g_ch, d_ch, mixed_precision=FORMATS[fmt])
  row: dict[str, Any] = {"arch": arch, "format": fmt, "batch_size": batch_size,
                         "g_ch": g_ch, "d_ch": d_ch,
                         "resolution": runner.info["resolution"],
                         "num_classes": runner.info["num_classes"]}
  _time_modes(runner, row, xla_modes, steps, repeats, label)
  row["input_ms_per_step"] = time_inputs(runner, steps, repeats, label)
  gin.clear_config()
  return row


def measure_class(gan_class: str, fmt: str, batch_size: int, g_ch: int, d_ch: int,
                  xla_modes: list[bool], steps: int, repeats: int,
                  skip_xla: str | None = None) -> dict[str, Any]:
  """A row of the class table: `gan_class`'s step in format `fmt`."""
  label = f"{gan_class} {fmt}"
  log(f"{label}: building the Runner (B {batch_size}, G ch {g_ch}, D ch {d_ch})")
  try:
    runner = build_class_runner(gan_class, batch_size, g_ch, d_ch,
                                mixed_precision=FORMATS[fmt])
  except Exception as e:  # noqa: BLE001
    text = " ".join(str(e).split())[:500]
    log(f"  {label} FAILED to build: {type(e).__name__}: {text}")
    return {"class": gan_class, "format": fmt, "batch_size": batch_size, "g_ch": g_ch,
            "d_ch": d_ch, "error": f"{type(e).__name__}: {text}"}
  row: dict[str, Any] = {"class": gan_class, "format": fmt, "batch_size": batch_size,
                         "g_ch": g_ch, "d_ch": d_ch,
                         "resolution": runner.info["resolution"],
                         "architecture": runner.info["architecture"],
                         "gan_class": runner.info["gan_class"]}
  _time_modes(runner, row, xla_modes, steps, repeats, label, skip_xla)
  if gan_class == "ProgressiveGAN":  # the level timed: lod 0, full size
    row["lod"] = float(runner.gan.generator.lod.numpy())
  gin.clear_config()
  return row


# --- Report ----------------------------------------------------------------------


def finish_row(row: dict[str, Any], limits: dict[str, float]) -> None:
  """Adds images/s, GFLOP/s, fractions of the matmul rates, input share."""
  for key in ("xla_off", "xla_on"):
    t = row.get(key)
    if not t or "ms_per_step" not in t or "flops" not in row:
      continue
    ms = t["ms_per_step"]
    t["images_per_s"] = row["batch_size"] * 1e3 / ms
    t["gflops"] = row["flops"] / ms / 1e6
    t["fraction_of_numpy_matmul"] = t["gflops"] / limits["numpy_gflops"]
    t["fraction_of_tf_matmul"] = t["gflops"] / limits["tf_gflops"]
    if limits.get("tf_bf16_gflops"):
      t["fraction_of_tf_bf16_matmul"] = t["gflops"] / limits["tf_bf16_gflops"]
    if "input_ms_per_step" in row:
      t["input_share"] = row["input_ms_per_step"] / ms


def _ms(row: dict[str, Any] | None, key: str) -> float | None:
  t = (row or {}).get(key)
  return t["ms_per_step"] if t and "ms_per_step" in t else None


def _pct(t: dict[str, Any], key: str) -> str:
  return f"{100 * t[key]:.0f}%" if key in t else ""


def class_summary(rows: list[dict[str, Any]]) -> list[str]:
  """One sentence per class: XLA faster/slower by x% (ms/step on vs off) in
  each format, and bfloat16's speed-up over float32 at each XLA setting."""
  by_key = {(r["class"], r["format"]): r for r in rows}
  out = []
  for gan_class in dict.fromkeys(r["class"] for r in rows):
    parts = []
    for fmt in FORMATS:
      row = by_key.get((gan_class, fmt))
      off, on = _ms(row, "xla_off"), _ms(row, "xla_on")
      if off and on:
        change = on / off - 1
        parts.append(f"XLA {'faster' if change < 0 else 'slower'} by "
                     f"{100 * abs(change):.0f}% in {fmt} ({on:.0f} vs {off:.0f} ms/step)")
    gains = []
    for key in ("xla_off", "xla_on"):
      f32 = _ms(by_key.get((gan_class, "float32")), key)
      bf16 = _ms(by_key.get((gan_class, "bfloat16")), key)
      if f32 and bf16:
        gains.append(f"{f32 / bf16:.2f}x with XLA {key[4:]}")
    if gains:
      parts.append("bfloat16 " + " and ".join(gains) + " the float32 speed")
    if parts:
      out.append(f"{gan_class}: " + "; ".join(parts) + ".")
  pays = {fmt: [] for fmt in FORMATS}
  for (gan_class, fmt), row in by_key.items():
    off, on = _ms(row, "xla_off"), _ms(row, "xla_on")
    if off and on and on < off:
      pays[fmt].append(gan_class)
  measured = [r for r in rows if _ms(r, "xla_off") and _ms(r, "xla_on")]
  if measured:
    out.append("XLA (ModularGAN.jit_compile) pays for: " + "; ".join(
        f"{fmt}: {', '.join(names) or 'none'}" for fmt, names in pays.items()
        if any(r["format"] == fmt for r in measured)) + ".")
  return out


def class_table(record: dict[str, Any]) -> list[str]:
  rows = record.get("classes") or []
  if not rows:
    return []
  by_key = {(r["class"], r["format"]): r for r in rows}
  lines = [f"GAN classes at {rows[0].get('resolution', 32)} px, batch "
           f"{rows[0]['batch_size']}, G/D {rows[0]['g_ch']}/{rows[0]['d_ch']} ch, "
           f"{record['steps']} steps per call, median of {record['repeats']} calls:", "",
           "| class | format | XLA | ms/step | img/s | GFLOP/step | GFLOP/s | % f32 mm "
           "| % bf16 mm | XLA on/off | bf16 speed-up |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for row in rows:
    if "error" in row:
      lines.append(f"| {row['class']} | {row['format']} | | failed: {row['error'][:120]} "
                   "| | | | | | | |")
      continue
    for key in ("xla_off", "xla_on"):
      if key not in row:
        continue
      t = row[key]
      head = f"| {row['class']} | {row['format']} | {key[4:]} "
      if "error" in t:
        lines.append(head + f"| failed: {t['error'][:120]} | | | | | | | |")
        continue
      if "skipped" in t:
        lines.append(head + f"| not timed: {t['skipped']} | | | | | | | |")
        continue
      off, on = _ms(row, "xla_off"), _ms(row, "xla_on")
      ratio = (f"{on / off:.2f} ({'pays' if on < off else 'does not pay'})"
               if key == "xla_on" and off and on else "")
      f32 = _ms(by_key.get((row["class"], "float32")), key)
      gain = (f"{f32 / t['ms_per_step']:.2f}x" if row["format"] == "bfloat16" and f32
              else "")
      flops = (f"| {row['flops'] / 1e9:.2f} | {t['gflops']:.1f} "
               if "gflops" in t else "| | ")
      lines.append(head + f"| {t['ms_per_step']:.1f} | {row['batch_size'] * 1e3 / t['ms_per_step']:.1f} "
                   + flops + f"| {_pct(t, 'fraction_of_tf_matmul')} "
                   f"| {_pct(t, 'fraction_of_tf_bf16_matmul')} | {ratio} | {gain} |")
  return lines + [""] + class_summary(rows) + [""]


def reference_table(record: dict[str, Any]) -> list[str]:
  if not record.get("rows"):
    return []
  lines = ["Reference (--reference): the ModularGAN step of each architecture at its "
           "full width:", "",
           "| arch | format | B | G/D ch | XLA | ms/step | img/s | GFLOP/step | GFLOP/s "
           "| % numpy mm | % TF f32 mm | % TF bf16 mm | input share | torch ms/step "
           "| TF/torch |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  torch_rows = {t["batch_size"]: t for t in record.get("torch", [])
                if isinstance(t, dict) and "ms_per_step" in t}
  for row in record["rows"]:
    for key in ("xla_off", "xla_on"):
      if key not in row:
        continue
      t = row[key]
      head = (f"| {row['arch']} | {row.get('format', 'float32')} | {row['batch_size']} "
              f"| {row['g_ch']}/{row['d_ch']} | {key[4:]} ")
      if "error" in t:
        lines.append(head + f"| failed: {t['error'][:120]} | | | | | | | | | |")
        continue
      peer = (torch_rows.get(row["batch_size"]) if row["arch"] == REFERENCE_ARCH
              else None)
      peer_cols = (f"| {peer['ms_per_step']:.1f} | {t['ms_per_step'] / peer['ms_per_step']:.2f} "
                   if peer else "| | ")
      lines.append(head + f"| {t['ms_per_step']:.1f} | {t['images_per_s']:.1f} "
                   f"| {row['flops'] / 1e9:.2f} | {t['gflops']:.1f} "
                   f"| {_pct(t, 'fraction_of_numpy_matmul')} "
                   f"| {_pct(t, 'fraction_of_tf_matmul')} "
                   f"| {_pct(t, 'fraction_of_tf_bf16_matmul')} "
                   f"| {_pct(t, 'input_share')} " + peer_cols + "|")
  lines.append("")
  if isinstance(record.get("torch"), str):
    lines += [f"PyTorch peer: {record['torch']}", ""]
  return lines


def table(record: dict[str, Any], classes: bool = True) -> str:
  limits = record["matmul"]
  bf16 = (f", bfloat16 {limits['tf_bf16_gflops']:.1f} GFLOP/s (TF)"
          if "tf_bf16_gflops" in limits else "")
  lines = [f"Machine limit ({record['cores']} cores, load average "
           f"{record['load_average_start']:.2f} at the start, "
           f"{record['load_average_end']:.2f} at the end): {limits['n']}x{limits['n']} "
           f"matmul float32 {limits['tf_gflops']:.1f} GFLOP/s (TF), "
           f"{limits['numpy_gflops']:.1f} GFLOP/s (numpy){bf16}. "
           f"Wall time of the run: {record.get('wall_s', 0) / 60:.1f} min.", ""]
  for r in record.get("resumed", []):
    lines += [f"Resumed ({r['date']}, load average {r['load_average']:.2f}) after a stop; "
              "the rows before it are the first invocation's.", ""]
  lines += [w for w in record.get("warnings", [])] + (
      [""] if record.get("warnings") else [])
  lines += (class_table(record) if classes else []) + reference_table(record)
  check = record["flop_check"]
  lines += ["FLOPs: TensorFlow graph profiler (float_operation) on the traced step, "
            "plus the ops in cond/case branches (the most expensive branch) and "
            "nested calls. Check on one conv layer: profiler "
            f"{check['conv_profiler']} vs analytic {check['conv_analytic']} (forward), "
            f"{check['conv_fwd_bwd_profiler']} vs {check['conv_fwd_bwd_analytic']} "
            f"(forward + backward); dense {check['dense_profiler']} vs "
            f"{check['dense_analytic']}."]
  if record.get("verdicts"):
    lines += [""] + record["verdicts"]
  return "\n".join(lines)


def markdown(records: list[dict[str, Any]]) -> str:
  """The latest record's tables; when it has no --reference table, the
  newest full-size one follows, with its own date and machine limit."""
  latest = records[-1]
  text = f"# Training speed ({latest['date']})\n\n" + table(latest) + "\n"
  if not latest.get("rows"):
    ref = next((r for r in reversed(records[:-1])
                if r.get("rows") and not r.get("quick")), None)
    if ref:
      text += (f"\n## Reference step (the --reference record of {ref['date']})\n\n"
               + table(ref, classes=False) + "\n")
  return text


def verdicts(record: dict[str, Any]) -> list[str]:
  """PASS/FAIL of the two targets for every float32 resnet_cifar row of the
  reference table (XLA off, the Runner's path; XLA on shown beside it)."""
  out = []
  limits = record["matmul"]
  torch_rows = {t["batch_size"]: t for t in record.get("torch", [])
                if isinstance(t, dict) and "ms_per_step" in t}
  for row in record.get("rows", []):
    if row["arch"] != REFERENCE_ARCH or row.get("format", "float32") != "float32":
      continue
    for key in ("xla_off", "xla_on"):
      t = row.get(key)
      if not t or "error" in t:
        continue
      name = f"{REFERENCE_ARCH} B={row['batch_size']} XLA {key[4:]}"
      peer = torch_rows.get(row["batch_size"])
      if peer:
        ratio = peer["ms_per_step"] / t["ms_per_step"]
        ok = ratio >= TORCH_SPEEDUP_TARGET
        out.append(f"{'PASS' if ok else 'FAIL'}: {name}: {t['ms_per_step']:.1f} ms/step vs "
                   f"PyTorch {peer['ms_per_step']:.1f} ms/step, PyTorch/TF = {ratio:.2f} "
                   f"(target >= {TORCH_SPEEDUP_TARGET})")
      frac = t["gflops"] / limits["numpy_gflops"]
      ok = frac >= MATMUL_FRACTION_TARGET
      out.append(f"{'PASS' if ok else 'FAIL'}: {name}: {t['gflops']:.1f} GFLOP/s = "
                 f"{100 * frac:.0f}% of numpy matmul {limits['numpy_gflops']:.1f} GFLOP/s "
                 f"(target >= {100 * MATMUL_FRACTION_TARGET:.0f}%)")
  if out and record["quick"]:
    out.append("NOTE: --quick measures tiny widths; the targets are about the full size.")
  if out and record.get("warnings"):
    out.append("NOTE: other processes shared the CPU (see the load average): these "
               "verdicts are not meaningful.")
  return out


# A record is "loaded" when other processes took more than this share of the
# machine's CPU time while it ran.
OTHERS_CPU_LIMIT = 0.15


def cpu_seconds() -> tuple[float, float, float]:
  """(wall, busy CPU-seconds of the whole machine since boot (/proc/stat), CPU-seconds
  of this process and its waited-for children)."""
  with open("/proc/stat") as f:
    ticks = [int(v) for v in f.readline().split()[1:9]]
  # user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
  t = os.times()
  return time.time(), busy, t.user + t.system + t.children_user + t.children_system


def others_cpu_share(start: tuple[float, float, float]) -> float | None:
  """The share of the machine's CPU time (all cores) that processes other than
  this one used since `start` (a `cpu_seconds()`). Unlike the load average it
  does not count this benchmark's own threads. None where /proc is missing."""
  try:
    wall, busy, own = (b - a for a, b in zip(start, cpu_seconds()))
  except OSError:
    return None
  return max(0.0, (busy - own) / max(wall * cores(), 1e-9))


def load_warning(when: str, load: float) -> str | None:
  """The warning line when the 1-minute load average exceeds the limit."""
  if load <= load_limit():
    return None
  return (f"WARNING: load average {load:.2f} at the {when} on {cores()} cores (limit "
          f"{load_limit():.1f}): other processes shared the CPU and distort every "
          "number here; not a record.")


def run_torch(batch_sizes: list[int], g_ch: int, d_ch: int, steps: int,
              repeats: int, threads: int) -> list[dict[str, Any]] | str:
  try:
    sys.path.insert(0, HERE)
    import torch_peer  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    return f"skipped (torch not importable: {e})"
  spec = ARCHS[REFERENCE_ARCH]
  rows = []
  for b in batch_sizes:
    log(f"torch peer {REFERENCE_ARCH} B={b} (G ch {g_ch}, D ch {d_ch}, "
        f"{threads} threads)")
    rows.append(torch_peer.time_step(
        batch_size=b, steps=steps, repeats=repeats, g_ch=g_ch, d_ch=d_ch,
        z_dim=spec["z_dim"], g_sn=spec["g_sn"], threads=threads,
        progress=lambda m: log("  " + m)))
  return rows


def _names(text: str, known: Any, flag: str) -> list[str]:
  names = [n.strip() for n in text.split(",") if n.strip()]
  for name in names:
    if name not in known:
      raise SystemExit(f"Unknown {flag} entry {name!r}; one of {', '.join(known)}")
  return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--classes", default=",".join(CLASSES),
                      help="comma-separated GAN classes of the class table "
                      f"({', '.join(CLASSES)}); empty: none")
  parser.add_argument("--formats", default=",".join(FORMATS),
                      help="float32, bfloat16 or both (run_config.mixed_precision)")
  parser.add_argument("--xla", default="off,on", help="off, on or off,on")
  parser.add_argument("--resume", action="store_true",
                      help="continue the newest record of --out if it is incomplete: "
                      "its class rows are kept, the missing ones measured")
  parser.add_argument("--no_xla", default="ProgressiveGAN",
                      help="comma-separated classes whose XLA-on step is not timed "
                      "(recorded as such); '' times every class")
  parser.add_argument("--class_batch", type=int, default=CLASS_BATCH,
                      help="global batch of the class table")
  parser.add_argument("--class_g_ch", type=int, default=CLASS_G_CH,
                      help="G width of the class table (ProGAN: nf at every level)")
  parser.add_argument("--class_d_ch", type=int, default=CLASS_D_CH,
                      help="D width of the class table (ProGAN: nf at every level)")
  parser.add_argument("--steps", type=int, default=3,
                      help="steps per tf.function call (iterations_per_loop)")
  parser.add_argument("--repeats", type=int, default=3,
                      help="timed calls after the warm-up; the median is reported")
  parser.add_argument("--reference", action="store_true",
                      help="also the full-size architecture table and its PyTorch peer "
                      "(about 25 more minutes on 2 cores)")
  parser.add_argument("--archs", default=",".join(ARCHS),
                      help="comma-separated architectures of --reference")
  parser.add_argument("--batch_sizes", default="16,64",
                      help="batch sizes of the 32 px architectures (--reference)")
  parser.add_argument("--batch_sizes_128", default="4",
                      help="batch sizes of resnet_biggan_arch at 128 px (--reference)")
  parser.add_argument("--g_ch", type=int, default=None,
                      help="G width of every --reference architecture (default: its own)")
  parser.add_argument("--d_ch", type=int, default=None,
                      help="D width of every --reference architecture (default: its own)")
  parser.add_argument("--quick", action="store_true",
                      help=f"tiny widths ({QUICK_CLASS_CH} ch), batch {QUICK_CLASS_BATCH} "
                      "(2 at 128 px), 2 steps, 1 repeat")
  parser.add_argument("--no_torch", action="store_true", help="skip the PyTorch peer")
  parser.add_argument("--torch_threads", type=int, default=cores(),
                      help="torch.set_num_threads of the peer (default: the cores)")
  parser.add_argument("--out", default=None, help="results prefix (.json, .md)")
  args = parser.parse_args(argv)
  if args.quick:
    args.batch_sizes, args.batch_sizes_128 = "4", "2"
    args.class_batch = QUICK_CLASS_BATCH
    args.class_g_ch = args.class_d_ch = QUICK_CLASS_CH
    args.steps, args.repeats = 2, 1
  if args.out is None:
    args.out = ("/tmp/train_speed_quick" if args.quick
                else os.path.join(RESULTS, "train_speed"))
  return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
  args = parse_args(argv)
  began = time.time()
  classes = _names(args.classes, CLASSES, "--classes")
  formats = _names(args.formats, FORMATS, "--formats")
  archs = _names(args.archs, ARCHS, "--archs") if args.reference else []
  xla_modes = [{"off": False, "on": True}[m] for m in _names(args.xla, ("off", "on"),
                                                             "--xla")]
  batch_32 = [int(b) for b in args.batch_sizes.split(",")]
  batch_128 = [int(b) for b in args.batch_sizes_128.split(",")]

  def widths(arch: str) -> tuple[int, int]:
    spec = ARCHS[arch]
    if args.quick:
      return args.g_ch or spec["quick_ch"], args.d_ch or spec["quick_ch"]
    return args.g_ch or spec["g_ch"], args.d_ch or spec["d_ch"]

  record: dict[str, Any] = {
      "date": datetime.datetime.now().isoformat(timespec="seconds"),
      "cores": cores(), "machine": platform.machine(),
      "processor": platform.processor(), "tensorflow": tf.__version__,
      "quick": args.quick, "steps": args.steps, "repeats": args.repeats,
      "argv": sys.argv[1:] if argv is None else list(argv),
      "flop_method": ("tf.compat.v1.profiler float_operation on the traced step, plus "
                      "cond/case branches (the most expensive) and nested calls"),
      "warnings": []}
  previous = _incomplete_record(args.out) if args.resume else None
  if previous:  # its start: load, matmul limit and FLOP check are kept
    log(f"resuming the record of {previous['date']} "
        f"({len(previous['classes'])} class rows kept)")
    record = previous
    record.setdefault("resumed", []).append(
        {"date": datetime.datetime.now().isoformat(timespec="seconds"),
         "load_average": os.getloadavg()[0]})
    began -= previous.get("wall_s", 0)
  else:
    start_record(record)
  no_xla = _names(args.no_xla, CLASSES, "--no_xla") if args.no_xla else []
  record.setdefault("classes", [])
  done = {(r["class"], r["format"]) for r in record["classes"]}
  for gan_class in classes:
    for fmt in formats:
      if (gan_class, fmt) in done:
        continue
      skip = (PROGAN_XLA_REASON if gan_class == "ProgressiveGAN" else "--no_xla") \
          if gan_class in no_xla else None
      row = measure_class(gan_class, fmt, args.class_batch, args.class_g_ch,
                          args.class_d_ch, xla_modes, args.steps, args.repeats, skip)
      finish_row(row, record["matmul"])
      record["classes"].append(row)
      save(record, args.out, began, final=False)  # a stopped run keeps its rows
  record["rows"] = []
  for arch in archs:
    g_ch, d_ch = widths(arch)
    for b in (batch_128 if ARCHS[arch]["dataset"] == "imagenet_128" else batch_32):
      for fmt in formats:
        row = measure_arch(arch, b, g_ch, d_ch, xla_modes, args.steps, args.repeats, fmt)
        finish_row(row, record["matmul"])
        record["rows"].append(row)
  if not args.reference:
    record["torch"] = "skipped (no --reference)"
  elif args.no_torch:
    record["torch"] = "skipped (--no_torch)"
  elif REFERENCE_ARCH in archs:
    record["torch"] = run_torch(batch_32, *widths(REFERENCE_ARCH), args.steps,
                                args.repeats, args.torch_threads)
  else:
    record["torch"] = f"skipped ({REFERENCE_ARCH} not in --archs)"
  if isinstance(record["torch"], str):
    log(f"PyTorch peer {record['torch']}")
  note_load(record, "end")
  save(record, args.out, began, final=True)
  print("\n" + table(record), flush=True)
  log(f"wrote {args.out}.json and {args.out}.md")
  return record


def note_load(record: dict[str, Any], when: str) -> None:
  """record["load_average_<when>"] (1 min) and all three; a warning (logged
  and recorded) when other processes share the CPU."""
  record[f"load_average_{when}"] = os.getloadavg()[0]
  record[f"load_averages_{when}"] = list(os.getloadavg())
  warning = load_warning(when, record[f"load_average_{when}"])
  if warning:
    log(warning)
    record["warnings"].append(warning)


def start_record(record: dict[str, Any]) -> None:
  """The load average at the start, the matmul limit and the FLOP check."""
  note_load(record, "start")
  log("matmul limit (2048x2048 float32 and bfloat16, best of 5)")
  record["matmul"] = matmul_rates()
  log(f"  TF float32 {record['matmul']['tf_gflops']:.1f} GFLOP/s, TF bfloat16 "
      f"{record['matmul']['tf_bf16_gflops']:.1f} GFLOP/s, numpy "
      f"{record['matmul']['numpy_gflops']:.1f} GFLOP/s")
  record["flop_check"] = conv_flops_check()
  log(f"  FLOP counter check: {record['flop_check']}")


def _incomplete_record(out: str) -> dict[str, Any] | None:
  """The newest record of <out>.json if a stopped run left it incomplete."""
  if not os.path.exists(out + ".json"):
    return None
  with open(out + ".json") as f:
    records = json.load(f)
  return records[-1] if records and records[-1].get("complete") is False else None


def save(record: dict[str, Any], out: str, began: float, final: bool) -> None:
  """Writes the record into <out>.json (replacing this run's earlier
  partial copy) and <out>.md; a partial record says so."""
  record["class_summary"] = class_summary(record["classes"])
  record["verdicts"] = verdicts(record)
  record["wall_s"] = time.time() - began
  record["complete"] = final
  record.setdefault("load_average_end", os.getloadavg()[0])
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  path = out + ".json"
  records = []
  if os.path.exists(path):
    with open(path) as f:
      records = json.load(f)
  if records and records[-1].get("date") == record["date"]:
    records.pop()  # this run's partial copy
  records.append(record)
  files.write_json(path, records)
  files.write_text(out + ".md", markdown(records))


if __name__ == "__main__":
  main()
