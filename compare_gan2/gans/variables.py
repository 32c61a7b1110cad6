"""Checkpointing Keras 3 models with tf.train.Checkpoint.

TF's object-graph checkpoints do not see every variable of a Keras 3 model
(batch-norm statistics, spectral-norm vectors and layers kept in lists were
missing), so a resumed run silently lost them. A `VariableBag` names each
variable explicitly: "<index>.<kind>" (kernel, bias, mean, momentum, ...).
Names are positional because Keras puts a per-process instance counter
("generator_1", "adam_3") into variable paths; restoring checks shapes."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def _key(index: int, variable: tf.Variable) -> str:
  kind = variable.name.split(":")[0].split("/")[-1].split("_")[-1]
  return f"{index:04d}.{kind}"


class VariableBag(tf.Module):
  """A trackable holding `variables` under stable names (see module doc)."""

  def __init__(self, variables: Sequence[tf.Variable], name: str | None = None):
    super().__init__(name=name)
    self.by_name = {_key(i, v): v for i, v in enumerate(variables)}
