"""benchmarks/study_tables.py: the samples montage of a sweep's trials and
the precision and load line of a results page."""

import json
import os
import sys

import numpy as np
from PIL import Image

from compare_gan2.tools.sweep import spec as sweep_spec

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import study_tables  # noqa: E402


def trial(tmp_path, config, seed, steps=(), done=True):
  model_dir = tmp_path / f"{config}_{seed}"
  (model_dir / "samples").mkdir(parents=True)
  for step in steps:
    Image.fromarray(np.full((20, 20, 3), step % 255, np.uint8)).save(
        model_dir / "samples" / f"step_{step:07d}.png")
  if done:
    (model_dir / sweep_spec.DONE).write_text("{}")
  return sweep_spec.Trial(config=config, seed=seed, gin_configs=(), bindings=(),
                     model_dir=str(model_dir))


def test_montage_shows_the_last_samples_of_each_finished_config(tmp_path, monkeypatch):
  shown = []
  import matplotlib.pyplot as plt
  real_imread = plt.imread
  monkeypatch.setattr(plt, "imread", lambda p: shown.append(os.path.basename(
      os.path.dirname(os.path.dirname(p))) + "/" + os.path.basename(p)) or real_imread(p))
  trials = [trial(tmp_path, "loss=hinge", 0, (100, 200)),
            trial(tmp_path, "loss=hinge", 1, (100, 200)),  # another seed: not shown
            trial(tmp_path, "loss=wasserstein", 0, (300,)),
            trial(tmp_path, "loss=least_squares", 0, (300,), done=False)]  # running
  out = str(tmp_path / "montage.png")
  assert study_tables.samples_montage(trials, out) == out
  assert shown == ["loss=hinge_0/step_0000200.png", "loss=wasserstein_0/step_0000300.png"]
  assert Image.open(out).size[0] > 0


def test_montage_titles_come_from_label(tmp_path, monkeypatch):
  """`label` names each panel (the default: the config, loss=/penalty= dropped)."""
  import matplotlib.axes
  titles = []
  real = matplotlib.axes.Axes.set_title
  monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                      lambda self, text, **kw: titles.append(text) or real(self, text, **kw))
  trials = [trial(tmp_path, "loss=hinge,penalty=none", 0, (100,)),
            trial(tmp_path, "b", 0, (100,))]
  study_tables.samples_montage(trials, str(tmp_path / "a.png"))
  assert titles == ["hinge, none", "b"]
  titles.clear()
  study_tables.samples_montage(trials, str(tmp_path / "b.png"),
                               label=lambda t: f"{t.config}/{t.seed}")
  assert titles == ["loss=hinge,penalty=none/0", "b/0"]


def test_montage_without_samples_writes_nothing(tmp_path):
  out = str(tmp_path / "montage.png")
  assert study_tables.samples_montage([trial(tmp_path, "a", 0)], out) is None
  assert not os.path.exists(out)


def test_provenance_counts_the_trained_formats_and_states_the_load(tmp_path, monkeypatch):
  """Each finished trial's run.json format, counted; a run.json without
  it (older runs) says "not recorded"; unfinished trials are left out."""
  trials = [trial(tmp_path, "a", 0), trial(tmp_path, "a", 1), trial(tmp_path, "b", 0),
            trial(tmp_path, "c", 0), trial(tmp_path, "d", 0, done=False)]
  for t, dtype in zip(trials, ["bfloat16", "bfloat16", "float32", None, "float32"]):
    info = {"seed": 0} if dtype is None else {"seed": 0, "compute_dtype": dtype}
    with open(os.path.join(t.model_dir, "run.json"), "w") as f:
      json.dump(info, f)
  monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.25, 2.0))
  monkeypatch.setattr(os, "cpu_count", lambda: 2)
  line = study_tables.provenance(trials)
  assert line.startswith("Precision: bfloat16 (2 trials), float32 (1 trial), "
                         "not recorded (1 trial) (each trial's run.json).")
  assert "1.50, 0.25, 2.00 on 2 cores" in line
