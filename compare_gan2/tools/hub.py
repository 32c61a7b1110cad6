"""Export and load pretrained generators.

Export (ours): a TF2 SavedModel whose signatures match the original
compare_gan TF-Hub modules, so code written for those runs on ours (the
signatures are listed in `compare_gan2.gans.export`).

The generator is the sampling (EMA) generator in inference mode. Metadata are
variables of the loaded object: z_dim, num_classes (0: unconditional),
resolution, colors, step, gin_config (the operative config text),
z_distribution (JSON: the `eval_z` distribution) and format_version. The
SavedModel itself is written by `compare_gan2.gans.export` (from a GAN
object); `export_generator` here adds the run directory: it picks a
checkpoint and rebuilds the run with `Runner.from_run_dir`.

Load: `load_generator(handle)` takes a local directory of our export, a local
TF1-format SavedModel / TF-Hub module (the released compare_gan generators),
or a URL / tfhub.dev handle resolved through tensorflow_hub's cache.

  gen = load_generator("/tmp/exported")
  images = gen.sample(16, labels=[1, 2], truncation=1.5, seed=0)
  strip = gen.interpolate(8, kind="spherical", seed=0)
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from compare_gan2.gans import export as export_lib
from compare_gan2.gans.export import GENERATOR_SIGNATURES, OUTPUT_KEY

logger = logging.getLogger("compare_gan2")

DEFAULT_Z = {"distribution": "normal", "stddev": 1.0}  # the released modules'
SAMPLE_BATCH = 64  # images per generator call when sampling many


class GeneratorLoadError(ValueError):
  """The handle is not a generator this module can load."""


# --- Export --------------------------------------------------------------------


def _pick_checkpoint(model_dir: str, step: int | None) -> tuple[int, str]:
  """(step, prefix) of checkpoint `step`, or of the newest one that reads
  whole (one line names the damaged newer ones skipped)."""
  from compare_gan2.runner import checkpoints as ckpt_lib  # pylint: disable=g-import-not-at-top
  found = [p for p in ckpt_lib.list_checkpoints(model_dir)
           if ckpt_lib.checkpoint_files(p)]
  steps = {ckpt_lib.checkpoint_step(p): p for p in found}
  if not steps:
    raise FileNotFoundError(f"No checkpoints (model.ckpt-*) in {model_dir}; "
                            "train first or pass the run directory.")
  if step is not None:
    if step not in steps:
      raise FileNotFoundError(f"No checkpoint of step {step} in {model_dir}. "
                              f"Available steps: {sorted(steps)}")
    problem = ckpt_lib.checkpoint_problem(steps[step])
    if problem:
      others = [s for s in sorted(steps) if s != step]
      raise ckpt_lib.CorruptCheckpointError(
          f"Checkpoint {steps[step]} cannot be exported: {problem}. Choose "
          f"another --step (steps there: {others or 'none'}).",
          path=steps[step], reason=problem)
    return step, steps[step]
  skipped = []
  for path in found:
    problem = ckpt_lib.checkpoint_problem(path)
    if problem is None:
      if skipped:
        logger.warning("Skipped %s; exporting %s (step %d) instead.",
                       ckpt_lib.describe(skipped), os.path.basename(path),
                       ckpt_lib.checkpoint_step(path))
      return ckpt_lib.checkpoint_step(path), path
    skipped.append((path, problem))
  raise ckpt_lib.CorruptCheckpointError(
      f"No checkpoint in {model_dir} reads whole: {ckpt_lib.describe(skipped)}. "
      "Restore good copies of them (or rerun training with --restart).")


def export_generator(runner_or_model_dir: Any, out_path: str,
                     step: int | None = None) -> str:
  """Writes the sampling (EMA) generator and D as a TF2 SavedModel.

  Args:
    runner_or_model_dir: a `Runner`, or a run directory (its operative config
      rebuilds the model; the global gin config is replaced).
    out_path: str. Directory to write (must not exist or be empty).
    step: int. Checkpoint to export. Default: the latest checkpoint for a run
      directory, the Runner's current weights for a Runner.
  Returns out_path.
  """
  from compare_gan2.runner import Runner  # pylint: disable=g-import-not-at-top
  out_path = export_lib.check_out_path(out_path)
  if isinstance(runner_or_model_dir, (str, os.PathLike)):
    model_dir = os.fspath(runner_or_model_dir)
    _, ckpt = _pick_checkpoint(model_dir, step)  # fail before building
    runner = Runner.from_run_dir(model_dir)  # reads no data, writes nothing
    runner.restore_from(ckpt)
  else:
    runner = runner_or_model_dir
    if step is not None:
      _, ckpt = _pick_checkpoint(runner.model_dir, step)
      runner.restore_from(ckpt)
  return runner.export_generator(out_path)


# --- Load ----------------------------------------------------------------------


def _is_remote(handle: str) -> bool:
  return bool(re.match(r"^[a-z][a-z0-9+.-]*://", handle)) or handle.startswith(
      ("tfhub.dev/", "www.kaggle.com/", "kaggle.com/"))


def _resolve(handle: str) -> str:
  """A local directory for `handle` (downloaded into tensorflow_hub's cache,
  TFHUB_CACHE_DIR, for URLs)."""
  handle = os.fspath(handle)
  if not _is_remote(handle):
    if not os.path.exists(handle):
      raise FileNotFoundError(f"No generator at {handle}: no such file or directory.")
    return handle
  try:
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  except Exception as e:  # ImportError, or pkg_resources missing inside it
    raise ImportError(
        f"Loading {handle} needs tensorflow_hub, which failed to import ({e}). "
        "`pip install tensorflow-hub setuptools`, or download the module "
        "(append ?tf-hub-format=compressed to the tfhub.dev URL), extract the "
        "tar.gz and pass the directory.") from e
  if handle.startswith("tfhub.dev/"):
    handle = "https://" + handle
  return hub.resolve(handle)


def _meta_graph_tags(path: str) -> list[list[str]]:
  """Tag sets of the MetaGraphs of a SavedModel (empty for a TF2 one's [])."""
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  pb = os.path.join(path, "saved_model.pb")
  if not os.path.exists(pb):
    raise GeneratorLoadError(
        f"{path} is not a SavedModel or TF-Hub module (no saved_model.pb).")
  proto = saved_model_pb2.SavedModel()
  with open(pb, "rb") as f:
    proto.ParseFromString(f.read())
  return [list(m.meta_info_def.tags) for m in proto.meta_graphs]


def _load_saved_model(path: str) -> Any:
  """tf.saved_model.load, choosing the inference MetaGraph of a TF1 module
  (TF-Hub modules hold one with no tags and one tagged "train")."""
  tags = _meta_graph_tags(path)
  if len(tags) <= 1:
    return tf.saved_model.load(path)
  for wanted in ([], ["serve"]):
    for t in tags:
      if sorted(t) == wanted:
        return tf.saved_model.load(path, tags=t)
  inference = [t for t in tags if "train" not in t]
  return tf.saved_model.load(path, tags=(inference or tags)[0])


def _num_classes_from_graph(fn: Any) -> int | None:
  """A TF1 module's classes: the depth of the OneHot op on its labels."""
  try:
    ops = fn.graph.get_operations()
  except Exception:  # pylint: disable=broad-except
    return None
  for op in ops:
    if op.type == "OneHot":
      depth = tf.get_static_value(op.inputs[1])
      if depth is not None:
        return int(depth)
  return None


class LoadedGenerator:
  """A generator loaded by `load_generator`.

  Attributes:
    z_dim, num_classes (0: unconditional, None: conditional with an unknown
    number of classes), resolution, colors, step (None if unknown),
    gin_config (str, "" if unknown), z_distribution (dict), signatures (the
    loaded SavedModel's), handle.
  """

  def __init__(self, loaded: Any, handle: str):
    self.handle = handle
    self._loaded = loaded
    sigs = getattr(loaded, "signatures", {}) or {}
    name = next((n for n in GENERATOR_SIGNATURES if n in sigs), None)
    if name is None:
      raise GeneratorLoadError(
          f"{handle} is not a generator: it has no signature "
          f"{' or '.join(map(repr, GENERATOR_SIGNATURES))} (signatures: "
          f"{sorted(sigs) or 'none'}).")
    fn = sigs[name]
    inputs = fn.structured_input_signature[1]
    outputs = fn.structured_outputs
    if "z" not in inputs or not isinstance(outputs, dict) or (
        OUTPUT_KEY not in outputs and len(outputs) != 1):
      raise GeneratorLoadError(
          f"{handle} is not a generator: signature {name!r} takes "
          f"{sorted(inputs)} and returns {sorted(outputs) if isinstance(outputs, dict) else outputs}; "
          f"expected 'z' (and 'labels') -> '{OUTPUT_KEY}'.")
    self._fn = fn
    self._output_key = OUTPUT_KEY if OUTPUT_KEY in outputs else next(iter(outputs))
    self.signatures = sigs
    self.conditional = "labels" in inputs
    z_dim = inputs["z"].shape[-1]
    meta = self._variable_metadata(loaded)
    self.z_dim = int(meta.get("z_dim") or z_dim or 0)
    if not self.z_dim:
      raise GeneratorLoadError(f"{handle}: the latent size of 'z' is not known.")
    if self.conditional:
      self.num_classes = meta.get("num_classes") or _num_classes_from_graph(fn)
    else:
      self.num_classes = 0
    shape = outputs[self._output_key].shape
    if meta.get("resolution"):
      self.resolution, self.colors = meta["resolution"], meta["colors"]
    elif shape.rank == 4 and shape[1] is not None and shape[3] is not None:
      self.resolution, self.colors = int(shape[1]), int(shape[3])
    else:  # one small call tells
      probe = self(np.zeros([1, self.z_dim], np.float32),
                   np.zeros([1], np.int32) if self.conditional else None)
      self.resolution, self.colors = int(probe.shape[1]), int(probe.shape[3])
    self.step = meta.get("step")
    self.gin_config = meta.get("gin_config", "")
    self.z_distribution = meta.get("z_distribution", dict(DEFAULT_Z))

  @staticmethod
  def _variable_metadata(loaded: Any) -> dict[str, Any]:
    """Our export's metadata variables (a TF1 module has none)."""
    meta = {}
    for key in ("z_dim", "num_classes", "resolution", "colors", "step"):
      var = getattr(loaded, key, None)
      if isinstance(var, tf.Variable):
        meta[key] = int(var.numpy())
    for key in ("gin_config", "z_distribution"):
      var = getattr(loaded, key, None)
      if isinstance(var, tf.Variable):
        meta[key] = var.numpy().decode("utf-8")
    if "z_distribution" in meta:
      meta["z_distribution"] = json.loads(meta["z_distribution"])
    return meta

  def __repr__(self) -> str:
    return (f"LoadedGenerator({self.handle!r}, z_dim={self.z_dim}, "
            f"num_classes={self.num_classes}, resolution={self.resolution}, "
            f"colors={self.colors}, step={self.step})")

  # --- Inputs --------------------------------------------------------------------

  def _check_labels(self, labels: Any, num: int) -> np.ndarray | None:
    if not self.conditional:
      if labels is not None:
        raise ValueError(f"{self.handle} is unconditional; pass no labels.")
      return None
    if labels is None:
      raise ValueError(f"{self.handle} is conditional (num_classes="
                       f"{self.num_classes}); pass labels.")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
      raise ValueError(f"labels must be integers. Received dtype {labels.dtype}")
    labels = np.resize(labels.astype(np.int32).reshape(-1), [num])  # in turn
    if self.num_classes and ((labels < 0) | (labels >= self.num_classes)).any():
      raise ValueError(f"labels must be in [0, {self.num_classes}). Received: "
                       f"{sorted(set(labels.tolist()))[:10]}")
    return labels

  def sample_z(self, num: int, truncation: float | None = None,
               seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Latents [num, z_dim] from the generator's z distribution.

    Truncation: for a normal z, entries with |z| > truncation are redrawn
    (BigGAN's truncation trick); for a uniform z they are clipped to
    [-truncation, truncation].
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dist = self.z_distribution
    shape = (num, self.z_dim)
    if truncation is not None and truncation <= 0:
      raise ValueError(f"truncation must be > 0. Received: {truncation}")
    if dist["distribution"] == "uniform":
      z = rng.uniform(dist.get("minval", -1.0), dist.get("maxval", 1.0), shape)
      if truncation is not None:
        z = np.clip(z, -truncation, truncation)
      return z.astype(np.float32)
    stddev = float(dist.get("stddev", 1.0))
    z = rng.standard_normal(shape)
    limit = 2.0 if dist["distribution"] == "truncated_normal" else None
    if truncation is not None:
      limit = truncation / stddev if limit is None else min(limit, truncation / stddev)
    if limit is not None:
      bad = np.abs(z) > limit
      while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > limit
    return (z * stddev).astype(np.float32)

  # --- Generation -----------------------------------------------------------------

  def __call__(self, z: Any, labels: Any = None) -> np.ndarray:
    """Images [N, H, W, C] in [0, 1] for latents z [N, z_dim] (and labels [N])."""
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != self.z_dim:
      raise ValueError(f"z must have shape [N, {self.z_dim}] (z_dim of "
                       f"{self.handle}). Received: {list(z.shape)}")
    labels = self._check_labels(labels, len(z))
    outputs = []
    for start in range(0, len(z), SAMPLE_BATCH):
      kwargs = {"z": tf.constant(z[start:start + SAMPLE_BATCH])}
      if labels is not None:
        kwargs["labels"] = tf.constant(labels[start:start + SAMPLE_BATCH])
      outputs.append(self._fn(**kwargs)[self._output_key].numpy())
    if not outputs:
      return np.zeros([0, self.resolution, self.resolution, self.colors], np.float32)
    return np.concatenate(outputs).astype(np.float32)

  def _default_labels(self, num: int, labels: Any, rng: np.random.Generator) -> Any:
    """Random labels for a conditional generator when none are given."""
    if labels is not None or not self.conditional:
      return labels
    if not self.num_classes:
      raise ValueError(f"{self.handle}: the number of classes is unknown; pass labels.")
    return rng.integers(0, self.num_classes, num)

  def sample(self, num: int, labels: Any = None, truncation: float | None = None,
             seed: int | None = None, return_inputs: bool = False) -> Any:
    """`num` images [num, H, W, C] in [0, 1].

    Args:
      num: int. Number of images.
      labels: int or sequence of ints, repeated in turn to `num`; default
        uniform random classes for a conditional generator.
      truncation: float. See `sample_z`.
      seed: int. Seeds z and the random labels.
      return_inputs: bool. Also return the z and labels used.
    """
    rng = np.random.default_rng(seed)
    z = self.sample_z(num, truncation, rng)
    labels = self._default_labels(num, labels, rng)
    labels = self._check_labels(labels, num)
    images = self(z, labels)
    return (images, z, labels) if return_inputs else images

  def interpolate(self, num_steps: int, z0: Any = None, z1: Any = None,
                  labels: Any = None, kind: str = "linear",
                  seed: int | None = None, truncation: float | None = None,
                  return_inputs: bool = False) -> Any:
    """Images [num_steps, H, W, C] along a path from z0 to z1 (both ends
    included), one label for the whole path.

    kind: "linear" (straight line), or "spherical": slerp of the directions
      with the norm interpolated linearly, so the latents keep the norm of
      the ends (typical-set norms of a Gaussian z) instead of shrinking
      through the middle.
    """
    if num_steps < 2:
      raise ValueError(f"num_steps must be >= 2. Received: {num_steps}")
    if kind not in ("linear", "spherical"):
      raise ValueError(f"kind must be 'linear' or 'spherical'. Received: {kind!r}")
    rng = np.random.default_rng(seed)
    ends = []
    for z in (z0, z1):
      if z is None:
        z = self.sample_z(1, truncation, rng)[0]
      z = np.asarray(z, np.float64).reshape(-1)
      if z.shape != (self.z_dim,):
        raise ValueError(f"z0 and z1 must have shape [{self.z_dim}]. Received: "
                         f"{list(z.shape)}")
      ends.append(z)
    z0, z1 = ends
    t = np.linspace(0.0, 1.0, num_steps)[:, None]
    if kind == "linear":
      z = (1 - t) * z0 + t * z1
    else:
      n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
      u0, u1 = z0 / max(n0, 1e-12), z1 / max(n1, 1e-12)
      omega = np.arccos(np.clip(np.dot(u0, u1), -1.0, 1.0))
      if omega < 1e-6:  # (anti)parallel ends: the line is the arc
        u = (1 - t) * u0 + t * u1
      else:
        u = (np.sin((1 - t) * omega) * u0 + np.sin(t * omega) * u1) / np.sin(omega)
      z = u * ((1 - t) * n0 + t * n1)
      z[0], z[-1] = z0, z1  # exact ends
    z = z.astype(np.float32)
    labels = self._default_labels(1, labels, rng)
    if labels is not None:
      labels = np.asarray(labels).reshape(-1)[:1]
    labels = self._check_labels(labels, num_steps)
    images = self(z, labels)
    return (images, z, labels) if return_inputs else images


def load_generator(handle: str) -> LoadedGenerator:
  """Loads a generator: a directory of `export_generator`, a TF1-format
  SavedModel / TF-Hub module (the released compare_gan generators: signature
  "generator" or "default", {"z", "labels"} -> "generated"), or a URL /
  tfhub.dev handle (needs tensorflow_hub and network, or its cache)."""
  path = _resolve(handle)
  if not os.path.isdir(path):
    raise GeneratorLoadError(f"{handle} is not a SavedModel directory.")
  try:
    loaded = _load_saved_model(path)
  except GeneratorLoadError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise GeneratorLoadError(f"Could not load {handle} as a SavedModel: "
                             f"{str(e).splitlines()[0][:300]}") from e
  return LoadedGenerator(loaded, str(handle))
