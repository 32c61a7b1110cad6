"""Trains the shipped classifiers of `compare_gan2.metrics.classifiers`.

  python scripts/train_classifiers.py [--datasets digits shapes shapes_64]

For each dataset: fixed seed, deterministic ops, Adam on the train split with
random shifts of up to 2 px, then the test accuracy is printed and written to
`compare_gan2/metrics/weights/accuracies.json` next to the weight files.
CPU only, a few minutes in all on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from compare_gan2.data import get_dataset  # noqa: E402
from compare_gan2.metrics import classifiers  # noqa: E402

SEED = 0
MAX_SHIFT = 2
BATCH_SIZE = {"digits": 32, "shapes": 64, "shapes_64": 64}
EPOCHS = {"digits": 15, "shapes": 12, "shapes_64": 12}
LEARNING_RATE = 2e-3


def to_float(images: np.ndarray) -> np.ndarray:
  """uint8 [0, 255] or float [0, 1] images -> float32 [0, 1]."""
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  return images.astype(np.float32)


def random_shift(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Shifts each image by up to MAX_SHIFT px in x and y.

  Edge padding: the backgrounds are plain, so the border pixel is background.
  """
  n, r = images.shape[:2]
  m = MAX_SHIFT
  padded = np.pad(images, ((0, 0), (m, m), (m, m), (0, 0)), mode="edge")
  dy, dx = rng.integers(0, 2 * m + 1, size=(2, n))
  rows = dy[:, None] + np.arange(r)[None]  # [N, R]
  cols = dx[:, None] + np.arange(r)[None]
  return padded[np.arange(n)[:, None, None], rows[:, :, None],
                cols[:, None, :]]


def train(name: str, epochs: int) -> float:
  """Trains and saves `name`'s classifier; returns its test accuracy."""
  keras.utils.set_random_seed(SEED)
  ds = get_dataset(name)
  x_train, y_train = ds.arrays("train")
  x_test, y_test = ds.arrays("test")
  x_train, x_test = to_float(x_train), to_float(x_test)
  y_train = np.asarray(y_train, np.int32)

  model = classifiers.build_model(name)
  batch_size = BATCH_SIZE[name]
  steps_per_epoch = len(x_train) // batch_size
  schedule = keras.optimizers.schedules.CosineDecay(
      LEARNING_RATE, decay_steps=epochs * steps_per_epoch)
  optimizer = keras.optimizers.Adam(schedule)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

  @tf.function
  def step(x, y):
    with tf.GradientTape() as tape:
      _, logits = model(x, training=True)
      loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  rng = np.random.default_rng(SEED)
  start = time.time()
  for epoch in range(epochs):
    order = rng.permutation(len(x_train))
    shifted = random_shift(x_train, rng)
    losses = []
    for i in range(steps_per_epoch):
      idx = order[i * batch_size:(i + 1) * batch_size]
      losses.append(float(step(shifted[idx], y_train[idx])))
    if epoch % 4 == 3 or epoch == epochs - 1:
      clf = classifiers.Classifier(name, model)
      acc = classifiers.class_accuracy(clf, x_test, y_test)
      print(f"{name} epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f} "
            f"test acc {acc:.4f} ({time.time() - start:.0f} s)", flush=True)

  clf = classifiers.Classifier(name, model)
  accuracy = classifiers.class_accuracy(clf, x_test, y_test)
  os.makedirs(classifiers.WEIGHTS_DIR, exist_ok=True)
  path = classifiers.weights_path(name)
  model.save_weights(path)
  print(f"{name}: test accuracy {accuracy:.4f}, saved {path} "
        f"({os.path.getsize(path) / 1024:.0f} KiB)", flush=True)
  return accuracy


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--datasets", nargs="+",
                      default=list(classifiers.CLASSIFIER_DATASETS),
                      choices=classifiers.CLASSIFIER_DATASETS)
  parser.add_argument("--epochs", type=int, default=None,
                      help="Overrides the per-dataset default epochs.")
  args = parser.parse_args()
  tf.config.experimental.enable_op_determinism()

  record_path = os.path.join(classifiers.WEIGHTS_DIR, "accuracies.json")
  record = {}
  if os.path.exists(record_path):
    with open(record_path) as f:
      record = json.load(f)
  for name in args.datasets:
    epochs = args.epochs or EPOCHS[name]
    record[name] = {"test_accuracy": round(train(name, epochs), 4),
                    "epochs": epochs, "seed": SEED}
    # Written after each dataset so an interrupted run keeps what it did.
    with open(record_path, "w") as f:
      json.dump(record, f, indent=2, sort_keys=True)
      f.write("\n")


if __name__ == "__main__":
  main()
