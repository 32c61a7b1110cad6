"""benchmarks/diffaugment_overfit.py and its config: the shipped spec and
config, the table against numpy on scores written by hand, and (slow) the
script end to end on a tiny real sweep."""

import os
import sys

import gin
import numpy as np
import pytest
from study_checks import assert_results_written, read_rows, without_load

import compare_gan2
from compare_gan2.core import config, config_files
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.data import get_dataset
from compare_gan2.metrics.evaluation import eval_options
from compare_gan2.runner import schedules

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import diffaugment_overfit  # noqa: E402

SPEC = """
configs = ["diffaugment_overfit_digits"]
seeds = [0, 1, 2]
metrics = ["fid", "d_accuracy_train", "d_accuracy_heldout", "d_accuracy_gap"]
score_last = 2
[grid]
"DiffAugment.policy" = ["''", "'translation,cutout'"]
"""

# Per (policy, seed): (fid, train accuracy, held-out accuracy) at steps 100,
# 200, 300; seed 2 of the augmented policy never ran.
SCORES = {
    ("", 0): [(60, 0.6, 0.5), (50, 0.9, 0.3), (52, 1.0, 0.1)],
    ("", 1): [(70, 0.5, 0.5), (55, 0.8, 0.4), (58, 0.95, 0.2)],
    ("", 2): [(65, 0.7, 0.6), (54, 0.85, 0.35), (50, 1.0, 0.0)],
    ("translation,cutout", 0): [(62, 0.5, 0.5), (45, 0.6, 0.5), (40, 0.6, 0.55)],
    ("translation,cutout", 1): [(66, 0.55, 0.5), (47, 0.6, 0.45), (44, 0.65, 0.5)],
}


def write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def fake_trials(tmp_path):
  spec_path = write(tmp_path / "s.toml", SPEC)
  trials = sweep_spec.expand(sweep_spec.load_spec(spec_path), str(tmp_path / "work"))
  for trial in trials:
    key = (diffaugment_overfit.policy_of(trial), trial.seed)
    if key not in SCORES:
      continue
    os.makedirs(trial.model_dir, exist_ok=True)
    for step, (fid, train, heldout) in enumerate(SCORES[key], 1):
      schedules.write_row(trial.model_dir, "scores.csv", {
          "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
          "fid": fid, "fid_std": 0.5, "d_accuracy_train": train,
          "d_accuracy_train_std": 0.0, "d_accuracy_heldout": heldout,
          "d_accuracy_heldout_std": 0.0, "d_accuracy_gap": train - heldout,
          "d_accuracy_gap_std": 0.0})
    write(os.path.join(trial.model_dir, sweep_spec.DONE), '{"seconds": 600}')
  return spec_path


def test_shipped_spec_and_config():
  spec = sweep_spec.load_spec("diffaugment_overfit_digits")
  trials = sweep_spec.expand(spec, "/tmp/unused")
  assert len(trials) == 2 * 3 and {t.seed for t in trials} == {0, 1, 2}
  assert spec["schedule"] == "train_and_eval" and spec["score_last"] == 3
  every = int(spec["options"][spec["options"].index("--eval_every_steps") + 1])
  compare_gan2.parse_gin([config_files.resolve_config("diffaugment_overfit_digits")], [])
  q = gin.query_parameter
  assert q("run_config.save_checkpoints_steps") == every
  assert q("options.training_steps") % every == 0
  assert q("options.training_steps") // every >= spec["score_last"] + 3  # a curve
  assert get_dataset().num_train_examples == 100
  assert q("DiffAugment.policy") == ""
  opts = eval_options()
  assert set(opts.metrics) == {"fid", "d_overfit"} and opts.feature_extractor == "auto"
  assert set(spec["metrics"]) >= {"fid", "d_accuracy_train", "d_accuracy_heldout",
                                  "d_accuracy_gap"}


def test_report_against_numpy(tmp_path):
  spec = fake_trials(tmp_path)
  out = str(tmp_path / "results" / "overfit")
  page = diffaugment_overfit.main(["--spec", spec, "--work", str(tmp_path / "work"),
                                   "--out", out, "--report_only"])
  rows = {r["policy"]: r for r in read_rows(out)}
  assert set(rows) == {"none", "translation,cutout"}
  for policy, name in (("", "none"), ("translation,cutout", "translation,cutout")):
    seeds = [s for s in range(3) if (policy, s) in SCORES]
    for k, score in enumerate(("fid", "d_accuracy_train", "d_accuracy_heldout")):
      finals = [np.mean([v[k] for v in SCORES[(policy, s)][-2:]]) for s in seeds]
      assert float(rows[name][f"{score} mean"]) == pytest.approx(np.mean(finals))
      assert float(rows[name][f"{score} std"]) == pytest.approx(np.std(finals))
    peaks = [max(t - h for _, t, h in SCORES[(policy, s)]) for s in seeds]
    assert float(rows[name]["peak gap mean"]) == pytest.approx(np.mean(peaks))
    assert int(rows[name]["seeds"]) == len(seeds)
  assert "5/6 trials finished, 10.0 min per trial" in page
  assert "| none | 3 |" in page
  assert_results_written(out, page)


@pytest.mark.slow
def test_script_runs_a_tiny_study_end_to_end(tmp_path):
  """A real sweep of 2 trials (both policies, 1 seed, 4 steps, evaluated at
  steps 2 and 4) through the script, then --report_only rereads it."""
  spec = write(tmp_path / "tiny.toml", """
configs = ["diffaugment_overfit_digits"]
bindings = ["options.training_steps = 4", "run_config.iterations_per_loop = 2",
            "run_config.save_checkpoints_steps = 2", "eval.num_samples = 40",
            "ModularGAN.ema_start_step = 2"]
schedule = "train_and_eval"
options = ["--eval_every_steps", "2", "--num_eval_averaging_runs", "1"]
seeds = [0]
metrics = ["fid", "d_accuracy_train", "d_accuracy_heldout", "d_accuracy_gap"]
score_last = 2
[grid]
"DiffAugment.policy" = ["''", "'translation,cutout'"]
""")
  work, out = str(tmp_path / "work"), str(tmp_path / "overfit")
  page = diffaugment_overfit.main(["--spec", spec, "--work", work, "--out", out])
  assert "2/2 trials finished" in page
  rows = read_rows(out)
  assert sorted(r["policy"] for r in rows) == ["none", "translation,cutout"]
  for row in rows:
    assert np.isfinite(float(row["fid mean"]))
    assert 0 <= float(row["d_accuracy_train mean"]) <= 1
  for trial in sweep_spec.expand(sweep_spec.load_spec(spec), work):
    assert [int(r["step"]) for r in sweep_report.read_scores(trial)] == [2, 4]
  assert os.path.exists(out + ".png")
  again = diffaugment_overfit.main(["--spec", spec, "--work", work, "--out", out,
                                    "--report_only"])
  # The same page, but for the load average at the time it is written.
  assert without_load(again) == without_load(page) and "Load average" in again
