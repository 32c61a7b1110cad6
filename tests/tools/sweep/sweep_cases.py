"""A small sweep spec, and the scores.csv rows of a trial written without training."""

import os

from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.runner import schedules


SPEC = """
configs = ["mog_ring"]
bindings = ["options.training_steps = 30"]
seeds = [0, 1]
[grid]
"loss.fn" = ["@non_saturating", "@hinge"]
"ModularGAN.g_lr" = [0.001]
"""


def write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def fake_run(trial, fids, accuracies, done=True):
  """scores.csv rows as the evaluator writes them, one per step."""
  os.makedirs(trial.model_dir, exist_ok=True)
  for step, (fid, acc) in enumerate(zip(fids, accuracies), 1):
    schedules.write_row(trial.model_dir, "scores.csv", {
        "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
        "fid": fid, "fid_std": 0.0, "class_accuracy": acc, "class_accuracy_std": 0.0,
        "dataset": "digits"})
  if done:
    open(os.path.join(trial.model_dir, sweep_spec.DONE), "w").close()
