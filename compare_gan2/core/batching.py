"""Fixed-size batches for evaluation: the last partial batch is padded to
the full size (and the padding rows dropped from the results), so that every
batch has the same shape: one trace of the sampling or feature function,
and static shapes for XLA and TPUs. And the reduction of a per-replica value
over the global batch's replicas."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def pad_to_batches(x: Any, batch_size: int) -> Any:
  """x [N, ...] with zero rows appended up to a multiple of batch_size (N
  itself when it is one); numpy in, numpy out, else a tf.Tensor."""
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1. Received: {batch_size}")
  n = int(x.shape[0])
  pad = -n % batch_size
  if isinstance(x, np.ndarray):
    return np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
  x = tf.convert_to_tensor(x)
  return tf.concat([x, tf.zeros([pad, *x.shape[1:]], x.dtype)], 0) if pad else x


def replica_reduce(x: tf.Tensor, op: tf.distribute.ReduceOp) -> tf.Tensor:
  """x reduced with `op` over the replicas of the current replica context
  (x itself outside one or with a single replica)."""
  ctx = tf.distribute.get_replica_context()
  if ctx is None or ctx.num_replicas_in_sync == 1:
    return x
  return ctx.all_reduce(op, x)
