"""Training speed of the library's real step, held against the machine's limit.

  python benchmarks/train_speed.py                 # full size (slow on a CPU)
  python benchmarks/train_speed.py --quick         # tiny widths: does it work?
  python benchmarks/train_speed.py --archs resnet_cifar_arch --batch_sizes 64 \
      --xla off,on --steps 3 --repeats 3

Measures, in one run:
  1. the machine's limit: dense float32 2048x2048 matmul GFLOP/s in TensorFlow
     (`tf.linalg.matmul`) and numpy, warmed up, best of several;
  2. for each architecture, batch size and XLA off/on, ms/step and images/s of
     the library's training step as the Runner runs it: a `Runner` built from
     gin bindings (conditional, 10 classes at 32 px, conditional BN in G,
     spectral norm, projection D, EMA of G, hinge loss, Adam, disc_iters 1) on
     `--data_fake_dataset` data, `--steps` steps per tf.function call as
     `run_config.iterations_per_loop` does, in the Runner's own loop; XLA on
     is `ModularGAN.jit_compile = True` (the per-replica step compiled);
  3. FLOPs of one step, counted by TensorFlow's graph profiler
     (`tf.compat.v1.profiler`, float_operation) on the traced `train_step`,
     checked against the analytic 2*B*H*W*K*K*Cin*Cout of one convolution and
     2*N*in*out of one dense layer; achieved GFLOP/s and its fraction of the
     numpy and TF matmul rates;
  4. the input pipeline's share: the same number of batches pulled from the
     Runner's `train_inputs` alone, divided by the step time (an upper bound:
     in training the pipeline runs ahead and overlaps the step);
  5. the PyTorch peer (benchmarks/torch_peer.py) of resnet_cifar_arch's step at
     the same widths and batch sizes, torch threads = CPU cores.

Writes <out>.json (appends a record) and <out>.md (the latest table); <out>
defaults to benchmarks/results/train_speed (with --quick:
/tmp/train_speed_quick). Extra dependency: torch (CPU build) for the peer,
`pip install -e '.[torch-port]'`; without it the peer is skipped.
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
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from compare_gan2 import config  # noqa: E402
from compare_gan2.runner.train import Runner  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# The targets: the library's resnet_cifar step at most 1/1.2 of the PyTorch
# step's time, and at least 80% of the numpy matmul rate.
TORCH_SPEEDUP_TARGET = 1.2
MATMUL_FRACTION_TARGET = 0.8
REFERENCE_ARCH = "resnet_cifar_arch"


def cores() -> int:
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


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


def log(message: str) -> None:
  print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Machine limit ---------------------------------------------------------------


def matmul_rates(n: int = 2048, repeats: int = 5) -> dict[str, float]:
  """Best-of-`repeats` float32 n x n matmul GFLOP/s in TF and numpy."""
  rng = np.random.RandomState(0)
  a, b = rng.rand(n, n).astype(np.float32), rng.rand(n, n).astype(np.float32)
  ta, tb = tf.constant(a), tf.constant(b)
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
          "numpy_gflops": best(lambda: a @ b)}


# --- FLOP counting ---------------------------------------------------------------


def _profile_opts() -> dict[str, Any]:
  builder = tf.compat.v1.profiler.ProfileOptionBuilder
  return builder(builder.float_operation()).with_empty_output().build()


def graph_flops(fn: Callable[..., Any], *args: Any) -> int:
  """Float operations of one call of `fn(*args)`, by TensorFlow's graph
  profiler on the traced graph (nothing runs). Counts every op with a
  registered "flops" statistic: Conv2D and its two backprops as 2 * output
  elements * K*K*Cin (resp. the equivalent), MatMul as 2*M*K*N, element-wise
  ops one per element; ops inside nested functions (while/cond bodies) are not
  counted, so pass a function without loops. Shapes must be fully known."""
  return count_flops(fn, *args)[0]


def count_flops(fn: Callable[..., Any], *args: Any) -> tuple[int, dict[str, int]]:
  """(profiler total, per op type) of one trace of `fn(*args)`; the per-type
  split reads the same "flops" registry the profiler uses."""
  from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-import-not-at-top
  graph = tf.function(fn).get_concrete_function(*args).graph
  total = int(tf.compat.v1.profiler.profile(graph=graph, options=_profile_opts())
              .total_float_ops)
  counts: dict[str, int] = {}
  for op in graph.get_operations():
    try:
      stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
    except (ValueError, TypeError):
      continue
    if stat.value:
      counts[op.type] = counts.get(op.type, 0) + int(stat.value)
  return total, counts


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


# --- The library's step ----------------------------------------------------------


def gin_bindings(arch: str, batch_size: int, g_ch: int, d_ch: int) -> list[str]:
  """The step the benchmark times, as gin bindings of the Runner."""
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


def build_runner(arch: str, batch_size: int, g_ch: int, d_ch: int,
                 model_dir: str | None = None) -> Runner:
  """A Runner on fake data of the architecture's dataset (clears gin)."""
  gin.clear_config()
  config.parse(gin_bindings=gin_bindings(arch, batch_size, g_ch, d_ch))
  return Runner(model_dir or tempfile.mkdtemp(prefix="train_speed_"),
                fake_data=True)


def iterator_of(runner: Runner):
  return iter(runner.strategy.experimental_distribute_dataset(runner.train_inputs(0)))


def train_loop(runner: Runner, xla: bool) -> Callable[..., dict[str, tf.Tensor]]:
  """`loop(iterator, tf.constant(n))`: n training steps in one tf.function,
  the Runner's own loop (the code `train()` runs), with the library's
  `ModularGAN.jit_compile` off or on (the per-replica step XLA-compiled)."""
  runner.gan.jit_compile = xla
  runner._train_loop_fn = None  # noqa: SLF001  (retrace with the new setting)
  return runner._train_loop()  # noqa: SLF001


def _median(values: list[float]) -> float:
  return float(np.median(values))


def time_calls(call: Callable[[], Any], repeats: int, label: str) -> list[float]:
  """Seconds of `repeats` calls after one warm-up (compiling) call."""
  times = []
  for r in range(repeats + 1):
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    log(f"  {label} {'warm-up (traces/compiles)' if r == 0 else f'repeat {r}'}: "
        f"{elapsed:.2f} s")
    if r:
      times.append(elapsed)
  return times


def time_train(runner: Runner, xla: bool, steps: int, repeats: int,
               label: str) -> dict[str, Any]:
  loop = train_loop(runner, xla)
  iterator = iterator_of(runner)
  num = tf.constant(steps)

  def call():
    metrics = loop(iterator, num)
    # float() waits for the step: the device is done when the value is here.
    return {k: float(v) for k, v in metrics.items()}

  times = time_calls(call, repeats, f"{label} xla={'on' if xla else 'off'}")
  ms = 1e3 * _median(times) / steps
  return {"ms_per_step": ms, "times_s": times}


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
  return 1e3 * _median(times) / steps


def step_flops(runner: Runner) -> dict[str, Any]:
  """FLOPs of one `gan.train_step` on one global batch (traced, not run)."""
  features = next(iter(runner.train_inputs(0)))
  total, by_type = count_flops(runner.gan.train_step, features)
  dense = sum(v for t, v in by_type.items()
              if t.startswith(("Conv2D", "MatMul", "BatchMatMul")))
  return {"flops": total, "conv_matmul_flops": dense,
          "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


def measure_arch(arch: str, batch_size: int, g_ch: int, d_ch: int, xla_modes: list[bool],
                 steps: int, repeats: int) -> dict[str, Any]:
  label = f"{arch} B={batch_size}"
  log(f"{label}: building the Runner (G ch {g_ch}, D ch {d_ch})")
  runner = build_runner(arch, batch_size, g_ch, d_ch)
  row: dict[str, Any] = {"arch": arch, "batch_size": batch_size, "g_ch": g_ch,
                         "d_ch": d_ch, "resolution": runner.info["resolution"],
                         "num_classes": runner.info["num_classes"]}
  flops = step_flops(runner)
  row.update(flops=flops["flops"], conv_matmul_flops=flops["conv_matmul_flops"],
             flops_by_type=flops["by_type"])
  log(f"  {label}: {flops['flops'] / 1e9:.2f} GFLOP per step "
      f"({flops['conv_matmul_flops'] / 1e9:.2f} in conv/matmul)")
  for xla in xla_modes:
    key = "xla_on" if xla else "xla_off"
    try:
      row[key] = time_train(runner, xla, steps, repeats, label)
    except Exception as e:  # noqa: BLE001  (record why XLA failed, go on)
      text = " ".join(str(e).split())[:500]
      row[key] = {"error": f"{type(e).__name__}: {text}"}
      log(f"  {label} xla={'on' if xla else 'off'} FAILED: {row[key]['error']}")
  row["input_ms_per_step"] = time_inputs(runner, steps, repeats, label)
  gin.clear_config()
  return row


# --- Report ----------------------------------------------------------------------


def finish_row(row: dict[str, Any], limits: dict[str, float]) -> None:
  """Adds images/s, GFLOP/s, fractions of the matmul rates, input share."""
  for key in ("xla_off", "xla_on"):
    t = row.get(key)
    if not t or "error" in t:
      continue
    ms = t["ms_per_step"]
    t["images_per_s"] = row["batch_size"] * 1e3 / ms
    t["gflops"] = row["flops"] / ms / 1e6
    t["fraction_of_numpy_matmul"] = t["gflops"] / limits["numpy_gflops"]
    t["fraction_of_tf_matmul"] = t["gflops"] / limits["tf_gflops"]
    t["input_share"] = row["input_ms_per_step"] / ms


def table(record: dict[str, Any]) -> str:
  limits = record["matmul"]
  lines = [f"Machine limit ({record['cores']} cores, load average "
           f"{record['load_average_start']:.1f} at the start, "
           f"{record['load_average_end']:.1f} at the end): float32 {limits['n']}x{limits['n']} "
           f"matmul {limits['tf_gflops']:.1f} GFLOP/s (TF), {limits['numpy_gflops']:.1f} "
           "GFLOP/s (numpy)", "",
           "| arch | B | G/D ch | XLA | ms/step | img/s | GFLOP/step | GFLOP/s "
           "| % numpy mm | % TF mm | input share | torch ms/step | TF/torch |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  torch_rows = {t["batch_size"]: t for t in record.get("torch", [])
                if isinstance(t, dict) and "ms_per_step" in t}
  for row in record["rows"]:
    for key in ("xla_off", "xla_on"):
      if key not in row:
        continue
      t = row[key]
      head = (f"| {row['arch']} | {row['batch_size']} | {row['g_ch']}/{row['d_ch']} "
              f"| {key[4:]} ")
      if "error" in t:
        lines.append(head + f"| failed: {t['error'][:120]} | | | | | | | | |")
        continue
      peer = torch_rows.get(row["batch_size"]) if row["arch"] == REFERENCE_ARCH else None
      peer_cols = (f"| {peer['ms_per_step']:.1f} | {t['ms_per_step'] / peer['ms_per_step']:.2f} "
                   if peer else "| | ")
      lines.append(head + f"| {t['ms_per_step']:.1f} | {t['images_per_s']:.1f} "
                   f"| {row['flops'] / 1e9:.2f} | {t['gflops']:.1f} "
                   f"| {100 * t['fraction_of_numpy_matmul']:.0f}% "
                   f"| {100 * t['fraction_of_tf_matmul']:.0f}% "
                   f"| {100 * t['input_share']:.0f}% " + peer_cols + "|")
  check = record["flop_check"]
  lines += ["", "FLOPs: TensorFlow graph profiler (float_operation) on the traced "
            "train_step. Check on one conv layer: profiler "
            f"{check['conv_profiler']} vs analytic {check['conv_analytic']} (forward), "
            f"{check['conv_fwd_bwd_profiler']} vs {check['conv_fwd_bwd_analytic']} "
            f"(forward + backward); dense {check['dense_profiler']} vs "
            f"{check['dense_analytic']}."]
  if isinstance(record.get("torch"), str):
    lines.append(f"PyTorch peer: {record['torch']}")
  lines += [""] + record["verdicts"]
  return "\n".join(lines)


def verdicts(record: dict[str, Any]) -> list[str]:
  """PASS/FAIL of the two targets for every resnet_cifar row (XLA off, the
  Runner's path; XLA on shown beside it)."""
  out = []
  limits = record["matmul"]
  torch_rows = {t["batch_size"]: t for t in record.get("torch", [])
                if isinstance(t, dict) and "ms_per_step" in t}
  for row in record["rows"]:
    if row["arch"] != REFERENCE_ARCH:
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
  load = max(record["load_average_start"], record["load_average_end"])
  if out and load > 0.5 * record["cores"]:
    out.append(f"NOTE: load average up to {load:.1f} on {record['cores']} cores: other "
               "processes shared the CPU; these verdicts are not meaningful.")
  return out


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--archs", default=",".join(ARCHS),
                      help="comma-separated architectures")
  parser.add_argument("--batch_sizes", default="16,64",
                      help="batch sizes of the 32 px architectures")
  parser.add_argument("--batch_sizes_128", default="4",
                      help="batch sizes of resnet_biggan_arch at 128 px")
  parser.add_argument("--steps", type=int, default=3,
                      help="steps per tf.function call (iterations_per_loop)")
  parser.add_argument("--repeats", type=int, default=3,
                      help="timed calls after the warm-up; the median is reported")
  parser.add_argument("--xla", default="off,on", help="off, on or off,on")
  parser.add_argument("--g_ch", type=int, default=None,
                      help="G width of every architecture (default: its own)")
  parser.add_argument("--d_ch", type=int, default=None,
                      help="D width of every architecture (default: its own)")
  parser.add_argument("--quick", action="store_true",
                      help="tiny widths, batch 4 (2 at 128 px), 2 steps, 1 repeat")
  parser.add_argument("--no_torch", action="store_true", help="skip the PyTorch peer")
  parser.add_argument("--torch_threads", type=int, default=cores(),
                      help="torch.set_num_threads of the peer (default: the cores)")
  parser.add_argument("--out", default=None, help="results prefix (.json, .md)")
  args = parser.parse_args(argv)
  if args.quick:
    args.batch_sizes, args.batch_sizes_128 = "4", "2"
    args.steps, args.repeats = 2, 1
  if args.out is None:
    args.out = ("/tmp/train_speed_quick" if args.quick
                else os.path.join(RESULTS, "train_speed"))
  return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
  args = parse_args(argv)
  archs = [a.strip() for a in args.archs.split(",") if a.strip()]
  for arch in archs:
    if arch not in ARCHS:
      raise SystemExit(f"Unknown --archs entry {arch!r}; one of {', '.join(ARCHS)}")
  xla_modes = [{"off": False, "on": True}[m.strip()] for m in args.xla.split(",")]
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
      "flop_method": "tf.compat.v1.profiler float_operation on the traced train_step"}
  record["load_average_start"] = os.getloadavg()[0]
  if record["load_average_start"] > 0.5 * cores():
    log(f"WARNING: load average {record['load_average_start']:.1f} on {cores()} cores: "
        "other processes share the CPU and distort every number here")
  log("matmul limit (2048x2048 float32, best of 5)")
  record["matmul"] = matmul_rates()
  log(f"  TF {record['matmul']['tf_gflops']:.1f} GFLOP/s, numpy "
      f"{record['matmul']['numpy_gflops']:.1f} GFLOP/s")
  record["flop_check"] = conv_flops_check()
  log(f"  FLOP counter check: {record['flop_check']}")
  record["rows"] = []
  for arch in archs:
    g_ch, d_ch = widths(arch)
    for b in (batch_128 if ARCHS[arch]["dataset"] == "imagenet_128" else batch_32):
      row = measure_arch(arch, b, g_ch, d_ch, xla_modes, args.steps, args.repeats)
      finish_row(row, record["matmul"])
      record["rows"].append(row)
  if args.no_torch:
    record["torch"] = "skipped (--no_torch)"
  elif REFERENCE_ARCH in archs:
    record["torch"] = run_torch(batch_32, *widths(REFERENCE_ARCH), args.steps,
                                args.repeats, args.torch_threads)
  else:
    record["torch"] = f"skipped ({REFERENCE_ARCH} not in --archs)"
  if isinstance(record["torch"], str):
    log(f"PyTorch peer {record['torch']}")
  record["load_average_end"] = os.getloadavg()[0]
  record["verdicts"] = verdicts(record)
  text = table(record)
  print("\n" + text, flush=True)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  path = args.out + ".json"
  records = []
  if os.path.exists(path):
    with open(path) as f:
      records = json.load(f)
  records.append(record)
  with open(path, "w") as f:
    json.dump(records, f, indent=2)
  with open(args.out + ".md", "w") as f:
    f.write(f"# Training speed ({record['date']})\n\n"
            + text + "\n")
  log(f"wrote {path} and {args.out}.md")
  return record


if __name__ == "__main__":
  main()
