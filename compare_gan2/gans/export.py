"""A GAN's sampling generator and discriminator as a TF2 SavedModel, with the
signatures of the original compare_gan TF-Hub modules:

  "default", "generator": {"z": float32 [None, z_dim],
                           "labels": int32 [None] (conditional only)}
                          -> {"generated": float32 [None, H, W, C] in [0, 1]}
  "discriminator":        {"images": float32 [None, H, W, C] in [0, 1],
                           "labels": int32 [None] (conditional only)}
                          -> {"logits": [None, 1], "probs": [None, 1]}

Metadata are variables of the saved object: z_dim, num_classes (0:
unconditional), resolution, colors, step, gin_config (the operative config
text), z_distribution (JSON: the `eval_z` distribution) and format_version.

This needs only a GAN object; a run's export (`Runner.export_generator`) and
the `export` command (`compare_gan2.tools.hub`) call `save_generator`, and
`compare_gan2.tools.hub.load_generator` reads what it writes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any

import gin
import tensorflow as tf

logger = logging.getLogger("compare_gan2")

FORMAT_VERSION = 1
GENERATOR_SIGNATURES = ("generator", "default")  # the original's names, in order
OUTPUT_KEY = "generated"


def check_out_path(out_path: str) -> str:
  """`out_path` as a str; FileExistsError unless it is new or an empty
  directory (checked before anything is built)."""
  out_path = os.fspath(out_path)
  if os.path.isdir(out_path) and os.listdir(out_path) or os.path.isfile(out_path):
    raise FileExistsError(f"{out_path} exists and is not empty; choose a new --out.")
  return out_path


def z_distribution() -> dict[str, Any]:
  """The `eval_z` distribution from gin (what the run sampled with)."""

  def query(name, default):
    try:
      return gin.query_parameter(f"eval_z.{name}")
    except ValueError:
      return default

  fn = query("distribution_fn", "uniform")
  name = fn if isinstance(fn, str) else getattr(fn, "selector", None) or getattr(
      fn, "__name__", str(fn))
  name = str(name).rsplit(".", 1)[-1].lstrip("@")
  if "normal" in name:
    return {"distribution": "truncated_normal" if "truncated" in name else "normal",
            "stddev": float(query("stddev", 1.0))}
  return {"distribution": "uniform", "minval": float(query("minval", -1.0)),
          "maxval": float(query("maxval", 1.0))}


class _ExportModule(tf.Module):
  """What the SavedModel holds: both networks, metadata and the signatures."""

  def __init__(self, gan: Any, info: dict[str, Any], step: int, gin_text: str,
               z_distribution: dict[str, Any]):
    super().__init__(name="compare_gan2_generator")
    gen, disc = gan.sampling_generator, gan.discriminator
    # The networks' variables, not the Keras models: saving a tracked Keras
    # model also traces its default serving signature, which a conditional
    # generator (two inputs) cannot make.
    self.generator_variables = list(gen.variables)
    self.discriminator_variables = list(disc.variables)
    # Plain variables: readable after load without compare_gan2 or Keras.
    self.z_dim = tf.Variable(int(info["z_dim"]), trainable=False, name="z_dim")
    self.num_classes = tf.Variable(int(info["num_classes"]), trainable=False,
                                   name="num_classes")
    self.resolution = tf.Variable(int(info["resolution"]), trainable=False,
                                  name="resolution")
    self.colors = tf.Variable(int(info["colors"]), trainable=False, name="colors")
    self.step = tf.Variable(int(step), trainable=False, dtype=tf.int64, name="step")
    self.gin_config = tf.Variable(gin_text, trainable=False, name="gin_config")
    self.z_distribution = tf.Variable(json.dumps(z_distribution), trainable=False,
                                      name="z_distribution")
    self.format_version = tf.Variable(FORMAT_VERSION, trainable=False,
                                      name="format_version")
    z_dim, res, colors = int(info["z_dim"]), int(info["resolution"]), int(info["colors"])
    num_classes = int(info["num_classes"])
    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    label_spec = tf.TensorSpec([None], tf.int32, name="labels")
    image_spec = tf.TensorSpec([None, res, res, colors], tf.float32, name="images")

    def one_hot(labels):
      return tf.one_hot(labels, num_classes)

    if num_classes:
      @tf.function(input_signature=[z_spec, label_spec])
      def generator(z, labels):
        return {OUTPUT_KEY: gen(z, one_hot(labels), training=False)}

      @tf.function(input_signature=[image_spec, label_spec])
      def discriminator(images, labels):
        probs, logits, _ = disc(images, one_hot(labels), training=False)
        return {"logits": logits, "probs": probs}
    else:
      @tf.function(input_signature=[z_spec])
      def generator(z):
        return {OUTPUT_KEY: gen(z, None, training=False)}

      @tf.function(input_signature=[image_spec])
      def discriminator(images):
        probs, logits, _ = disc(images, None, training=False)
        return {"logits": logits, "probs": probs}

    self.generator = generator
    self.discriminator = discriminator


def save_generator(gan: Any, info: dict[str, Any], step: int, gin_text: str,
                   out_path: str) -> str:
  """Writes `gan`'s sampling (EMA) generator, in inference mode, and its
  discriminator as a SavedModel at `out_path` (new or an empty directory).

  Args:
    gan: a GAN (`sampling_generator`, `discriminator`), weights as they are
      (standing statistics already accumulated where G uses them).
    info: the run's z_dim, num_classes, resolution and colors (run.json).
    step: int. The training step of the weights.
    gin_text: str. The operative gin config recorded with them.
    out_path: str. Written through a temporary directory beside it, so a
      half-written export is never left at out_path.
  Returns out_path.
  """
  out_path = check_out_path(out_path)
  module = _ExportModule(gan, info, step, gin_text, z_distribution())
  signatures = {"default": module.generator, "generator": module.generator,
                "discriminator": module.discriminator}
  tmp = out_path.rstrip("/") + ".tmp"
  if os.path.exists(tmp):
    shutil.rmtree(tmp)
  tf.saved_model.save(module, tmp, signatures=signatures)
  if os.path.isdir(out_path):
    os.rmdir(out_path)  # empty: checked above
  os.replace(tmp, out_path)
  logger.info("Exported the generator of step %d to %s", step, out_path)
  return out_path
