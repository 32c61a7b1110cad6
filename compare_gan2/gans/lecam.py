"""LeCam regularization of D (Tseng et al., CVPR 2021, arXiv:2104.03310), in
the two flavours of google/lecam-gan, chosen in gin by
`ModularGAN.d_regularizer = "lecam_stylegan2"` (or `"lecam_biggan"`).

Both add weight * R to D's loss, with EMAs a_R, a_F of D's mean logits on
the reals and the fakes (stop-gradient, updated before use in the same D
step) and
  R = mean(relu(D(x_real) - a_F)^2) + mean(relu(a_R - D(x_fake))^2).
They differ in the EMAs:
  lecam_stylegan2: `stylegan2/lecam_loss.py`, TF's `assign_moving_average`
    with decay 0.99 and zero debiasing (a_t = b_t / (1 - 0.99^t)); active
    from the first step.
  lecam_biggan: `biggan_cifar` (`utils.ema_losses`, updated in the hinge
    loss): decay 0.9, values start at 1000; before `start_step` the EMA is
    the step's mean (decay 0), and R enters D's loss only after it.
Means are over the global batch (averaged over replicas), updated once per
D step. The state is the GAN's (`checkpoint_items`), so a resumed run
continues exactly.
"""

from __future__ import annotations

import tensorflow as tf

from compare_gan2.core.batching import replica_reduce
from compare_gan2.gans.regularizer import DStep, Regularizer
from compare_gan2.core.registry import REGULARIZERS

Metrics = dict[str, tf.Tensor]


def _replica_mean(x: tf.Tensor) -> tf.Tensor:
  """x averaged over the replicas (equal batches: the global batch's mean)."""
  return replica_reduce(x, tf.distribute.ReduceOp.MEAN)


def lecam_penalty(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                  ema_real: tf.Tensor, ema_fake: tf.Tensor) -> tf.Tensor:
  """mean(relu(real - ema_fake)^2) + mean(relu(ema_real - fake)^2)."""
  ema_real, ema_fake = tf.stop_gradient(ema_real), tf.stop_gradient(ema_fake)
  return (tf.reduce_mean(tf.square(tf.nn.relu(real_logits - ema_fake)))
          + tf.reduce_mean(tf.square(tf.nn.relu(ema_real - fake_logits))))


class LeCam(Regularizer):
  """The regularizer's state and step; subclasses define the EMA update.

  Create under the strategy's scope (the GAN does): the state variables are
  mirrored, and every replica assigns the same value (the means are
  all-reduced first).
  """

  decay: float
  synchronises_replicas = True  # the EMAs average D's logits over replicas

  def __init__(self, weight: float, init: float = 0.0):
    name = type(self).registry_name
    if not weight >= 0.0:
      raise ValueError(f"{name}.weight must be >= 0. Received: {weight!r}")
    if not 0.0 <= self.decay < 1.0:
      raise ValueError(f"{name}.decay must be in [0, 1). Received: {self.decay!r}")
    self.weight = float(weight)
    self._state: dict[str, tf.Variable] = {}
    for name, value in self.initial_state(init).items():
      self._state[name] = tf.Variable(
          value, dtype=tf.float32, trainable=False, name=f"lecam_{name}",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  @property
  def variables(self) -> list[tf.Variable]:
    """The state, in a fixed order (for checkpoints)."""
    return [self._state[k] for k in sorted(self._state)]

  def initial_state(self, init: float) -> dict[str, float]:
    return {"ema_real": init, "ema_fake": init}

  def update(self, state: dict[str, tf.Tensor], real_mean: tf.Tensor,
             fake_mean: tf.Tensor, step: tf.Tensor
             ) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """(new state, whether R enters D's loss at this step)."""
    raise NotImplementedError

  def d_term(self, step: DStep) -> tuple[tf.Tensor, Metrics]:
    return self(step.real_logits, step.fake_logits, step.step)

  def __call__(self, real_logits: tf.Tensor, fake_logits: tf.Tensor,
               step: tf.Tensor) -> tuple[tf.Tensor, Metrics]:
    """(weight * R or 0, metrics) for one D step; updates the EMAs first.
    step: the GAN's global step (G updates done), the original's `itr`."""
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    real_mean = _replica_mean(tf.stop_gradient(tf.reduce_mean(real_logits)))
    fake_mean = _replica_mean(tf.stop_gradient(tf.reduce_mean(fake_logits)))
    old = {k: tf.convert_to_tensor(v) for k, v in self._state.items()}
    new, active = self.update(old, real_mean, fake_mean, step)
    for k, v in new.items():
      self._state[k].assign(v)
    reg = lecam_penalty(real_logits, fake_logits, new["ema_real"], new["ema_fake"])
    reg = tf.where(active, reg, tf.zeros_like(reg))
    return self.weight * reg, {"lecam": reg, "lecam_ema_real": new["ema_real"],
                               "lecam_ema_fake": new["ema_fake"]}


@REGULARIZERS.register("lecam_stylegan2")
class LeCamStyleGAN2(LeCam):
  """LeCam as google/lecam-gan's StyleGAN2 (TF) code: zero-debiased EMAs, decay 0.99.

  Args:
    weight: float. The regularizer's weight in D's loss. Defaults to `0.3`,
      the weight of the original's BigGAN scripts: its StyleGAN2 scripts pass
      `--lecam 1e-6`/`3e-7` to a stylegan2-ada loss the repository does not
      include, whose scale is not this library's (docs/fidelity.md).
    decay: float. Defaults to `0.99`, as the original.
  """

  def __init__(self, weight: float = 0.3, decay: float = 0.99):
    self.decay = decay
    super().__init__(weight)

  def initial_state(self, init: float) -> dict[str, float]:
    return {**super().initial_state(init), "biased_real": 0.0, "biased_fake": 0.0,
            "local_step": 0.0}

  def update(self, state, real_mean, fake_mean, step):
    del step
    # tf.train's assign_moving_average(zero_debias=True), op for op.
    one_minus_decay = tf.constant(1.0 - self.decay, tf.float32)
    local_step = state["local_step"] + 1.0
    bias_factor = 1.0 - tf.pow(1.0 - one_minus_decay, local_step)
    new = {"local_step": local_step}
    for name, mean in (("real", real_mean), ("fake", fake_mean)):
      biased = state[f"biased_{name}"]
      new[f"biased_{name}"] = biased - (biased - mean) * one_minus_decay
      new[f"ema_{name}"] = new[f"biased_{name}"] / bias_factor
    return new, tf.constant(True)


@REGULARIZERS.register("lecam_biggan")
class LeCamBigGAN(LeCam):
  """LeCam as google/lecam-gan's BigGAN CIFAR (PyTorch) code: EMAs with decay 0.9 from step 1000.

  Args:
    weight: float. The regularizer's weight in D's loss (`--LC`). Defaults to
      `0.3`, as every `lc-*` script of the original.
    decay: float. Defaults to `0.9` (`ema_losses`).
    start_step: int. Before it the EMA equals the step's mean; R is added
      from the step after it. Defaults to `1000` (`train.py`).
    init: float. The EMAs' initial value (matters only for start_step 0).
      Defaults to `1000.0`, as the original.
  """

  def __init__(self, weight: float = 0.3, decay: float = 0.9,
               start_step: int = 1000, init: float = 1000.0):
    if start_step < 0:
      raise ValueError(f"lecam_biggan.start_step must be >= 0. Received: {start_step!r}")
    self.decay = decay
    self.start_step = int(start_step)
    super().__init__(weight, init)

  def update(self, state, real_mean, fake_mean, step):
    step = tf.cast(step, tf.int64)
    decay = tf.where(step < self.start_step, 0.0, self.decay)
    new = {f"ema_{name}": state[f"ema_{name}"] * decay + mean * (1.0 - decay)
           for name, mean in (("real", real_mean), ("fake", fake_mean))}
    return new, step > self.start_step

