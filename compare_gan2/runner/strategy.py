"""tf.distribute strategies by name, and logical CPU devices for trying
multi-replica training on a machine without GPUs."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


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


def make_strategy(name: str = "default", *, tpu: str | None = None
                  ) -> tf.distribute.Strategy:
  """The strategy `name`: default | mirrored | multi_worker | tpu.

  mirrored uses every local GPU, or every logical CPU where there is none;
  multi_worker reads the cluster from the TF_CONFIG environment variable; tpu
  connects to `tpu` ("" or "local" for a TPU VM, a name or grpc:// address).
  """
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
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu="local" if tpu in (None, "") else tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"Unknown strategy '{name}'. Choose one of {STRATEGIES}.")


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
