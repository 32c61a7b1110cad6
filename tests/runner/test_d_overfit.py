"""`d_overfit`: D's accuracy on its training reals vs held-out reals, in
scores.csv of tiny real runs, against D rebuilt from the checkpoint and
called here, with the accuracies computed in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from compare_gan2 import architectures
from compare_gan2.gans.variables import VariableBag
from compare_gan2.metrics import scores
from compare_gan2.metrics import base as metric_base
from compare_gan2.metrics.evaluation import Evaluator
from compare_gan2.runner import schedules as schedules_lib
from compare_gan2.runner.schedules import run_schedule
from run_cases import make_runner, read_scores

KEYS = ("d_accuracy_train", "d_accuracy_heldout", "d_accuracy_gap",
        "d_output_train", "d_output_heldout")
# 32 of shapes' 256 training images; flips and DiffAugment on in training,
# neither in the measurement. N = eval.num_samples = 24 of each split.
OVERFIT = ["dataset.train_fraction = 0.125", "dataset.random_flip = True",
           "DiffAugment.policy = 'translation,cutout'",
           'eval.metrics = ["fid", "d_overfit"]', "eval.num_samples = 24"]
N = 24


def unit(images):
  images = np.asarray(images)
  return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def rebuilt_discriminator(runner, path):
  """A fresh D of the run's architecture with the checkpoint's D weights."""
  info = runner.info
  _, d = architectures.build(info["architecture"], resolution=info["resolution"],
                             colors=info["colors"], z_dim=info["z_dim"],
                             num_classes=info["num_classes"])
  y = tf.zeros([1, info["num_classes"]]) if info["num_classes"] else None
  d(tf.zeros([1, *runner.dataset.image_shape]), y, training=False)  # builds it
  # Checkpoints name D's weights by position (gans/variables.py).
  tf.train.Checkpoint(discriminator=VariableBag(d.weights)).read(path).expect_partial(
      ).assert_existing_objects_matched()
  return d


def trained_and_scored(tmp_path, steps, bindings):
  """A run of `steps` steps with `bindings`, its last checkpoint's scores
  row, and its D rebuilt from that checkpoint: (runner, row, d)."""
  runner = make_runner(tmp_path / "run", steps, OVERFIT + bindings)
  runner.train()
  path = str(tmp_path / "run" / f"model.ckpt-{steps}")
  row = schedules_lib.evaluate_checkpoint(runner, path, num_averaging_runs=1)
  return runner, row, rebuilt_discriminator(runner, path)


def expected_scores(train_logits, heldout_logits):
  train, heldout = np.ravel(train_logits), np.ravel(heldout_logits)
  return {"d_accuracy_train": np.mean(train > 0), "d_accuracy_heldout": np.mean(heldout > 0),
          "d_accuracy_gap": np.mean(train > 0) - np.mean(heldout > 0),
          "d_output_train": np.mean(train), "d_output_heldout": np.mean(heldout)}


def test_d_overfit_metric_against_numpy():
  rng = np.random.RandomState(0)
  train, heldout = rng.randn(50, 1), rng.randn(30, 1) - 0.5
  train[0] = 0.0  # exactly 0 is not "real"
  sets = [metric_base.SampleSet(np.zeros((len(x), 2, 2, 1)), x, x) for x in (train, heldout)]
  out = scores.compute(["d_overfit"], *sets)
  for key, value in expected_scores(train, heldout).items():
    assert out[key] == pytest.approx(value), key
  assert scores.scores_discriminator("d_overfit") and not scores.scores_discriminator("fid")
  assert metric_base.DIRECTIONS["d_accuracy_gap"] == -1


@pytest.mark.parametrize("mirrored", [False, True])
def test_scores_csv_matches_d_rebuilt_from_the_checkpoint(tmp_path, mirrored,
                                                          mirrored_strategy):
  runner = make_runner(tmp_path / "run", 4, OVERFIT,
                       strategy=mirrored_strategy if mirrored else None)
  run_schedule(runner, "train_and_eval", eval_every_steps=2, num_eval_averaging_runs=2)
  rows = read_scores(str(tmp_path / "run"))
  assert [int(r["step"]) for r in rows] == [2, 4]  # the curve over training
  dataset = runner.dataset
  assert dataset.num_train_examples == 32
  train = unit(dataset.arrays("train")[0])[:N]  # the first N the run trains on
  heldout = unit(dataset.arrays("test")[0])[:N]  # the first N of the eval split
  for row in rows:
    path = str(tmp_path / "run" / row["checkpoint"])
    d = rebuilt_discriminator(runner, path)
    logits = [d(x, None, training=False)[1].numpy() for x in (train, heldout)]
    for key, value in expected_scores(*logits).items():
      assert float(row[key]) == pytest.approx(value, rel=1e-4, abs=1e-6), key
      assert float(row[f"{key}_std"]) == 0.0  # computed once per checkpoint
    assert float(row["fid"]) > 0
  # The measurement leaves D as it was (inference mode: no power iteration).
  before = [v.numpy().copy() for v in runner.gan.discriminator.variables]
  runner.discriminator_logits(train, np.zeros(N, np.int32))
  for b, v in zip(before, runner.gan.discriminator.variables):
    np.testing.assert_array_equal(b, v.numpy())


def test_conditional_discriminator_gets_the_labels(tmp_path):
  runner, row, d = trained_and_scored(tmp_path, 2, [
      "ModularGAN.conditional = True", "G.batch_norm_fn = @conditional_batch_norm"])
  dataset = runner.dataset
  logits = []
  for split in ("train", "test"):
    images, labels = dataset.arrays(split)
    y = tf.one_hot(np.asarray(labels[:N]), dataset.num_classes)
    logits.append(d(unit(images)[:N], y, training=False)[1].numpy())
  for key, value in expected_scores(*logits).items():
    assert row[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_s3gan_projection_is_in_the_logits(tmp_path):
  """S3GAN's D output is the architecture's plus its own projection
  sum(embed(y) * h): the measurement uses the whole of it."""
  runner, row, d = trained_and_scored(tmp_path, 2, [
      "options.gan_class = @S3GAN", "S3GAN.project_y = True",
      "dcgan.Discriminator.project_y = False", "D.spectral_norm = False"])
  path = str(tmp_path / "run" / "model.ckpt-2")
  dataset = runner.dataset
  # The projection kernel [classes, features] (no bias): the only head
  # weight of that shape (the rotation head's is [features, 4]).
  embedding = [tf.train.load_variable(path, name) for name, shape in
               tf.train.list_variables(path) if name.startswith("heads/")
               and list(shape[:1]) == [dataset.num_classes] and len(shape) == 2]
  assert len(embedding) == 1, tf.train.list_variables(path)
  logits = []
  for split in ("train", "test"):
    images, labels = dataset.arrays(split)
    _, plain, h = d(unit(images)[:N], None, training=False)
    y = np.eye(dataset.num_classes)[np.asarray(labels[:N])]
    logits.append(plain.numpy()[:, 0] + np.sum((y @ embedding[0]) * h.numpy(), axis=1))
  for key, value in expected_scores(*logits).items():
    assert row[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


@pytest.mark.parametrize("bindings", [
    ["options.gan_class = @SSGAN"],
    ['options.architecture = "progan_arch"', "options.gan_class = @ProgressiveGAN",
     "ProgressiveGAN.training_kimg = 0.008", "ProgressiveGAN.transition_kimg = 0.016",
     "progan.Generator.fmap_base = 32", "progan.Generator.fmap_max = 4",
     "progan.Discriminator.fmap_base = 32", "progan.Discriminator.fmap_max = 4",
     "G.batch_norm_fn = None", "D.spectral_norm = False"]], ids=["SSGAN", "ProGAN"])
def test_other_gan_classes(tmp_path, bindings):
  """SSGAN's D logits come without its rotation head; ProGAN's at the level
  the run reached (mid-fade after 3 steps of 8 images)."""
  runner = make_runner(tmp_path / "run", 3, OVERFIT + bindings)
  runner.train()
  row = schedules_lib.evaluate_checkpoint(runner, str(tmp_path / "run" / "model.ckpt-3"),
                                         num_averaging_runs=1)
  for key in ("d_accuracy_train", "d_accuracy_heldout"):
    assert 0.0 <= row[key] <= 1.0
  assert row["d_accuracy_gap"] == pytest.approx(
      row["d_accuracy_train"] - row["d_accuracy_heldout"])
  if "progan" in str(bindings):
    lod = float(runner.gan.generator.lod.numpy())
    assert 0 < lod < runner.gan.max_lod  # a level below full size, faded reals
  else:
    d = rebuilt_discriminator(runner, str(tmp_path / "run" / "model.ckpt-3"))
    train = unit(runner.dataset.arrays("train")[0])[:N]
    assert row["d_output_train"] == pytest.approx(
        float(np.mean(d(train, None, training=False)[1].numpy())), rel=1e-4)


def test_no_heldout_split_is_one_clear_error(tmp_path):
  runner = make_runner(tmp_path / "run", 2, OVERFIT + ['eval.split = "train"'])
  message = r"dataset 'shapes_16' is its training split 'train'"
  with pytest.raises(ValueError, match=message):
    run_schedule(runner, "train_and_eval", eval_every_steps=2)
  assert runner.step == 0  # refused before training
  with pytest.raises(ValueError, match=message):
    Evaluator(runner.dataset)


def test_score_of_folders_refuses_it(tmp_path):
  from compare_gan2.tools import score as score_lib
  with pytest.raises(ValueError, match="scores a run's discriminator"):
    score_lib.score("digits", str(tmp_path), metrics=["fid", "d_overfit"])
