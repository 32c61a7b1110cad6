"""Packing (PacGAN, Lin et al., NeurIPS 2018, arXiv:1712.04086): D judges m
samples at once, concatenated along channels, all real or all fake.

A batch of B = n * m samples packs into n packed examples; packed example j
holds samples j*m, ..., j*m + m - 1 (consecutive), and its channel c of slot i
is channel i * C + c, so slot i's channels come before slot i + 1's, as
PacGAN's `concatenate(x_tildes, axis=1)` lays them out. G makes slot i of every
packed example in its own call (`generate_by_slot`): PacGAN runs its
generator once per slot, so batch norm in G sees each slot's n samples.
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from compare_gan2.core.checks import is_int
from compare_gan2.ops import normalization


def check_packing(packing: Any) -> int:
  """`packing` as an int >= 1, or one clear ValueError."""
  if not is_int(packing, 1):
    raise ValueError(f"D.packing must be an integer >= 1 (1: no packing; PacGAN2: "
                     f"2). Received: packing={packing!r}")
  return packing


def _check_batch(batch: int | None, packing: int) -> None:
  if batch is not None and batch % packing:
    raise ValueError(f"D.packing = {packing} packs the batch into groups of "
                     f"{packing}: the batch ({batch} samples) must be a multiple "
                     f"of {packing} (set options.batch_size to one).")


def pack(x: tf.Tensor, packing: int) -> tf.Tensor:
  """[n * m, H, W, C] (or [n * m, C]) -> [n, H, W, m * C] (or [n, m * C])."""
  if packing == 1:
    return x
  _check_batch(x.shape[0], packing)
  inner = x.shape[1:]
  grouped = tf.reshape(x, [-1, packing, *inner])  # [n, m, ..., C]
  rank = len(inner) + 2
  # The slot axis next to the channels: [n, ..., m, C].
  order = [0, *range(2, rank - 1), 1, rank - 1]
  return tf.reshape(tf.transpose(grouped, order), [-1, *inner[:-1], packing * inner[-1]])


def generate_by_slot(generator: Callable[..., tf.Tensor], z: tf.Tensor, y: Any,
                     packing: int, **kwargs: Any) -> tf.Tensor:
  """generator(z, y) with sample k made in the call of slot k mod m: each
  slot's samples form one batch (for G's batch norm), and sample k is still
  G(z[k]), in place."""
  if packing == 1:
    return generator(z, y, **kwargs)
  _check_batch(z.shape[0], packing)
  with normalization.averaged_updates():  # one batch-norm update per call, as PacGAN's
    slots = [generator(z[i::packing], None if y is None else y[i::packing], **kwargs)
             for i in range(packing)]
  stacked = tf.stack(slots, axis=1)  # [n, m, ...]: sample j*m + i is slot i's j-th
  return tf.reshape(stacked, [-1, *stacked.shape[2:]])
