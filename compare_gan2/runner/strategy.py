"""tf.distribute strategies by name, and logical CPU devices for trying
multi-replica training on a machine without GPUs."""

from __future__ import annotations

import glob
import json
import os
import socket
from typing import Mapping

import tensorflow as tf

from compare_gan2.core.choices import STRATEGIES

# Seconds to wait for a TCP connection to a grpc:// TPU address before giving
# up (TensorFlow itself would wait forever on an unreachable address).
TPU_CONNECT_TIMEOUT = 10.0


class TPUNotFoundError(ValueError):
  """`--strategy tpu` found no TPU; the message names the address it tried
  and how to get a TPU (one line)."""


def split_cpu(num_devices: int) -> None:
  """Splits the CPU into `num_devices` logical devices. Must run before
  TensorFlow initialises its devices (before the first op)."""
  if num_devices < 1:
    raise ValueError(f"num_cpu_devices must be >= 1. Received: {num_devices}")
  cpu = tf.config.list_physical_devices("CPU")[0]
  current = tf.config.get_logical_device_configuration(cpu)
  if current is not None and len(current) == num_devices:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
  except RuntimeError as e:
    raise RuntimeError(
        f"Cannot split the CPU into {num_devices} devices: TensorFlow is "
        "already initialised. Pass --num_cpu_devices before anything runs "
        "(it is the first thing the CLI does).") from e


def local_devices() -> list[str]:
  """GPUs if there are any, else the (logical) CPUs."""
  gpus = tf.config.list_logical_devices("GPU")
  return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def on_accelerator(strategy: tf.distribute.Strategy) -> bool:
  """Whether the strategy's replicas run on GPUs or TPUs (not the CPU)."""
  if isinstance(strategy, tf.distribute.TPUStrategy):
    return True
  try:
    devices = strategy.extended.worker_devices
  except RuntimeError:  # the default strategy: this process's devices
    devices = local_devices()
  return any(":GPU:" in d.upper() or ":TPU:" in d.upper() for d in devices)


def tpu_address(tpu: str | None = None,
                environ: Mapping[str, str] | None = None) -> str:
  """Where `--strategy tpu` looks for a TPU: `tpu` (--tpu) if given, else
  $TPU_NAME, else grpc://$COLAB_TPU_ADDR (Colab's legacy TPU-node runtime),
  else "local" (the TPU chips of this VM: Colab's TPU runtimes, Cloud TPU VMs)."""
  environ = os.environ if environ is None else environ
  if tpu:
    return tpu
  if environ.get("TPU_NAME"):
    return environ["TPU_NAME"]
  if environ.get("COLAB_TPU_ADDR"):
    return "grpc://" + environ["COLAB_TPU_ADDR"]
  return "local"


def has_tpu(environ: Mapping[str, str] | None = None, dev: str = "/dev") -> bool:
  """Whether this machine announces a TPU: $TPU_NAME, $COLAB_TPU_ADDR, or TPU
  chips attached to this VM (`dev`/accel*). Looks only; connects to nothing."""
  environ = os.environ if environ is None else environ
  return bool(environ.get("TPU_NAME") or environ.get("COLAB_TPU_ADDR")
              or glob.glob(os.path.join(dev, "accel[0-9]*")))


def detect_strategy(environ: Mapping[str, str] | None = None, dev: str = "/dev"
                    ) -> tuple[str, str | None]:
  """(strategy name, --tpu) for this machine, what `--strategy auto` runs:
  ("tpu", address) where a TPU is announced (`has_tpu`), ("mirrored", None)
  with several GPUs, else ("default", None) (one GPU, or the CPU)."""
  if has_tpu(environ, dev):
    return "tpu", tpu_address(None, environ)
  if len(tf.config.list_physical_devices("GPU")) > 1:
    return "mirrored", None
  return "default", None


def _reason(e: BaseException) -> str:
  """The first sentence of an error, for a one-line message."""
  text = getattr(e, "message", None) if isinstance(e, tf.errors.OpError) else None
  text = " ".join((text or str(e) or type(e).__name__).split())
  end = text.find(". ")
  text = text[:end + 1] if end > 0 else text
  return f"{type(e).__name__}: {text[:160].rstrip('.')}"


def _no_tpu(address: str, reason: str) -> TPUNotFoundError:
  return TPUNotFoundError(
      f"--strategy tpu: no TPU found at '{address}' ({reason}). On Colab choose "
      "Runtime > Change runtime type > TPU; elsewhere pass --tpu NAME (a Cloud "
      "TPU name or grpc://HOST:8470) or run on the TPU VM itself (--tpu local); "
      "see docs/tpu.md.")


def _check_reachable(address: str, timeout: float) -> None:
  """Fails fast on a grpc://HOST:PORT nobody listens on."""
  host, _, port = address[len("grpc://"):].rpartition(":")
  if not host or not port.isdigit():
    return
  try:
    socket.create_connection((host, int(port)), timeout=timeout).close()
  except OSError as e:
    raise _no_tpu(address, f"cannot connect: {e}") from e


def connect_tpu(tpu: str | None = None, *, environ: Mapping[str, str] | None = None,
                timeout: float = TPU_CONNECT_TIMEOUT
                ) -> tf.distribute.cluster_resolver.TPUClusterResolver:
  """Connects to the TPU at `tpu_address(tpu)` and initialises it.

  Raises:
    TPUNotFoundError: no TPU there (one line: the address, the first sentence
      of TensorFlow's error, how to get a TPU).
  """
  address = tpu_address(tpu, environ)
  if address.startswith("grpc://"):
    _check_reachable(address, timeout)
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, OSError, RuntimeError, tf.errors.OpError) as e:
    # ValueError: no name to resolve; OSError (URLError): a TPU name the Cloud
    # TPU API does not know; NotFoundError: no TPU devices at the address.
    raise _no_tpu(address, _reason(e)) from e
  if not tf.config.list_logical_devices("TPU"):
    raise _no_tpu(address, "connected, but it has no TPU devices")
  return resolver


def make_strategy(name: str = "default", *, tpu: str | None = None
                  ) -> tf.distribute.Strategy:
  """The strategy `name`: default | auto | mirrored | multi_worker | tpu.

  auto is tpu when `tpu` is given, else `detect_strategy()`: tpu on a TPU
  machine, mirrored over several GPUs, else default. mirrored uses every local GPU, or every logical CPU
  where there is none; multi_worker reads the cluster from the TF_CONFIG
  environment variable; tpu connects to `tpu_address(tpu)` (see
  `connect_tpu`; `TPUNotFoundError` when there is no TPU).
  """
  if name == "auto":  # --tpu given: a TPU is wanted
    name, tpu = ("tpu", tpu) if tpu else detect_strategy()
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(local_devices())
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy multi_worker needs the TF_CONFIG environment "
                       "variable (the cluster and this worker's task).")
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    return tf.distribute.TPUStrategy(connect_tpu(tpu))
  raise ValueError(f"Unknown strategy '{name}'. Choose one of {STRATEGIES}.")


def describe(strategy: tf.distribute.Strategy) -> str:
  """Where `strategy` runs: "TPU (8 cores)", "2 GPUs (mirrored)", "GPU", "CPU"."""
  replicas = strategy.num_replicas_in_sync
  if isinstance(strategy, tf.distribute.TPUStrategy):
    return f"TPU ({replicas} cores)"
  kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
  if replicas > 1:
    return f"{replicas} {kind}s ({type(strategy).__name__})"
  return kind


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes checkpoints, summaries and samples."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type is None:
    return True
  has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get(
      "cluster", {})
  return task_type == "chief" or (not has_chief and task_type == "worker"
                                  and task_id == 0)


def worker_id(strategy: tf.distribute.Strategy) -> int:
  resolver = getattr(strategy, "cluster_resolver", None)
  return int(getattr(resolver, "task_id", 0) or 0)
