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
from study_checks import assert_results_written, read_rows, without_load

import compare_gan2
from compare_gan2.core import config
from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.data import get_dataset
from compare_gan2.gans.adaptive import parse_pipeline
from compare_gan2.metrics.evaluation import eval_options
from compare_gan2.runner import schedules

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import limited_data  # noqa: E402

SPEC = """
configs = ["diffaugment_overfit_digits"]
seeds = [0, 1]
score_last = 2
[grid]
"dataset.train_examples" = [100, 25]
"DiffAugment.policy" = ["''", "'translation,cutout'"]
[[variants]]
name = "none"
[[variants]]
name = "bcr"
bindings = ["ModularGAN.d_regularizer = 'bcr'"]
[[variants]]
name = "ada"
bindings = ['ADA.pipeline = "bgc"']
"""
METHODS = ["none", "translation,cutout", "bcr", "bcr + translation,cutout", "ada",
           "ada + translation,cutout"]
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
          "bcr + translation,cutout": 24.0, "ada": 31.0,
          "ada + translation,cutout": 29.0}[method] + (100 - size) / 10 + 1.5 * seed
  rows = [{"fid": base + 2 * k, **{s: 0.1 * (j + 1) + 0.05 * seed + 0.01 * k
                                   for j, s in enumerate(SCORED[1:])}} for k in range(2)]
  if "ada" in method:  # ADA's p, in the ADA trials' scores only
    for k, row in enumerate(rows):
      row["ada_p"] = 0.2 * seed + 0.1 * k + 0.05 * (size == 25)
  return rows


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
      schedules.write_row(trial.model_dir, "scores.csv", {
          "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
          **{k: v for s, value in row.items() for k, v in ((s, value), (f"{s}_std", 0.0))}})
    write(os.path.join(trial.model_dir, sweep_spec.DONE), '{"seconds": 300}')
  return spec_path


def bound(key):
  """The value gin binds to `key`, None where nothing binds it."""
  try:
    return gin.query_parameter(key)
  except ValueError:
    return None


def test_shipped_spec():
  spec = sweep_spec.load_spec("limited_data_digits")
  trials = sweep_spec.expand(spec, "/tmp/unused")
  assert len(trials) == 5 * 2 * 2 * 3 and {t.seed for t in trials} == {0, 1, 2}
  grid = spec["grid"]
  assert set(grid) == {"dataset.train_examples", "DiffAugment.policy"}
  assert min(grid["dataset.train_examples"]) < 100 <= max(grid["dataset.train_examples"])
  assert {limited_data.value_name(v) for v in grid["DiffAugment.policy"]} == {
      "none", "translation,cutout"}
  # Every method at every size, DiffAugment setting and seed: each has its pair.
  variants = [v["name"] for v in spec["variants"]]
  assert variants == ["none", "lecam_biggan", "bcr", "zcr", "ada"]
  cells = {}
  for t in trials:
    cells.setdefault(dict(t.hparams)["variant"], set()).add(
        (limited_data.size_of(t), dict(t.hparams)["DiffAugment.policy"], t.seed))
  assert all(c == cells["none"] and len(c) == 12 for c in cells.values())
  assert spec["schedule"] == "train_and_eval"
  assert set(spec["metrics"]) == set(limited_data.SCORES)
  every = int(spec["options"][spec["options"].index("--eval_every_steps") + 1])
  q = gin.query_parameter
  last = [t for t in trials if t.seed == 2 and t.config.endswith(
      "dataset.train_examples=25,DiffAugment.policy=translation,cutout")]
  assert len(last) == 5
  for trial in last:  # each variant at 25 images with DiffAugment, seed 2
    gin.clear_config()
    compare_gan2.parse_gin([trial.gin_configs[0]], list(trial.bindings))
    variant = dict(trial.hparams)["variant"]
    assert bound("ModularGAN.d_regularizer") == (
        variant if variant in ("lecam_biggan", "bcr", "zcr") else None)
    assert bound("ADA.pipeline") == ("bgc" if variant == "ada" else None)
  steps = q("options.training_steps")
  assert steps % every == 0 and steps // every >= spec["score_last"] + 2
  assert q("run_config.save_checkpoints_steps") == every
  # LeCam's term must act for most of the run.
  assert q("lecam_biggan.start_step") <= steps // 5
  # ADA's p can move by 1 within a fifth of the run's reals.
  assert q("ADA.kimg") * 1000 <= steps * q("options.batch_size") / 5
  assert get_dataset().num_train_examples == 25
  assert set(eval_options().metrics) == {"fid", "d_overfit", "precision_recall",
                                         "density_coverage"}


def test_method_labels(tmp_path):
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), "/tmp/unused")
  assert [limited_data.method_of(t) for t in trials[:12:2]] == [
      "none", "none", "bcr", "bcr", "ada", "ada"]
  assert [limited_data.method_of(t) for t in trials[:6]] == [
      "none", "translation,cutout", "none", "translation,cutout", "bcr",
      "bcr + translation,cutout"]
  # Each method's pair: "none" with the same DiffAugment setting.
  assert [limited_data.against(t) for t in trials[:12:2]] == ["none"] * 6
  assert [limited_data.against(t) for t in trials[1:12:2]] == [
      "none", "none", "translation,cutout", "translation,cutout", "translation,cutout",
      "translation,cutout"]
  assert [limited_data.size_of(t) for t in trials[:4]] == [100, 100, 25, 25]


def test_report_against_numpy(tmp_path):
  spec = fake_trials(tmp_path)
  out = str(tmp_path / "results" / "limited")
  page = limited_data.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", out, "--report_only"])
  rows = {(int(r["size"]), r["method"]): r for r in read_rows(out)}
  assert set(rows) == {(s, m) for s in (100, 25) for m in METHODS}
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
    # ADA's p: a column of the ADA rows only.
    if "ada" in method:
      values = [np.mean([r["ada_p"] for r in fake_scores(size, method, s)]) for s in seeds]
      assert float(row["ada_p mean"]) == pytest.approx(np.mean(values))
      assert float(row["ada_p std"]) == pytest.approx(np.std(values))
    else:
      assert row["ada_p mean"] == ""
  # On the page: the ADA rows' p (mean ± std), "-" in the others.
  p = [np.mean([r["ada_p"] for r in fake_scores(100, "ada", s)]) for s in (0, 1)]
  line, = [l for l in page.splitlines() if l.startswith("| 100 | ada | 2 |")]
  assert f" | {np.mean(p):.2f} ± {np.std(p):.2f} | " in line
  line, = [l for l in page.splitlines() if l.startswith("| 100 | none | 2 |")]
  assert line.count(" ± ") == len(SCORED) and " | - | " in line
  # Paired FID changes against "none" with the same DiffAugment setting:
  # (25, bcr) has one pair; DiffAugment alone against neither.
  change = finals[(25, "bcr", 0)] - finals[(25, "none", 0)]
  assert f"| 25 | bcr | none | 1 | {change:+.2f} | 1/1 |" in page
  both = [finals[(100, "translation,cutout", s)] - finals[(100, "none", s)] for s in (0, 1)]
  assert f"| 100 | translation,cutout | none | 2 | {np.mean(both):+.2f} | 0/2 |" in page
  policy = "translation,cutout"
  both = [finals[(25, f"ada + {policy}", s)] - finals[(25, policy, s)] for s in (0, 1)]
  assert f"| 25 | ada + {policy} | {policy} | 2 | {np.mean(both):+.2f} | 2/2 |" in page
  changes = page.split("FID change against", 1)[1].split("## Published")[0]
  assert len(re.findall(r"^\| (100|25) \|", changes, re.M)) == 2 * 5  # all but none
  # Ours beside the published orderings; the unmeasured ones to fill.
  da = {s: np.mean([finals[(s, "translation,cutout", k)] for k in (0, 1)]) for s in (100, 25)}
  none = {s: np.mean([finals[(s, "none", k)] for k in (0, 1)]) for s in (100, 25)}
  assert f"100: {da[100]:.2f} vs {none[100]:.2f} (b lower)" in page
  ada = {s: np.mean([finals[(s, "ada", k)] for k in (0, 1)]) for s in (100, 25)}
  assert (f"| ada | none | full CIFAR-10: record FID 5.59 -> 2.42 (abstract); the "
          f"limited-data CIFAR-10 figure not read here | 100: {ada[100]:.2f} vs "
          f"{none[100]:.2f} (b lower); 25: {ada[25]:.2f} vs {none[25]:.2f} (b lower) |") in page
  section = page.split("## Published orderings beside ours", 1)[1]
  assert section.count(limited_data.TO_FILL) == 3  # LeCam twice, zCR
  assert "23/24 trials finished, 5.0 min per trial" in page
  assert_results_written(out, page)


def test_a_stopped_trial_is_not_scored(tmp_path):
  """A trial stopped before its end (scores of its first checkpoints, no
  sweep_done.json) stays out of the tables: its seed is not counted."""
  spec = fake_trials(tmp_path)
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), str(tmp_path / "work"))
  stopped, = [t for t in trials if limited_data.size_of(t) == 100
              and limited_data.method_of(t) == "none" and t.seed == 1]
  os.remove(os.path.join(stopped.model_dir, sweep_spec.DONE))
  out = str(tmp_path / "limited")
  page = limited_data.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", out, "--report_only"])
  rows = {(int(r["size"]), r["method"]): r for r in read_rows(out)}
  assert int(rows[(100, "none")]["seeds"]) == 1
  first = np.mean([r["fid"] for r in fake_scores(100, "none", 0)])
  assert float(rows[(100, "none")]["fid mean"]) == pytest.approx(first)
  assert "| 100 | translation,cutout | none | 1 |" in page  # one pair left


def test_report_before_any_trial_ran(tmp_path):
  spec = write(tmp_path / "s.toml", SPEC)
  page = limited_data.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", str(tmp_path / "out"), "--report_only"])
  assert "No scores yet." in page
  assert page.count(limited_data.TO_FILL) == len(limited_data.PUBLISHED)


@pytest.mark.slow
def test_quick_runs_end_to_end(tmp_path):
  """--quick: none and ADA, 1 seed, 4 steps evaluated at 2 and 4, then the
  report's structure; a rerun resumes (nothing left to train)."""
  work, out = str(tmp_path / "work"), str(tmp_path / "limited")
  page = limited_data.main(["--quick", "--work", work, "--out", out])
  assert "2/2 trials finished" in page
  assert re.search(r"Precision: (bfloat16|float32) \(2 trials\)", page)
  assert "Reproduce: `python benchmarks/limited_data.py --quick`" in page
  rows = read_rows(out)
  assert sorted(r["method"] for r in rows) == ["ada", "none"]
  for row in rows:
    for score in SCORED:
      assert np.isfinite(float(row[f"{score} mean"])), score
    assert 0 <= float(row["recall mean"]) <= 1 and 0 <= float(row["coverage mean"]) <= 1
    assert (float(row["ada_p mean"]) >= 0) if row["method"] == "ada" else (
        row["ada_p mean"] == "")
  assert "| 25 | ada | 1 |" in page and "| 25 | ada | none | 1 |" in page
  assert "## Published orderings beside ours" in page
  # The ADA trial ran with ADA: its scores carry p and the pipeline.
  ada_dir, = [d for d in os.listdir(os.path.join(work, "trials")) if d.startswith("ada,")]
  with open(os.path.join(work, "trials", ada_dir, "seed0", "scores.csv"), newline="") as f:
    scores = list(csv.DictReader(f))
  assert [r["ADA.pipeline"] for r in scores] == [",".join(parse_pipeline("bgc"))] * 2
  assert all(float(r["ada_p"]) >= 0 for r in scores)
  assert_results_written(out, page)
  with open(out + "_samples.png", "rb") as f:
    assert f.read(4) == b"\x89PNG"
  again = limited_data.main(["--quick", "--work", work, "--out", out, "--report_only"])
  assert without_load(again) == without_load(page) and "Load average" in again
