"""What a run computes from its current weights without training: samples
of the sampling (EMA) generator with BigGAN's standing statistics, D's
logits on reals, and the sample grids written with each checkpoint."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from compare_gan2.core import batching, config
from compare_gan2.ops import normalization
from compare_gan2.runner import images as images_lib
from compare_gan2.runner.run_dir import RunDir
from compare_gan2.runner.settings import RunConfig

STANDING_STATISTICS = ("accu_mean", "accu_variance", "accu_counter")


def standing_batches(run_config: RunConfig, batch_size: int) -> tuple[int, int]:
  """(batch size, number of batches) of the standing statistics:
  `run_config.num_standing_batches` batches of `batch_size` (or of
  `run_config.standing_batch_size`), or with `run_config.num_accu_examples`
  set, num_accu_examples // batch size batches (the original's
  eval_gan_lib: 204800 // 64 = 3200)."""
  batch = run_config.standing_batch_size or batch_size
  examples = run_config.num_accu_examples
  if examples is None:
    return batch, run_config.num_standing_batches
  return batch, max(1, examples // batch)


class Sampler:
  """Samples and D logits of a GAN, on every replica of `strategy`.

  Args:
    gan: the GAN.
    strategy: the tf.distribute strategy the GAN lives in.
    seed: int. The run's seed (fixed latents of samples and statistics).
    batch_size: int. Default global batch (`options.batch_size`).
    run_config: RunConfig. Standing statistics and sample grid settings.
  """

  def __init__(self, gan: Any, strategy: tf.distribute.Strategy, *, seed: int,
               batch_size: int, run_config: RunConfig):
    self.gan, self.strategy, self.seed = gan, strategy, seed
    self.batch_size, self.run_config = batch_size, run_config
    self._sample_fn = None
    self._discriminator_fn = None
    self._standing_step = -1

  @property
  def compiles(self) -> bool:
    """XLA-compile the per-replica functions, as training does."""
    return self.run_config.compile_loop or self.gan.jit_compile

  def forget_statistics(self) -> None:
    """New weights (a restore) need their own standing statistics."""
    self._standing_step = -1

  def sample_inputs(self, num: int, seed_offset: int = 0
                    ) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Fixed latents (`eval_z`) and labels (classes in turn) for samples."""
    z = config.sample_eval_z([num, self.gan.z_dim],
                             seed=tf.constant([self.seed, 1_000_003 + seed_offset]))
    labels = None
    if self.gan.conditional:
      labels = tf.range(num, dtype=tf.int32) % self.gan.num_classes
    return z, labels

  def standing_batches(self) -> tuple[int, int]:
    """(batch size, number of batches) of the standing statistics."""
    return standing_batches(self.run_config, self.batch_size)

  def accumulate_standing_statistics(self) -> bool:
    """BigGAN's standing statistics: the sampling generator's batch-norm
    moments in inference mode, averaged over `standing_batches()` batches of
    latents (each batch's moments weigh the same); once per step. Returns
    whether G uses them."""
    accumulators = [w for w in self.gan.sampling_generator.weights
                    if w.path.rsplit("/", 1)[-1] in STANDING_STATISTICS]
    step = int(self.gan.global_step.numpy())
    if not accumulators or self._standing_step == step:
      return bool(accumulators)
    for w in accumulators:
      w.assign(tf.zeros_like(w))
    batch, num_batches = self.standing_batches()
    with normalization.accumulate_standing_statistics():
      for i in range(num_batches):
        z = config.sample_z([batch, self.gan.z_dim],
                            seed=tf.constant([self.seed, 2_000_003 + i]))
        labels = None
        if self.gan.conditional:
          labels = tf.random.stateless_uniform(
              [batch], [self.seed, 3_000_017 + i], maxval=self.gan.num_classes,
              dtype=tf.int32)
        self.gan.sample(z, labels)  # eager: each call adds its moments
    self._standing_step = step
    return True

  def generate(self, num: int, batch_size: int | None = None,
               seed_offset: int = 0) -> np.ndarray:
    """`num` samples of the sampling (EMA) generator, computed on every
    replica; numpy [num, H, W, C]. Batches of `batch_size` (default
    options.batch_size), the last one padded (its padding dropped), so the
    sampling function is traced once; under XLA (compile_loop or
    jit_compile) it is compiled."""
    self.accumulate_standing_statistics()
    z, labels = self.sample_inputs(num, seed_offset)
    batch = batch_size or self.batch_size
    if labels is None:
      labels = tf.zeros([num], tf.int32)
    z, labels = (batching.pad_to_batches(t, batch) for t in (z, labels))
    return self._map_batches(self.sample_fn(), (z, labels), batch)[:num]

  def _map_batches(self, fn: Callable[..., Any], inputs: tuple[Any, ...],
                   batch: int) -> np.ndarray:
    """fn (a traced `strategy.run`) over global batches of `inputs` (whose
    length is a multiple of `batch`), split over the replicas; the results
    concatenated in order, numpy."""
    ds = tf.data.Dataset.from_tensor_slices(inputs).batch(batch, drop_remainder=True)
    outputs = []
    # One host: the replicas' results in replica order are the batch in
    # order. Several hosts need an all-gather (a collective).
    multi_host = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
    for args in self.strategy.experimental_distribute_dataset(ds):
      per_replica = fn(*args)
      if multi_host:
        outputs.append(self.strategy.gather(per_replica, axis=0).numpy())
      else:
        outputs += [t.numpy() for t in
                    self.strategy.experimental_local_results(per_replica)]
    return np.concatenate(outputs)

  def discriminator_logits(self, images: np.ndarray, labels: np.ndarray,
                           batch_size: int | None = None) -> np.ndarray:
    """D's logits [N] (float32) on reals [N, H, W, C] in the data's range
    with their labels [N] (read only by a conditional D).

    D as its step sees reals (`gan.prepare_reals`, which fades them at
    ProGAN's current level, then `gan.call_discriminator`: S3GAN's
    projection included), without DiffAugment, in inference mode as D's
    SavedModel signature calls it: spectral norm with its stored u, batch
    norm with its moving averages, so the logits do not depend on how the
    images are batched (but through ProGAN's minibatch-stddev layer, which
    reads its batch in either mode) and D is left unchanged (a training-mode call runs a
    power iteration and updates them). On every replica, in global batches
    of `batch_size` (default options.batch_size); the last batch is filled
    up with repeats of the first images (a minibatch-stddev layer sees
    real images, not zeros), which are dropped.
    """
    num = len(images)
    batch = batch_size or self.batch_size
    index = np.arange(num + (-num % batch)) % num
    images = np.asarray(images, np.float32)[index]
    labels = np.asarray(labels, np.int32)[index]
    return self._map_batches(self.discriminator_fn(), (images, labels), batch)[:num]

  def discriminator_fn(self) -> Callable[[Any, Any], Any]:
    """The traced D logits [B] of one (distributed) batch of reals and
    labels (see `discriminator_logits`); per replica, XLA-compiled when
    training is."""
    if self._discriminator_fn is None:
      gan, strategy = self.gan, self.strategy

      def logits(x, y):
        x = gan.prepare_reals(x)
        is_real = tf.ones(tf.shape(x)[:1], tf.bool)
        out = gan.call_discriminator(x, gan.one_hot(y), is_real, training=False)
        return tf.cast(tf.reshape(out[1], [-1]), tf.float32)

      if self.compiles:
        logits = tf.function(logits, jit_compile=True)
      self._discriminator_fn = tf.function(
          lambda x, y: strategy.run(logits, args=(x, y)))
    return self._discriminator_fn

  def sample_fn(self) -> Callable[[Any, Any], Any]:
    """The traced sampling of one (distributed) batch: labels ignored when
    unconditional; per replica, XLA-compiled when training is."""
    if self._sample_fn is None:
      gan, strategy = self.gan, self.strategy

      def sample(z, y):
        return gan.sample(z, y if gan.conditional else None)

      if self.compiles:
        sample = tf.function(sample, jit_compile=True)
      self._sample_fn = tf.function(lambda z, y: strategy.run(sample, args=(z, y)))
    return self._sample_fn

  def write_samples(self, run_dir: RunDir, dataset: Any) -> str | None:
    """samples/step_<step>.png in `run_dir` and a TensorBoard image of the
    same grid; 2-D toy data show `dataset`'s points too."""
    samples = self.generate(self.run_config.num_sample_images)
    if not run_dir.is_chief:
      return None
    step = int(self.gan.global_step.numpy())
    real = None
    if samples.shape[1:] == (1, 1, 2):  # 2-D toy data: show the data too
      split = dataset.eval_split
      num = min(1000, dataset.num_examples(split))
      real = next(iter(dataset.eval_input_fn(split, num)))[0].numpy()
    picture = images_lib.sample_picture(samples, real, f"step {step}")
    path = images_lib.save_png(picture, os.path.join(
        run_dir.path, "samples", f"step_{step:07d}.png"))
    with run_dir.summary_writer().as_default():
      tf.summary.image("samples", picture[None], step=step)
    return path
