"""The training step's memory on the CPU, estimated before the first step:
a batch that cannot fit is refused in one line (the batch size, the estimate
and the memory available) instead of growing until the kernel kills the
process (exit 137, no message); TensorFlow's ResourceExhaustedError during
a step becomes one line naming the batch size.

The estimate traces the D and G steps' gradients at a small batch (no
tensor is allocated) and scales linearly: per example, the bytes of every
batch-sized float tensor the larger step's forward pass computes, as if all
were alive at once. It is an upper bound: peak RSS grew by 0.55 to 0.71
of it per example (quickstart float32 and bfloat16, resnet_cifar10 float32;
benchmarks/step_memory.py). The trace (a second or two) runs only when a cheap bound
from the widths of G and D (every layer at full resolution) says the batch
might not fit. COMPARE_GAN2_MEMORY_AVAILABLE=<bytes> (e.g. 64G)
replaces the memory the check compares with; `off` skips it.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import tensorflow as tf

from compare_gan2.gans import make_step_inputs

logger = logging.getLogger("compare_gan2")

ENV = "COMPARE_GAN2_MEMORY_AVAILABLE"
# The traced batch: a size no weight's leading dimension is likely to be a
# multiple of (tensors of k x the batch, k <= 8, count: real and fake
# concatenated, rotations).
TRACE_BATCH = 13
# Float tensors per layer of the cheap bound (outputs, batch-norm and
# activation temporaries), over the layers' channels at full resolution.
_OPS_PER_LAYER = 8
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
  """"64G" -> 64 * 2**30 (also K, M, T, a plain number of bytes)."""
  match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", text.upper())
  if not match:
    raise ValueError(f"{ENV} must be a size like 64G or 500M, or off. Received: {text!r}")
  return int(float(match[1]) * _UNITS[match[2]])


def available_bytes() -> tuple[int | None, str]:
  """(bytes this process may still allocate, where the figure comes from):
  COMPARE_GAN2_MEMORY_AVAILABLE, else the smaller of MemAvailable and the
  cgroup's limit (a container). None: unknown (or `off`)."""
  text = os.environ.get(ENV)
  if text:
    return (None, ENV) if text.strip().lower() == "off" else (parse_bytes(text), ENV)
  found = []
  try:
    with open("/proc/meminfo") as f:
      found += [(int(line.split()[1]) * 1024, "MemAvailable") for line in f
                if line.startswith("MemAvailable:")]
  except OSError:
    pass
  for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                       ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                        "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
    try:
      with open(limit) as f, open(usage) as g:
        found.append((int(f.read()) - int(g.read()), "the cgroup's memory limit"))
    except (OSError, ValueError):  # absent, or "max"
      continue
  return min(found) if found else (None, "")


def _slot_spec(image_shape: tuple[int, ...], gan: Any, batch: int) -> dict[str, tf.TensorSpec]:
  """The TensorSpecs of one D or G step's inputs (`gan._slot` of
  `make_step_inputs`) at `batch`."""
  n = gan.disc_iters
  specs = tf.function(lambda images, labels: make_step_inputs(
      images, labels, disc_iters=n, z_dim=gan.z_dim, num_classes=gan.num_classes,
      seed=0)).get_concrete_function(
          tf.TensorSpec([batch * n, *image_shape], tf.float32),
          tf.TensorSpec([batch * n], tf.int32)).structured_outputs
  return {k: tf.TensorSpec([batch, *s.shape[2:]], s.dtype) for k, s in specs.items()}


# Ops whose output shares its input's buffer.
_ALIASES = frozenset({"Identity", "IdentityN", "Reshape", "StopGradient", "Squeeze",
                      "ExpandDims", "Snapshot"})


def _forward_bytes(graph: Any, batch: int) -> int:
  """Bytes of the batch-sized float outputs of a traced step's forward ops
  (not its gradients, not aliases), per example."""
  total = 0
  for op in graph.get_operations():
    if op.name.startswith(("gradient_tape/", "AddN")) or op.type in _ALIASES:
      continue
    for t in op.outputs:
      shape = t.shape
      if (t.dtype.is_floating and shape.rank and shape.is_fully_defined()
          and shape[0] % batch == 0 and shape[0] <= 8 * batch):
        total += shape.num_elements() * t.dtype.size
  return total // batch


def step_bytes_per_example(gan: Any, image_shape: tuple[int, ...]) -> int:
  """The estimate (module docstring): the larger of the D and G steps'
  forward bytes per example, traced at TRACE_BATCH."""
  spec = _slot_spec(image_shape, gan, TRACE_BATCH)
  return max(_forward_bytes(tf.function(fn).get_concrete_function(spec).graph, TRACE_BATCH)
             for fn in (gan.d_gradients, gan.g_gradients))


def cheap_bound_per_example(gan: Any, image_shape: tuple[int, ...]) -> int:
  """A bound on `step_bytes_per_example` from the weights alone: every
  layer's output channels at full resolution, _OPS_PER_LAYER float32
  tensors each, D counted twice (real and fake)."""
  pixels = image_shape[0] * image_shape[1]

  def channels(net: Any) -> int:
    return sum(int(w.shape[-1]) for w in net.weights
               if len(w.shape) >= 2 and w.path.rsplit("/", 1)[-1] == "kernel")

  d_nets = [gan.discriminator, *gan.heads.values()]
  return 4 * pixels * _OPS_PER_LAYER * (channels(gan.generator)
                                        + 2 * sum(channels(n) for n in d_nets))


def _gb(n: float) -> str:
  return f"{n / 2**30:.1f} GB"


def check_training_memory(gan: Any, image_shape: tuple[int, ...], batch_size: int,
                          strategy: tf.distribute.Strategy) -> None:
  """Raises MemoryError (one line) when the CPU training step of the global
  `batch_size` (this host's share of it) cannot fit in the memory available.
  Nothing is checked on GPUs and TPUs (their own memory; an out-of-memory
  step raises `out_of_memory`) or when the memory is unknown."""
  from compare_gan2.runner import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  available, source = available_bytes()
  if available is None or strategy_lib.on_accelerator(strategy):
    return
  try:
    local = len(strategy.extended.worker_devices) / strategy.num_replicas_in_sync
  except RuntimeError:  # the default strategy
    local = 1.0
  examples = batch_size * local
  if examples * cheap_bound_per_example(gan, image_shape) <= available:
    return
  per_example = step_bytes_per_example(gan, image_shape)
  needed = examples * per_example
  logger.debug("Training step memory: %d bytes per example, %s for the batch, %s "
               "available.", per_example, _gb(needed), _gb(available))
  if needed > available:
    fits = int(available // per_example / local)
    raise MemoryError(
        f"options.batch_size = {batch_size} needs up to about {_gb(needed)} for the "
        f"training step ({per_example / 2**20:.2f} MB per example, traced), and "
        f"{_gb(available)} is available ({source}); lower options.batch_size (about "
        f"{fits} fits), or set {ENV}=<bytes> (or off) if you know better.")


def out_of_memory(detail: str, batch_size: int) -> MemoryError:
  """TensorFlow's ResourceExhaustedError in a step (`detail`: its first
  line), as one line."""
  return MemoryError(f"Out of memory in the training step at options.batch_size = "
                     f"{batch_size}; lower options.batch_size ({detail}).")
