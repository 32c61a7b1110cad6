"""docs/extending.md's examples (docs/examples/*.py): each file, imported on
its own, registers its part, and the part works where the library uses it.
A part is one new file, in or out of the package: dropped into its kind's
folder of a copy of the package, or named by `compare_gan2 list --module`,
each example is registered with nothing else changed."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

import compare_gan2
from compare_gan2 import architectures, data
from compare_gan2.gans import ModularGAN
from compare_gan2.data import labels as label_sources
from compare_gan2.metrics import scores
from compare_gan2.metrics import base as metric_base
from compare_gan2.ops.normalization import make_normalization
from compare_gan2.core.registry import REGISTRIES
from gan_cases import check_step, make_gan

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "examples"
DOC = EXAMPLES.parent / "extending.md"
# example file -> (registry kind, registered name)
REGISTERED = {
    "my_metric": ("metric", "mean_gap"), "my_architecture": ("architecture", "my_arch"),
    "my_loss": ("loss", "margin_hinge"), "my_penalty": ("penalty", "r2_penalty"),
    "my_normalization": ("normalization", "pixel_norm_example"),
    "my_dataset": ("dataset", "checkerboards"), "my_gan": ("gan", "FeatureMatchingGAN"),
    "my_augmentation": ("augmentation", "flip"), "my_label_source": ("label_source", "parity"),
    "my_extractor": ("extractor", "channel_stats"),
}
# The kinds whose new part is one file, and the folder of the package it goes in.
FOLDERS = {"my_metric": "metrics", "my_loss": "losses", "my_penalty": "penalties",
           "my_architecture": "architectures", "my_dataset": "data",
           "my_extractor": "metrics"}
PACKAGE = pathlib.Path(compare_gan2.__file__).resolve().parent
_LOADED = {}


def load(name):
  """Imports docs/examples/<name>.py once (a second import would register twice)."""
  if name not in _LOADED:
    compare_gan2.register_all()
    spec = importlib.util.spec_from_file_location(f"extending_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _LOADED[name] = module
  return _LOADED[name]


def test_every_example_is_in_the_doc_and_tested():
  files = sorted(p.stem for p in EXAMPLES.glob("*.py"))
  assert files == sorted(REGISTERED)
  doc = DOC.read_text()
  for name in files:
    assert f"examples/{name}.py" in doc, name


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_example_registers_one_part_with_a_summary(name):
  kind, registered = REGISTERED[name]
  # The package's own parts first, so that the snapshot holds them whatever
  # ran before in this process (alone, the extractors were not yet imported).
  compare_gan2.register_all()
  before = {k: set(r.names()) for k, r in REGISTRIES.items()}
  load(name)
  added = {k: set(r.names()) - before[k] for k, r in REGISTRIES.items()}
  if before[kind] >= {registered}:  # loaded by an earlier test
    added[kind] = {registered}
  assert {k: v for k, v in added.items() if v} == {kind: {registered}}
  assert REGISTRIES[kind].summary(registered)


def test_metric_example_scores_two_sample_sets():
  load("my_metric")
  real = metric_base.SampleSet(np.full([4, 8, 8, 3], 0.25), np.zeros([4, 2]))
  fake = metric_base.SampleSet(np.full([4, 8, 8, 3], 0.75), np.zeros([4, 2]))
  assert scores.compute(["mean_gap", "fid"], real, fake)["mean_gap"] == pytest.approx(0.5)
  assert metric_base.DIRECTIONS["mean_gap"] == -1


@pytest.mark.parametrize("conditional", [False, True])
def test_architecture_example_trains_one_step(conditional):
  load("my_architecture")
  gin.parse_config(["my_arch.Discriminator.ch = 4", "penalty.fn = @wgangp_penalty"])
  num_classes = 3 if conditional else 0
  g, d = architectures.build("my_arch", resolution=8, colors=3, z_dim=16,
                             num_classes=num_classes)
  clone = type(d).from_config(d.get_config())
  assert clone.ch == 4
  check_step(ModularGAN(generator=g, discriminator=d, num_classes=num_classes,
                        conditional=conditional, g_use_ema=True, ema_start_step=0))


def test_loss_and_penalty_examples_train_one_step():
  load("my_loss")
  load("my_penalty")
  gan = make_gan("dcgan_arch", bindings=["loss.fn = @margin_hinge", "margin_hinge.margin = 0.3",
                                         "penalty.fn = @r2_penalty"])
  metrics = check_step(gan)
  assert float(metrics["penalty"]) > 0.0


def test_normalization_example_in_a_generator():
  load("my_normalization")
  layer = make_normalization("pixel_norm_example", "pn")
  out = layer(tf.constant([[3.0, 4.0]]))
  np.testing.assert_allclose(out.numpy(), [[3.0, 4.0]] / np.sqrt(12.5), rtol=1e-5)
  check_step(make_gan("dcgan_arch", batch_norm_g=False,
                      bindings=["G.batch_norm_fn = @pixel_norm_example"]))


def test_dataset_example_gives_batches():
  load("my_dataset")
  gin.parse_config("checkerboards.num_examples = 32")
  dataset = data.get_dataset("checkerboards")
  assert dataset.num_train_examples == 32
  images, labels = next(iter(dataset.input_fn("train", 8)))
  assert images.shape == (8, 16, 16, 1) and labels.shape == (8,)
  assert set(np.unique(images.numpy())) <= {0.0, 1.0}


def test_gan_example_trains_one_step():
  load("my_gan")
  base = make_gan("dcgan_arch")
  gan = REGISTRIES["gan"].get("FeatureMatchingGAN")(
      generator=base.generator, discriminator=base.discriminator,
      feature_matching_weight=2.0)
  metrics = check_step(gan)
  assert float(metrics["feature_matching"]) >= 0.0


def test_augmentation_example_in_a_policy():
  load("my_augmentation")
  from compare_gan2.augment import diffaugment as augment  # pylint: disable=g-import-not-at-top
  x = tf.reshape(tf.range(2 * 2 * 3 * 1, dtype=tf.float32), [2, 2, 3, 1]) / 12.0
  out = augment.diff_augment(x, "flip", tf.constant([[0, 1], [0, 2]]), data_range=(0, 1))
  for a, b in zip(x.numpy(), out.numpy()):
    assert np.allclose(a, b, atol=1e-6) or np.allclose(a[:, ::-1], b, atol=1e-6)


def test_label_source_example_relabels():
  load("my_label_source")
  dataset = data.get_dataset("digits")
  dataset.set_label_source(label_sources.get_label_source("parity"))
  _, labels = next(iter(dataset.input_fn("train", 16, shuffle=False)))
  true = label_sources.train_labels(data.get_dataset("digits"), 16)
  np.testing.assert_array_equal(labels.numpy(), true % 2)


def test_extractor_example_in_an_evaluation():
  load("my_extractor")
  from compare_gan2.metrics import extractors  # pylint: disable=g-import-not-at-top
  images = np.random.RandomState(0).rand(4, 8, 8, 3)
  name, extract = extractors.make_extractor("channel_stats", data.get_dataset("digits"))
  out = extract(images)
  assert name == "channel_stats" and out["logits"] is None
  np.testing.assert_allclose(out["features"], np.concatenate(
      [images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=1))
  fake = metric_base.SampleSet(images[::-1], out["features"][::-1])
  real = metric_base.SampleSet(images, out["features"])
  assert scores.compute(["fid"], real, fake)["fid"] == pytest.approx(0.0, abs=1e-6)


def _python(code, pythonpath, cwd):
  env = {**os.environ, "PYTHONPATH": str(pythonpath), "TF_CPP_MIN_LOG_LEVEL": "3"}
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env=env, cwd=cwd, timeout=300, check=False)


def test_a_new_part_in_the_package_is_one_file(tmp_path):
  """Each example copied into its kind's folder of a copy of the package is
  registered by `register_all()`, as the package's own parts are: no import
  line, test table or doc row to add."""
  copy = tmp_path / "src" / "compare_gan2"
  shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
  for name, folder in FOLDERS.items():
    shutil.copy(EXAMPLES / f"{name}.py", copy / folder / f"{name}.py")
  cases = [(*REGISTERED[stem], f"compare_gan2.{folder}.{stem}")
           for stem, folder in sorted(FOLDERS.items())]
  code = ("import compare_gan2\ncompare_gan2.register_all()\n"
          "from compare_gan2.core.registry import REGISTRIES\n"
          f"for kind, name, _ in {cases!r}:\n"
          "  registry = REGISTRIES[kind]\n"
          "  print(kind, name, registry.module_of(name), name in registry.package_names())\n")
  result = _python(code, tmp_path / "src", tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.splitlines()[-len(cases):]
  assert lines == [f"{kind} {name} {module} True" for kind, name, module in cases]


def test_a_new_part_out_of_the_package_is_one_file_and_listed(tmp_path):
  """`compare_gan2 list --module FILE` shows each example's part (with its
  module) among the package's."""
  for name in FOLDERS:
    shutil.copy(EXAMPLES / f"{name}.py", tmp_path / f"{name}.py")
  gin_file = tmp_path / "my_run.gin"
  gin_file.write_text("".join(f"import {name}\n" for name in FOLDERS))
  code = ("import sys\nfrom compare_gan2 import cli\n"
          "sys.exit(cli.main(['list', '--gin_config', 'my_run.gin']))\n")
  result = _python(code, PACKAGE.parent, tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  rows = {line.split()[0]: line.split(maxsplit=1)[1].split(", ")
          for line in result.stdout.splitlines() if line.strip()}
  for name in FOLDERS:
    kind, registered = REGISTERED[name]
    assert registered in rows[kind], (kind, registered)
  assert "fid" in rows["metric"] and "dcgan_arch" in rows["architecture"]
