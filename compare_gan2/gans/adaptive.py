"""ADA's controller of the augmentation probability p (Karras et al., 2020;
NVlabs/stylegan2-ada `training/training_loop.py`, `augment.py`'s
AdaptiveAugment with tune_heuristic 'rt'), chosen in gin with
`ADA.pipeline = "bgc"`.

Every D step adds sign(D(x_real)) of its reals (D's logits, over the global
batch: summed over replicas) to two accumulators. Every `interval` G steps
    r_t = sum / count,  p <- max(p + sign(r_t - target) * count / (kimg * 1000), 0)
and the accumulators restart; count is the number of reals whose signs were
added (the original's batch * interval when disc_iters = 1). `adaptive=False`
keeps p fixed (the original's `--aug=fixed`). p, the accumulators and the last
r_t are variables of the GAN's checkpoint, so a resumed run continues exactly.
The augmentation itself is `compare_gan2/augment/ada.py`.
"""

from __future__ import annotations

from typing import Any

import gin
import tensorflow as tf

from compare_gan2.augment import ada as ada_lib
from compare_gan2.core.batching import replica_reduce

Metrics = dict[str, tf.Tensor]


@gin.configurable("ADA")
class ADA:
  """Adaptive discriminator augmentation: the pipeline on every image D sees, p tuned from r_t.

  Args:
    pipeline: the ops, by the original's `--augpipe` name ("bgc", "bg",
      "blit", "geom", "color") or a comma-separated list of ops ("xflip,
      rotate90"); "" (the default) disables ADA.
    p: float. The initial p (with adaptive=False, p throughout). Defaults to 0.
    adaptive: bool. Tune p with the r_t heuristic (True, the default) or
      keep it fixed.
    target: float. The r_t target. Defaults to `0.6` (the original's `--aug=ada`).
    interval: int. G steps between updates of p. Defaults to `4`.
    kimg: float. Thousands of reals over which p can move by 1. Defaults to `500`.
    max_p: float or None. An upper bound on p; None (the default) bounds it
      below by 0 only, as the original (p above 1 applies every op, as 1 does).
    per_example_margin: bool. Each example's reflect padding (independent of
      the replica split, the default) or the batch's (the original's);
      docs/fidelity.md.
    data_range: (lo, hi) of the GAN's images, mapped to the original's [-1, 1].
    strengths: overrides of `ada.STRENGTHS` ({"xint_max": 0.125, ...}).
  """

  def __init__(self, pipeline: str = "", p: float = 0.0, adaptive: bool = True,
               target: float = 0.6, interval: int = 4, kimg: float = 500.0,
               max_p: float | None = None, per_example_margin: bool = True,
               data_range: tuple[float, float] = (0.0, 1.0),
               strengths: dict[str, float] | None = None):
    self.ops = parse_pipeline(pipeline)
    checks = {"p": p >= 0.0, "interval": int(interval) == interval and interval >= 1,
              "kimg": kimg > 0.0, "max_p": max_p is None or max_p >= p}
    for name, ok in checks.items():
      if not ok:
        raise ValueError(f"ADA.{name} is out of range. Received: {name}="
                         f"{dict(p=p, interval=interval, kimg=kimg, max_p=max_p)[name]!r}")
    unknown = sorted(set(strengths or {}) - set(ada_lib.STRENGTHS))
    if unknown:
      raise ValueError(f"ADA.strengths has unknown keys {unknown}. "
                       f"Known: {', '.join(ada_lib.STRENGTHS)}.")
    self.initial_p, self.adaptive, self.target = float(p), bool(adaptive), float(target)
    self.interval, self.kimg, self.max_p = int(interval), float(kimg), max_p
    self.per_example_margin = per_example_margin
    self.data_range = tuple(data_range)
    self.strengths = dict(strengths or {})
    self._vars: dict[str, tf.Variable] = {}

  def __bool__(self) -> bool:
    return bool(self.ops)

  def build(self) -> None:
    """Makes the state (under the strategy's scope; the GAN calls it)."""
    if self._vars or not self:
      return
    for name, value in (("p", self.initial_p), ("signs_sum", 0.0), ("signs_count", 0.0),
                        ("rt", 0.0)):
      self._vars[name] = tf.Variable(
          value, dtype=tf.float32, trainable=False, name=f"ada_{name}",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  @property
  def variables(self) -> list[tf.Variable]:
    """The state in a fixed order (for checkpoints)."""
    return [self._vars[k] for k in sorted(self._vars)]

  @property
  def p(self) -> tf.Variable:
    return self._vars["p"]

  def __call__(self, images: tf.Tensor, seeds: tf.Tensor, salt: int) -> tf.Tensor:
    """The pipeline with the current p on images in `data_range`."""
    return ada_lib.ada_augment(images, tf.convert_to_tensor(self.p), seeds, salt, self.ops,
                               self.data_range, strengths=self.strengths,
                               per_example_margin=self.per_example_margin)

  @staticmethod
  def sign_stats(real_logits: tf.Tensor) -> Metrics:
    """This replica's sum of sign(D(x_real)) and its count."""
    signs = tf.sign(tf.cast(tf.reshape(real_logits, [-1]), tf.float32))
    return {"ada_signs_sum": tf.reduce_sum(signs),
            "ada_signs_count": tf.cast(tf.size(signs), tf.float32)}

  def accumulate(self, stats: Metrics) -> None:
    """Adds a D step's `sign_stats` (summed over replicas). Replica context."""
    total = replica_reduce(tf.stack([stats["ada_signs_sum"], stats["ada_signs_count"]]),
                           tf.distribute.ReduceOp.SUM)
    self._vars["signs_sum"].assign_add(total[0])
    self._vars["signs_count"].assign_add(total[1])

  def tune_state(self) -> Metrics:
    """ada_p and ada_rt (the latest r_t), as logged."""
    return {"ada_p": tf.convert_to_tensor(self._vars["p"]),
            "ada_rt": tf.convert_to_tensor(self._vars["rt"])}

  def tune(self, step: tf.Tensor) -> Metrics:
    """After G step `step` (counted from 1): every `interval` steps r_t and
    (adaptive) p are updated and the accumulators restart. Returns ada_p
    and ada_rt (the latest r_t)."""
    v = self._vars
    due = tf.equal(tf.math.floormod(tf.cast(step, tf.int64), self.interval), 0)
    count = tf.convert_to_tensor(v["signs_count"])
    rt = tf.where(count > 0, v["signs_sum"] / tf.maximum(count, 1.0), 0.0)
    p = tf.convert_to_tensor(v["p"])
    if self.adaptive:
      new_p = tf.maximum(p + tf.sign(rt - self.target) * count / (self.kimg * 1000.0), 0.0)
      if self.max_p is not None:
        new_p = tf.minimum(new_p, self.max_p)
      v["p"].assign(tf.where(due, new_p, p))
    v["rt"].assign(tf.where(due, rt, v["rt"]))
    for name in ("signs_sum", "signs_count"):
      v[name].assign(tf.where(due, 0.0, v[name]))
    return self.tune_state()


def parse_pipeline(pipeline: str) -> tuple[str, ...]:
  """The ops of a pipeline name or a comma-separated list of ops."""
  pipeline = (pipeline or "").strip()
  if pipeline in ada_lib.PIPELINES:
    return ada_lib.PIPELINES[pipeline]
  ops = tuple(o.strip() for o in pipeline.split(",") if o.strip())
  known = ada_lib.PIPELINES["bgc"]
  unknown = [o for o in ops if o not in known]
  if unknown:
    raise ValueError(f"Unknown ADA.pipeline entries {unknown}. Pipelines: "
                     f"{', '.join(ada_lib.PIPELINES)}; ops: {', '.join(known)}.")
  return ops


def make_ada(entry: Any) -> ADA:
  """`ModularGAN.ada`: an ADA, a pipeline name (the other settings from
  gin), or None for the one gin configures."""
  if isinstance(entry, ADA):
    return entry
  if entry is None or isinstance(entry, str):
    return ADA() if entry is None else ADA(pipeline=entry)
  raise ValueError(f"ModularGAN.ada must be an ADA, a pipeline name or None. "
                   f"Received: {entry!r}")
