"""benchmarks/limited_data.py and its sweep spec: the shipped spec, the
tables against numpy on scores written by hand, and (slow) `--quick` end to
end."""

import csv
import os
import re
import sys

import gin
import numpy as np
import pytest
from study_checks import assert_results_written

from compare_gan2 import config
from compare_gan2.sweep import report as sweep_report
from compare_gan2.sweep import spec as sweep_spec
from compare_gan2.data import get_dataset
from compare_gan2.metrics.evaluation import eval_options
from compare_gan2.runner import evaluate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import limited_data  # noqa: E402

SPEC = """
configs = ["diffaugment_overfit_digits"]
seeds = [0, 1]
score_last = 2
[grid]
"dataset.train_examples" = [100, 25]
"ModularGAN.d_regularizer" = ["None", "'bcr'"]
"DiffAugment.policy" = ["''", "'translation,cutout'"]
"""
SCORED = ("fid", "precision", "recall", "density", "coverage", "d_accuracy_train",
          "d_accuracy_heldout", "d_accuracy_gap")


def write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def fake_scores(size, method, seed):
  """Two evaluations per trial, every score a different function of the
  trial; (25, "bcr", 1) never ran."""
  if (size, method, seed) == (25, "bcr", 1):
    return None
  base = {"none": 30.0, "bcr": 26.0, "translation,cutout": 33.0,
          "bcr + translation,cutout": 24.0}[method] + (100 - size) / 10 + 1.5 * seed
  return [{"fid": base + 2 * k, **{s: 0.1 * (j + 1) + 0.05 * seed + 0.01 * k
                                   for j, s in enumerate(SCORED[1:])}} for k in range(2)]


def fake_trials(tmp_path):
  spec_path = write(tmp_path / "s.toml", SPEC)
  trials = sweep_spec.expand(sweep_spec.load_spec(spec_path), str(tmp_path / "work"))
  for trial in trials:
    scores = fake_scores(limited_data.size_of(trial), limited_data.method_of(trial),
                         trial.seed)
    if scores is None:
      continue
    os.makedirs(trial.model_dir, exist_ok=True)
    for step, row in enumerate(scores, 1):
      evaluate.write_row(trial.model_dir, "scores.csv", {
          "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
          **{k: v for s, value in row.items() for k, v in ((s, value), (f"{s}_std", 0.0))}})
    write(os.path.join(trial.model_dir, sweep_spec.DONE), '{"seconds": 300}')
  return spec_path


def test_shipped_spec():
  spec = sweep_spec.load_spec("limited_data_digits")
  trials = sweep_spec.expand(spec, "/tmp/unused")
  assert len(trials) == 3 * 4 * 2 * 3 and {t.seed for t in trials} == {0, 1, 2}
  grid = spec["grid"]
  assert min(grid["dataset.train_examples"]) < 100 <= max(grid["dataset.train_examples"])
  assert {limited_data.value_name(v) for v in grid["ModularGAN.d_regularizer"]} == {
      "none", "lecam_biggan", "bcr", "zcr"}
  assert {limited_data.value_name(v) for v in grid["DiffAugment.policy"]} == {
      "none", "translation,cutout"}
  assert spec["schedule"] == "train_and_eval"
  assert set(spec["metrics"]) == set(limited_data.SCORES)
  every = int(spec["options"][spec["options"].index("--eval_every_steps") + 1])
  config.parse([trials[0].gin_configs[0]], list(trials[-1].bindings))
  q = gin.query_parameter
  steps = q("options.training_steps")
  assert steps % every == 0 and steps // every >= spec["score_last"] + 2
  assert q("run_config.save_checkpoints_steps") == every
  # LeCam's term must act for most of the run.
  assert q("lecam_biggan.start_step") <= steps // 5
  assert get_dataset().num_train_examples == 25
  assert set(eval_options().metrics) == {"fid", "d_overfit", "precision_recall",
                                         "density_coverage"}


def test_method_labels(tmp_path):
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), "/tmp/unused")
  assert [limited_data.method_of(t) for t in trials[:4]] == [
      "none", "translation,cutout", "bcr", "bcr + translation,cutout"]
  assert [limited_data.size_of(t) for t in trials[:5]] == [100] * 4 + [25]


def test_report_against_numpy(tmp_path):
  spec = fake_trials(tmp_path)
  out = str(tmp_path / "results" / "limited")
  page = limited_data.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", out, "--report_only"])
  with open(out + ".csv", newline="") as f:
    rows = {(int(r["size"]), r["method"]): r for r in csv.DictReader(f)}
  methods = ["none", "translation,cutout", "bcr", "bcr + translation,cutout"]
  assert set(rows) == {(s, m) for s in (100, 25) for m in methods}
  finals = {}
  for (size, method), row in rows.items():
    seeds = [s for s in (0, 1) if fake_scores(size, method, s) is not None]
    assert int(row["seeds"]) == len(seeds)
    assert float(row["minutes"]) == 5.0  # each finished trial's sweep_done.json
    for score in SCORED:
      values = [np.mean([r[score] for r in fake_scores(size, method, s)]) for s in seeds]
      assert float(row[f"{score} mean"]) == pytest.approx(np.mean(values))
      assert float(row[f"{score} std"]) == pytest.approx(np.std(values))
      if score == "fid":
        finals.update({(size, method, s): v for s, v in zip(seeds, values)})
  # Paired FID changes against no regularizer: (25, bcr) has one pair.
  change = finals[(25, "bcr", 0)] - finals[(25, "none", 0)]
  assert f"| 25 | bcr | 1 | {change:+.2f} | 1/1 |" in page
  both = [finals[(100, "translation,cutout", s)] - finals[(100, "none", s)] for s in (0, 1)]
  assert f"| 100 | translation,cutout | 2 | {np.mean(both):+.2f} | 0/2 |" in page
  # Ours beside the published orderings; the unmeasured ones to fill.
  da = {s: np.mean([finals[(s, "translation,cutout", k)] for k in (0, 1)]) for s in (100, 25)}
  none = {s: np.mean([finals[(s, "none", k)] for k in (0, 1)]) for s in (100, 25)}
  assert f"100: {da[100]:.2f} vs {none[100]:.2f} (b lower)" in page
  section = page.split("## Published orderings beside ours", 1)[1]
  assert section.count(limited_data.TO_FILL) == 4  # LeCam twice, zCR, ADA
  assert "15/16 trials finished, 5.0 min per trial" in page
  assert_results_written(out, page)


def test_report_before_any_trial_ran(tmp_path):
  spec = write(tmp_path / "s.toml", SPEC)
  page = limited_data.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", str(tmp_path / "out"), "--report_only"])
  assert "No scores yet." in page
  assert page.count(limited_data.TO_FILL) == len(limited_data.PUBLISHED)


@pytest.mark.slow
def test_quick_runs_end_to_end(tmp_path):
  """--quick: 2 configs, 1 seed, 4 steps evaluated at 2 and 4, then the
  report's structure; a rerun resumes (nothing left to train)."""
  work, out = str(tmp_path / "work"), str(tmp_path / "limited")
  page = limited_data.main(["--quick", "--work", work, "--out", out])
  assert "2/2 trials finished" in page
  assert re.search(r"Precision: (bfloat16|float32) \(2 trials\)", page)
  assert "Reproduce: `python benchmarks/limited_data.py --quick`" in page
  with open(out + ".csv", newline="") as f:
    rows = list(csv.DictReader(f))
  assert sorted(r["method"] for r in rows) == ["bcr", "none"]
  for row in rows:
    for score in SCORED:
      assert np.isfinite(float(row[f"{score} mean"])), score
    assert 0 <= float(row["recall mean"]) <= 1 and 0 <= float(row["coverage mean"]) <= 1
  assert "| 25 | bcr | 1 |" in page and "## Published orderings beside ours" in page
  assert_results_written(out, page)
  with open(out + "_samples.png", "rb") as f:
    assert f.read(4) == b"\x89PNG"
  again = limited_data.main(["--quick", "--work", work, "--out", out, "--report_only"])
  assert again.split("Load average")[0] == page.split("Load average")[0]
