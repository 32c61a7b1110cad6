"""`compare_gan2 pretrain`: a rotation-prediction feature extractor
(Gidaris et al. 2018) for label inference ("High-Fidelity Image Generation
With Fewer Labels", section 3: CLUSTERING and S2GAN).

  compare_gan2 pretrain --out /tmp/rot --dataset digits --steps 300

Every training image is shown at 0/90/180/270 degrees and the network
predicts which (4-way softmax); the labels of the dataset are not used. The
network is a ResNet sized to the resolution: a small one below 128 px, a
ResNet-50-like bottleneck network (3-4-6-3 blocks) from 128 px on, as in the
paper. The out directory holds:

  config.json           the model config, the dataset and the step reached
  ckpt/                 tf.train checkpoint (model, optimizer, step): resume
  extractor.weights.h5  the model weights (what `extract_features` loads)

A rerun continues from the saved step up to --steps (nothing to do when it is
reached already).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from compare_gan2.core import files
from compare_gan2.gans.variables import VariableBag
from compare_gan2.runner import checkpoints as ckpt_lib
from compare_gan2.runner.errors import NaNLossError
from compare_gan2.runner.loop import Progress

logger = logging.getLogger("compare_gan2")

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "extractor.weights.h5"
NUM_ROTATIONS = 4
# From this resolution on, the ResNet-50-like network of the paper.
LARGE_RESOLUTION = 128


# === Rotations ===

def rotate_batch(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """All four rotations of a batch: ([4B, H, W, C], int32 [4B]).

  Rows k*B .. (k+1)*B - 1 hold the batch rotated by k * 90 degrees
  counter-clockwise (`tf.image.rot90(x, k)`) and carry label k.
  """
  batch = tf.shape(images)[0]
  rotated = [tf.image.rot90(images, k) for k in range(NUM_ROTATIONS)]
  labels = tf.repeat(tf.range(NUM_ROTATIONS, dtype=tf.int32), batch)
  return tf.concat(rotated, axis=0), labels


# === Network ===

@keras.saving.register_keras_serializable("compare_gan2")
class ResidualBlock(keras.layers.Layer):
  """Post-activation ResNet block: basic (two 3x3) or bottleneck
  (1x1, 3x3, 1x1 with 4x expansion), BN + ReLU, projection shortcut when the
  shape changes."""

  def __init__(self, filters: int, stride: int = 1, bottleneck: bool = False,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.filters, self.stride, self.bottleneck = filters, stride, bottleneck
    out = filters * 4 if bottleneck else filters
    conv = lambda f, k, s=1: keras.layers.Conv2D(  # noqa: E731
        f, k, strides=s, padding="same", use_bias=False,
        kernel_initializer="he_normal")
    if bottleneck:
      self.convs = [conv(filters, 1), conv(filters, 3, stride), conv(out, 1)]
    else:
      self.convs = [conv(filters, 3, stride), conv(out, 3)]
    self.norms = [keras.layers.BatchNormalization() for _ in self.convs]
    self.out_channels = out
    self.shortcut = None
    self.shortcut_norm = None

  def build(self, input_shape: Any) -> None:
    if self.stride != 1 or input_shape[-1] != self.out_channels:
      self.shortcut = keras.layers.Conv2D(
          self.out_channels, 1, strides=self.stride, use_bias=False,
          kernel_initializer="he_normal")
      self.shortcut_norm = keras.layers.BatchNormalization()

  def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
    h = x
    for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
      h = norm(conv(h), training=training)
      if i < len(self.convs) - 1:
        h = tf.nn.relu(h)
    if self.shortcut is not None:
      x = self.shortcut_norm(self.shortcut(x), training=training)
    return tf.nn.relu(h + x)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "filters": self.filters,
            "stride": self.stride, "bottleneck": self.bottleneck}


def default_arch(resolution: int) -> str:
  return "resnet50" if resolution >= LARGE_RESOLUTION else "small"


@keras.saving.register_keras_serializable("compare_gan2")
class RotationNet(keras.Model):
  """ResNet trunk + linear 4-way rotation head.

  `features(x)` is the representation used for label inference: the
  outputs of `feature_stages`, average-pooled to a `feature_grid` x
  `feature_grid` grid, flattened and concatenated. Small net: the middle
  stage at 4x4 (the last stage specialises in rotation, and a global pool
  loses the layout that tells digits apart; measured on `digits`). ResNet-50:
  the global pool of the last stage, as in the paper.

  Args:
    resolution: int. Input height and width.
    colors: int. Input channels.
    width: int. Channels of the first stage (doubles per stage).
    arch: "small" (3 stages of 1 basic block, stride-2 stem: for 32-64 px),
      "resnet50" (7x7 stem + max-pool, 3-4-6-3 bottleneck blocks: 128+ px),
      or "auto" (by resolution).
    feature_stages: stage indices whose outputs form the features
      (None: [1] small, [3] resnet50).
    feature_grid: int. Pooled grid size (None: 4 small, 1 resnet50).
  """

  def __init__(self, resolution: int = 32, colors: int = 3, width: int = 32,
               arch: str = "auto", feature_stages: Sequence[int] | None = None,
               feature_grid: int | None = None, **kwargs: Any):
    super().__init__(**kwargs)
    self.resolution, self.colors, self.width = resolution, colors, width
    self.arch = default_arch(resolution) if arch == "auto" else arch
    small = self.arch == "small"
    self.feature_stages = list(feature_stages if feature_stages is not None
                               else ([1] if small else [3]))
    self.feature_grid = int(feature_grid or (4 if small else 1))
    conv = lambda f, k, s: keras.layers.Conv2D(  # noqa: E731
        f, k, strides=s, padding="same", use_bias=False,
        kernel_initializer="he_normal")
    if self.arch == "small":
      # Stride-2 stem: 32 px images of this size class carry little detail
      # at full resolution, and it quarters the cost.
      self.stem = [conv(width, 3, 2), keras.layers.BatchNormalization()]
      blocks, bottleneck = [1, 1, 1], False
    elif self.arch == "resnet50":
      self.stem = [conv(width, 7, 2), keras.layers.BatchNormalization(),
                   keras.layers.MaxPooling2D(3, 2, padding="same")]
      blocks, bottleneck = [3, 4, 6, 3], True
    else:
      raise ValueError("arch must be 'auto', 'small' or 'resnet50'. "
                       f"Received: arch={arch!r}")
    self.stages = []
    for s, n in enumerate(blocks):
      self.stages.append([
          ResidualBlock(width * 2**s, stride=2 if (s > 0 and i == 0) else 1,
                        bottleneck=bottleneck) for i in range(n)])
    self.head = keras.layers.Dense(NUM_ROTATIONS)
    self.build((None, resolution, resolution, colors))

  def build(self, input_shape: Any) -> None:
    self._stage_outputs(keras.ops.zeros((1,) + tuple(input_shape[1:])))
    self.head.build((None, self.width * 2**(len(self.stages) - 1)
                     * (4 if self.arch == "resnet50" else 1)))
    self.built = True

  @property
  def feature_dim(self) -> int:
    expansion = 4 if self.arch == "resnet50" else 1
    return sum(self.width * 2**s * expansion * self.feature_grid**2
               for s in self.feature_stages)

  def _stage_outputs(self, x: tf.Tensor, training: bool = False) -> list:
    h = x * 2.0 - 1.0  # Images in [0, 1] -> [-1, 1].
    for layer in self.stem:
      h = layer(h, training=training) if isinstance(
          layer, keras.layers.BatchNormalization) else layer(h)
      if isinstance(layer, keras.layers.BatchNormalization):
        h = tf.nn.relu(h)
    outputs = []
    for stage in self.stages:
      for block in stage:
        h = block(h, training=training)
      outputs.append(h)
    return outputs

  def features(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
    """[B, feature_dim]: `feature_stages` pooled to the feature grid."""
    outputs = self._stage_outputs(x, training=training)
    feats = []
    for s in self.feature_stages:
      h = outputs[s]
      size = max(h.shape[1] // self.feature_grid, 1)
      h = tf.nn.avg_pool2d(h, size, size, "VALID")
      feats.append(tf.reshape(h, [tf.shape(h)[0], -1]))
    return tf.concat(feats, axis=-1)

  def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
    # The rotation head reads the global pool of the last stage.
    h = self._stage_outputs(x, training=training)[-1]
    return self.head(tf.reduce_mean(h, axis=[1, 2]))

  def get_config(self) -> dict[str, Any]:
    return {"resolution": self.resolution, "colors": self.colors,
            "width": self.width, "arch": self.arch,
            "feature_stages": self.feature_stages,
            "feature_grid": self.feature_grid}

  @staticmethod
  def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the defaults filled in (without building a model)."""
    config = dict(config)
    arch = config.get("arch", "auto")
    if arch == "auto":
      arch = default_arch(config.get("resolution", 32))
    small = arch == "small"
    config["arch"] = arch
    if config.get("feature_stages") is None:
      config["feature_stages"] = [1] if small else [3]
    if config.get("feature_grid") is None:
      config["feature_grid"] = 4 if small else 1
    return config

  @classmethod
  def from_config(cls, config: dict[str, Any]) -> "RotationNet":
    return cls(**config)


# === Training ===

def _dataset(dataset: Any, tfds_data_dir: str | None = None) -> Any:
  if isinstance(dataset, str):
    from compare_gan2.data import get_dataset  # pylint: disable=g-import-not-at-top
    return get_dataset(dataset, tfds_data_dir=tfds_data_dir)
  return dataset


def read_config(out_dir: str) -> dict[str, Any]:
  path = os.path.join(out_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"No pretrained extractor in '{out_dir}' (no "
                            f"{CONFIG_FILE}); run `compare_gan2 pretrain`.")
  with open(path) as f:
    return json.load(f)


def _model_config(out_dir: str, dataset: Any, width: int | None,
                  arch: str) -> dict[str, Any]:
  """The RotationNet config (what its get_config gives) for these
  arguments; refuses an `out_dir` that holds another extractor."""
  arch = default_arch(dataset.resolution) if arch == "auto" else arch
  model_config = RotationNet.resolve_config(
      {"resolution": dataset.resolution, "colors": dataset.colors,
       "width": width or (16 if arch == "small" else 64), "arch": arch})
  if os.path.exists(os.path.join(out_dir, CONFIG_FILE)):
    previous = read_config(out_dir)
    if previous["model"] != model_config or previous["dataset"] != dataset.name:
      raise ValueError(
          f"'{out_dir}' holds an extractor for dataset "
          f"'{previous['dataset']}' with model {previous['model']}, not "
          f"'{dataset.name}' with {model_config}: use another --out.")
  return model_config


def _checkpoint_manager(out_dir: str, model: keras.Model,
                        optimizer: keras.optimizers.Optimizer,
                        step: tf.Variable) -> tf.train.CheckpointManager:
  """The manager of out_dir/ckpt/ (the newest checkpoint only), restored
  from its newest checkpoint, as the Runner names and checks them."""
  ckpt_dir = os.path.join(out_dir, "ckpt")
  # Keras 3 models are not reliably trackable by tf.train.Checkpoint (layers
  # in lists): checkpoint their variables, as the GAN runner does.
  checkpoint = tf.train.Checkpoint(model=VariableBag(model.weights),
                                   optimizer=VariableBag(optimizer.variables),
                                   step=step)
  ckpt_lib.remove_temp_folders(ckpt_dir)
  manager = tf.train.CheckpointManager(
      checkpoint, ckpt_dir, checkpoint_name=ckpt_lib.CHECKPOINT_PREFIX,
      max_to_keep=1)
  latest = manager.latest_checkpoint
  if latest:
    problem = ckpt_lib.checkpoint_problem(latest)
    if problem:
      raise ckpt_lib.CorruptCheckpointError(
          f"Cannot resume the extractor from {latest}: {problem}. Remove "
          f"{ckpt_dir} to pretrain from step 0.", latest, problem)
    checkpoint.restore(latest).assert_consumed()
  return manager


def _train_step_fn(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                   step: tf.Variable, strategy: tf.distribute.Strategy,
                   global_rows: int) -> Any:
  """One distributed step on a batch of images: (loss, rotation accuracy),
  averaged over the `global_rows` rotated images of all replicas."""

  def replica_step(images):
    x, y = rotate_batch(images)
    with tf.GradientTape() as tape:
      logits = model(x, training=True)
      per_example = tf.keras.losses.sparse_categorical_crossentropy(
          y, logits, from_logits=True)
      loss = tf.nn.compute_average_loss(per_example,
                                        global_batch_size=global_rows)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y),
                      tf.float32)
    return loss, tf.reduce_sum(correct) / global_rows

  @tf.function
  def train_step(batch):
    loss, acc = strategy.run(replica_step, args=(batch[0],))
    step.assign_add(1)
    return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, acc, axis=None))

  return train_step


def pretrain(out_dir: str, dataset: Any, *, steps: int = 600,
             batch_size: int = 32, width: int | None = None, arch: str = "auto",
             learning_rate: float = 1e-3, seed: int = 0,
             strategy: tf.distribute.Strategy | None = None,
             log_every: int = 50, tfds_data_dir: str | None = None
             ) -> dict[str, Any]:
  """Trains (or resumes) the rotation extractor in `out_dir` up to `steps`.

  Checkpoints, the progress line and the stop on a non-finite loss
  (`NaNLossError`) are the Runner's.

  Args:
    out_dir: str. Output directory (see the module docstring).
    dataset: str or ImageDataset. All training images are used; labels not.
    steps: int. Total optimizer steps (a rerun continues to this).
    batch_size: int. Global images per step (x4 rotations).
    width, arch: the `RotationNet` size (width None: 16 for the small net,
      64 for ResNet-50).
    learning_rate: float. Adam.
    seed: int. Shuffle seed of the input pipeline.
    strategy: tf.distribute strategy (default: the current one).
    log_every: int. Steps between progress lines.

  Returns:
    The config dict written to config.json, with the last "loss" and
    "accuracy" (rotation) and "steps_per_sec".
  """
  strategy = strategy or tf.distribute.get_strategy()
  dataset = _dataset(dataset, tfds_data_dir)
  os.makedirs(out_dir, exist_ok=True)
  model_config = _model_config(out_dir, dataset, width, arch)
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise ValueError(f"batch_size {batch_size} must be divisible by the "
                     f"{replicas} replicas.")
  with strategy.scope():
    model = RotationNet(**model_config)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  manager = _checkpoint_manager(out_dir, model, optimizer, step_var)
  start = int(step_var.numpy())
  info = {"dataset": dataset.name, "model": model_config,
          "batch_size": batch_size, "learning_rate": learning_rate,
          "seed": seed, "num_train_examples": dataset.num_examples(
              dataset.train_split)}
  metrics = {"loss": float("nan"), "accuracy": float("nan")}
  rate = 0.0
  if start < steps:
    logger.info("Pretraining rotation extractor (%s, %d params) on %s: "
                "steps %d -> %d", model_config["arch"], model.count_params(),
                dataset.name, start, steps)
    ds = dataset.input_fn(dataset.train_split, batch_size, seed=seed,
                          skip_batches=start)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    iterator = iter(strategy.experimental_distribute_dataset(
        ds.with_options(options)))
    train_step = _train_step_fn(model, optimizer, step_var, strategy,
                                NUM_ROTATIONS * batch_size)
    progress = Progress(start, steps)
    last_logged = start
    for step in range(start + 1, steps + 1):
      loss, acc = train_step(next(iterator))
      if step % log_every == 0 or step == steps:
        metrics = {"loss": float(loss), "accuracy": float(acc)}
        if not math.isfinite(metrics["loss"]):
          raise NaNLossError(
              f"The rotation loss became NaN/inf between steps {last_logged} "
              f"and {step}; stopped without saving. The last good checkpoint "
              f"is {manager.latest_checkpoint or 'none (no checkpoint yet)'}.")
        progress.update(step, metrics)
        last_logged = step
    rate = (steps - start) / max(time.time() - progress.start_time, 1e-9)
    manager.save(checkpoint_number=steps)
  model.save_weights(os.path.join(out_dir, WEIGHTS_FILE + ".tmp.weights.h5"))
  os.replace(os.path.join(out_dir, WEIGHTS_FILE + ".tmp.weights.h5"),
             os.path.join(out_dir, WEIGHTS_FILE))
  info.update(step=int(step_var.numpy()), **metrics, steps_per_sec=rate)
  files.write_json(os.path.join(out_dir, CONFIG_FILE), info)
  return info


# === Features ===

def load_extractor(out_dir: str) -> RotationNet:
  """The RotationNet saved by `pretrain` in `out_dir`."""
  model = RotationNet(**read_config(out_dir)["model"])
  model.load_weights(os.path.join(out_dir, WEIGHTS_FILE))
  return model


def extract_features(dir_or_model: Any, dataset: Any, *, batch_size: int = 250,
                     tfds_data_dir: str | None = None) -> np.ndarray:
  """Features [N, F] (float32) of the full training split in its fixed
  order (the unshuffled source order that label files index).

  Args:
    dir_or_model: a `pretrain` output directory or a RotationNet.
    dataset: str or ImageDataset.
  """
  model = (load_extractor(dir_or_model) if isinstance(dir_or_model, str)
           else dir_or_model)
  dataset = _dataset(dataset, tfds_data_dir)
  fn = tf.function(lambda x: model.features(x, training=False))
  feats = [fn(x).numpy() for x, _ in dataset.eval_input_fn(
      dataset.train_split, batch_size, drop_remainder=False)]
  return np.concatenate(feats + [np.zeros([0, model.feature_dim], np.float32)])
