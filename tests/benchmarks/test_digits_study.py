"""benchmarks/digits_study.py: the shipped spec, the ranking and the paired
comparisons against numpy on scores written by hand, and (slow) the script
end to end on a tiny real sweep."""

import os
import sys

import numpy as np
import pytest
from study_checks import assert_results_written, read_rows, without_load

from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.runner import schedules

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import digits_study  # noqa: E402

SPEC = """
configs = ["quickstart"]
bindings = ["options.training_steps = 300"]
seeds = [0, 1, 2]
metrics = ["fid"]
score_last = 2
[grid]
"loss.fn" = ["@non_saturating", "@wasserstein"]
"D.spectral_norm" = [false, true]
"""

# Final FID per (loss, spectral norm) and seed; each trial's checkpoints score
# final + 4 (step 100), final + 1 and final - 1 (steps 200, 300): the mean of
# the last 2 is the final value.
FINAL = {("non_saturating", "False"): [30.0, 34.0, 20.0],
         ("non_saturating", "True"): [25.0, 36.0, 17.0],
         ("wasserstein", "False"): [300.0, 280.0, np.inf],  # seed 2 diverged
         ("wasserstein", "True"): [40.0, 50.0, 45.0]}


def write_spec(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def fake_trials(tmp_path):
  spec = sweep_spec.load_spec(write_spec(tmp_path / "s.toml", SPEC))
  trials = sweep_spec.expand(spec, str(tmp_path / "work"))
  for trial in trials:
    hparams = dict(trial.hparams)
    final = FINAL[(hparams["loss.fn"].strip("@"), str(hparams["D.spectral_norm"]))][trial.seed]
    os.makedirs(trial.model_dir, exist_ok=True)
    if final == np.inf:  # stopped by a NaN loss: no scores, the log says why
      with open(os.path.join(trial.model_dir, "sweep.log"), "w") as f:
        f.write("d_loss became NaN/inf between steps 100 and 200; stopped without saving.")
      continue
    for step, (fid, std) in enumerate(zip([final + 4, final + 1, final - 1],
                                          [0.9, 0.4, 0.2]), 1):
      schedules.write_row(trial.model_dir, "scores.csv", {
          "step": step * 100, "checkpoint": f"model.ckpt-{step * 100}",
          "fid": fid, "fid_std": std, "dataset": "digits"})
    with open(os.path.join(trial.model_dir, sweep_spec.DONE), "w") as f:
      f.write('{"seconds": 120}')
  return str(tmp_path / "s.toml"), trials


def test_shipped_spec_is_the_budgeted_grid(tmp_path):
  spec = sweep_spec.load_spec("digits_study")
  trials = sweep_spec.expand(spec, str(tmp_path))
  assert len(trials) == 2 * 2 * 2 * 3
  assert spec["grid"] == {"loss.fn": ["@non_saturating", "@wasserstein"],
                          "penalty.fn": ["@no_penalty", "@wgangp_penalty"],
                          "D.spectral_norm": [False, True]}
  bindings = dict(b.split(" = ", 1) for b in spec["bindings"])
  # Every scored checkpoint is kept: score_last of them, at the last steps.
  assert int(bindings["run_config.keep_checkpoint_max"]) == spec["score_last"] == 3
  assert int(bindings["options.training_steps"]) % int(
      bindings["run_config.save_checkpoints_steps"]) == 0
  assert "D.spectral_norm = True" in trials[-1].bindings  # the grid after the config


def test_report_ranks_and_pairs_like_numpy(tmp_path):
  spec, trials = fake_trials(tmp_path)
  out = str(tmp_path / "results" / "digits_study")
  page = digits_study.main(["--spec", spec, "--work", str(tmp_path / "work"),
                            "--out", out, "--report_only"])
  means = {k: np.mean([v for v in vs if np.isfinite(v)]) for k, vs in FINAL.items()}
  order = sorted(means, key=means.get)
  rows = read_rows(out)
  assert [(r["loss"], r["D.spectral_norm"]) for r in rows] == order
  for row in rows:
    values = np.array(FINAL[(row["loss"], row["D.spectral_norm"])])
    finite = values[np.isfinite(values)]
    assert float(row["fid mean"]) == pytest.approx(np.mean(finite))
    assert float(row["fid std"]) == pytest.approx(np.std(finite))
    assert int(row["seeds"]) == len(finite)
    assert int(row["diverged"]) == np.sum(np.isinf(values))
    assert float(row["eval noise"]) == pytest.approx(0.3)  # mean of the last 2 draws' std
  assert rows[-1]["seed 2"] == "inf"  # wasserstein, no SN: seed 2 diverged
  assert "| 4 | wasserstein | False | 2 (1) | 290.0 ± 10.0 | 300.0 280.0 diverged |" in page

  # Spectral norm, paired at equal loss and seed: 6 pairs, one against the
  # diverged trial (-inf: counted as better, left out of the mean).
  sn = np.array([FINAL[(loss, "True")][s] - FINAL[(loss, "False")][s]
                 for loss in ("non_saturating", "wasserstein") for s in range(3)])
  finite = sn[np.isfinite(sn)]
  assert len(finite) == 5
  line = (f"| D.spectral_norm | False -> True | all | 6 | {np.sum(sn < 0)}/6 | "
          f"{finite.mean():+.1f} ± {finite.std():.1f} |")
  assert line in page and line.endswith("| 5/6 | -99.2 ± 119.4 |")
  assert "| -5.0 +2.0 -3.0 -260.0 -230.0 -inf |" in page  # seed by seed
  ns = sn[:3]
  assert (f"| D.spectral_norm | False -> True | loss=non_saturating | 3 | "
          f"{np.sum(ns < 0)}/3 | {ns.mean():+.1f} ± {ns.std():.1f} |") in page
  loss = np.array([FINAL[("wasserstein", sn_)][s] - FINAL[("non_saturating", sn_)][s]
                   for sn_ in ("False", "True") for s in range(3)])
  finite = loss[np.isfinite(loss)]
  assert (f"| loss | non_saturating -> wasserstein | all | 6 | {np.sum(loss < 0)}/6 | "
          f"{finite.mean():+.1f} ± {finite.std():.1f} |") in page
  assert "11/12 trials finished, 2.0 min per trial" in page
  assert_results_written(out, page)


@pytest.mark.slow
def test_script_runs_a_tiny_study_end_to_end(tmp_path):
  """A real sweep of 2 trials (no penalty vs WGAN-GP, 1 seed, a few steps)
  through the script, then --report_only rereads it."""
  spec = write_spec(tmp_path / "tiny.toml", """
configs = ["quickstart"]
bindings = ["eval.export_generator = False", "eval.metrics = ['fid']",
            "eval.num_samples = 100", "options.training_steps = 4",
            "run_config.iterations_per_loop = 2", "run_config.save_checkpoints_steps = 2",
            "run_config.keep_checkpoint_max = 2", "ModularGAN.ema_start_step = 2"]
seeds = [0]
metrics = ["fid"]
score_last = 2
options = ["--num_eval_averaging_runs", "1"]
[grid]
"penalty.fn" = ["@no_penalty", "@wgangp_penalty"]
""")
  work, out = str(tmp_path / "work"), str(tmp_path / "digits_study")
  page = digits_study.main(["--spec", spec, "--work", work, "--out", out])
  assert "2/2 trials finished" in page
  rows = read_rows(out)
  assert sorted(r["penalty"] for r in rows) == ["no_penalty", "wgangp_penalty"]
  assert all(np.isfinite(float(r["fid mean"])) for r in rows)
  assert "| penalty | no_penalty -> wgangp_penalty | all | 1 |" in page
  assert os.path.exists(out + ".png")
  again = digits_study.main(["--spec", spec, "--work", work, "--out", out, "--report_only"])
  # The same page, but for the load average at the time it is written.
  assert without_load(again) == without_load(page) and "Load average" in again
