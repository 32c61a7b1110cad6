"""The "Fewer Labels" variant configs: each names the paper's GAN class and
label source, and the small digits versions train under two replicas."""

import os
import re

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import cli
from compare_gan2.core import config
from compare_gan2.data.labels import write_label_file
from compare_gan2.core.registry import GANS
from compare_gan2.runner import Runner
from compare_gan2.core import config_files

FRACTIONS = {"2_5": 0.025, "5": 0.05, "10": 0.1, "20": 0.2}
# variant -> (GAN class, S3GAN.self_supervision, use_predictor, label source)
VARIANTS = {
    "biggan_100pct": ("ModularGAN", None, None, "true"),
    "single_label": ("ModularGAN", None, None, "single"),
    "random_label": ("ModularGAN", None, None, "random"),
    "clustering": ("ModularGAN", None, None, "file"),
    "clustering_ss": ("S3GAN", "rotation", None, "file"),
    **{f"s2gan_{p}pct": ("ModularGAN", None, None, "file") for p in FRACTIONS},
    **{f"s2gan_co_{p}pct": ("S3GAN", "none", True, "partial") for p in FRACTIONS},
    **{f"s3gan_{p}pct": ("S3GAN", "rotation", None, "file") for p in FRACTIONS},
    **{f"s3gan_co_{p}pct": ("S3GAN", "rotation", True, "partial") for p in FRACTIONS},
}


def _query(name, default=None):
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


@pytest.mark.parametrize("dataset", ["imagenet128", "digits"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_config(dataset, variant):
  compare_gan2.parse_gin([config_files.resolve_config(f"fewer_labels/{dataset}_{variant}")], [])
  gan_class, ss, predictor, source = VARIANTS[variant]
  assert GANS.name_of(config.options()["gan_class"]) == gan_class
  assert _query("labels.source") == source
  if ss is not None:
    assert _query("S3GAN.self_supervision") == ss
  assert bool(_query("S3GAN.use_predictor", False)) == bool(predictor)
  match = re.search(r"_(2_5|5|10|20)pct$", variant)
  pct = match.group(1) if match else None
  if source == "partial":
    assert _query("labels.fraction") == FRACTIONS[pct]
  if source == "file" and pct:
    assert f"_{pct}pct.npz" in _query("labels.path")
  # Conditional whatever the class: S3GAN by default, the others by gin.
  from compare_gan2.runner.train import _gan_is_conditional
  assert _gan_is_conditional(gan_class)
  if dataset == "imagenet128":
    assert _query("options.batch_size") == 2048


@pytest.mark.slow
# The one that takes every S3GAN path (partial labels, rotation, predictor);
# the label-file source is covered by tests/data/test_labels.py.
@pytest.mark.parametrize("variant", ["s3gan_co_10pct"])
def test_digits_variant_trains_under_mirrored(tmp_path, mirrored_strategy, variant):
  gin.clear_config()
  label_file = str(tmp_path / "labels.npz")
  write_label_file(label_file, np.random.RandomState(0).randint(0, 10, 1500), "digits",
                   num_classes=10, method="test")
  bindings = ["options.training_steps = 2", "options.batch_size = 8",
              "run_config.num_sample_images = 4"]
  if VARIANTS[variant][3] == "file":
    bindings.append(f"labels.path = '{label_file}'")
  compare_gan2.parse_gin([config_files.resolve_config(f"fewer_labels/digits_{variant}")], bindings)
  runner = Runner(str(tmp_path / "run"), strategy=mirrored_strategy)
  assert runner.strategy.num_replicas_in_sync == 2
  assert runner.train() == 2
  path = tf.train.latest_checkpoint(str(tmp_path / "run"))
  assert path.endswith("model.ckpt-2") and os.path.exists(path + ".index")
  if "co" in variant:
    assert runner.dataset.label_fraction == pytest.approx(0.1)


# --- One file per method: configs/fewer_labels/methods/<method>.gin, included
# by a thin <dataset>_<method>.gin after the dataset's <dataset>_base.gin. ---

FOLDER = os.path.join(config_files.CONFIG_DIR, "fewer_labels")
DATASETS = ("digits", "imagenet128")


def _methods():
  """The methods (shared parts, named "_<part>.gin", are not methods)."""
  return sorted(f[:-4] for f in os.listdir(os.path.join(FOLDER, "methods"))
                if f.endswith(".gin") and not f.startswith("_"))


def _body(path):
  """A gin file's lines without comments and blank lines."""
  with open(path) as f:
    return [line.strip() for line in f
            if line.strip() and not line.lstrip().startswith("#")]


def _bindings(path):
  """Every binding after parsing `path`: {"scope/selector.param": repr}."""
  gin.clear_config()
  compare_gan2.parse_gin([path], [])
  return {f"{scope}/{selector}.{name}": repr(value)
          for (scope, selector), params in gin.config._CONFIG.items()  # noqa: SLF001
          for name, value in params.items()}


def test_methods_are_written_once_and_variants_are_thin():
  assert sorted(_methods()) == sorted(VARIANTS)
  methods = os.path.join(FOLDER, "methods")
  bodies = {}
  for name in sorted(os.listdir(methods)):
    body = tuple(_body(os.path.join(methods, name)))
    assert body, name
    assert body not in bodies, f"{name} repeats {bodies.get(body)}"
    bodies[body] = name
  # A variant file only combines its dataset base and its method.
  for dataset in DATASETS:
    variants = sorted(f[len(dataset) + 1:-4] for f in os.listdir(FOLDER)
                      if f.startswith(dataset + "_") and f.endswith(".gin")
                      and f != f"{dataset}_base.gin")
    assert variants == _methods(), dataset
    for method in variants:
      assert _body(os.path.join(FOLDER, f"{dataset}_{method}.gin")) == [
          f'include "fewer_labels/{dataset}_base.gin"',
          f'include "fewer_labels/methods/{method}.gin"'], (dataset, method)


@pytest.mark.parametrize("method", _methods())
def test_dataset_variants_resolve_to_the_method_bindings(method):
  """digits_<method> and imagenet128_<method> both hold every binding of
  methods/<method>.gin, and otherwise only their dataset base's."""
  own = _bindings(os.path.join(FOLDER, "methods", f"{method}.gin"))
  assert own
  for dataset in DATASETS:
    base = _bindings(os.path.join(FOLDER, f"{dataset}_base.gin"))
    variant = _bindings(os.path.join(FOLDER, f"{dataset}_{method}.gin"))
    assert {k: variant.get(k) for k in own} == own, dataset
    assert {k: v for k, v in variant.items() if k not in own} == {
        k: v for k, v in base.items() if k not in own}, dataset
