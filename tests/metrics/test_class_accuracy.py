"""`class_accuracy` of a conditional generator, against the classifier's argmax
on the same samples."""

import numpy as np
import pytest

from compare_gan2.runner import schedules as schedules_lib
from run_cases import make_runner


def test_class_accuracy_of_a_conditional_generator(tmp_path):
  """`class_accuracy` with the shipped digits classifier equals the argmax
  agreement of that classifier on the same samples and requested labels."""
  from compare_gan2.metrics import classifiers
  runner = make_runner(tmp_path / "run", 2, [
      'dataset.name = "digits"', "ModularGAN.conditional = True",
      "G.batch_norm_fn = @conditional_batch_norm",
      'eval.feature_extractor = "auto"', 'eval.metrics = ["fid", "class_accuracy"]'])
  runner.train()
  row = schedules_lib.evaluate_checkpoint(runner, str(tmp_path / "run" / "model.ckpt-2"),
                                         num_averaging_runs=1)
  assert row["feature_extractor"] == "classifier"
  images = runner.generate(32, seed_offset=1)
  labels = runner.sample_inputs(32, 1)[1].numpy()
  logits = classifiers.load_classifier("digits")(images)["logits"]
  assert row["class_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == labels))
  assert row["fid"] > 0
