"""benchmarks/mog_published.py: ours beside PacGAN's Table 1, grouped by
dataset and method, mean ± standard error computed as numpy does; a report
from a sweep with no finished trial still writes the paper's rows."""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import mog_published  # noqa: E402


def _row(config, seed, modes, share, kl, status="done", step=40000):
  return {"config": config, "seed": seed, "status": status, "step": step,
          "modes_hit": modes, "high_quality_fraction": share, "mode_reverse_kl": kl}


def test_methods_and_mean_standard_error():
  assert mog_published.method_of("mog_ring_pacgan") == ("ring", "GAN")
  assert mog_published.method_of("mog_grid_pacgan2") == ("grid", "PacGAN2")
  rows = [_row("mog_ring_pacgan", 0, 6, 0.95, 0.4), _row("mog_ring_pacgan", 1, 8, 0.99, 0.1),
          _row("mog_ring_pacgan", 2, 7, 0.97, 0.2),
          _row("mog_grid_pacgan2", 0, 25, 0.9, 0.05),
          _row("mog_grid_pacgan2", 1, 3, 0.1, 2.0, status="partial")]
  ours = mog_published.ours_by_method(rows)
  assert ours[("ring", "GAN")]["trials"] == 3 and ours[("grid", "PacGAN2")]["trials"] == 1
  modes = np.array([6, 8, 7.0])
  se = modes.std(ddof=1) / np.sqrt(3)
  assert mog_published.mean_se(list(modes), ".1f") == f"{modes.mean():.1f} ± {se:.1f}"
  assert mog_published.mean_se([0.95, 0.99, 0.97], ".1%") == "97.0 ± 1.2%"
  lines = mog_published.table(ours)
  gan = next(l for l in lines if l.startswith("| GAN, compare_gan2"))
  assert "7.0 ± 0.6" in gan and "97.0 ± 1.2%" in gan and "| 3 | 40000 |" in gan
  assert "- | - | -" in gan  # no grid GAN trial
  assert any(l.startswith("| PacGAN2, PacGAN Table 1 | 10 | 400000 | 7.9 ± 0.1") for l in lines)


def test_report_with_nothing_finished(tmp_path):
  out = tmp_path / "record"
  sys.argv = ["mog_published.py", "--report_only", "--spec", "mog_pacgan_budget",
              "--work", str(tmp_path / "sweep"), "--out", str(out)]
  mog_published.main()
  text = (tmp_path / "record.md").read_text()
  assert "| GAN, PacGAN Table 1 | 10 | 400000 | 6.3 ± 0.5 | 98.2 ± 0.2% | 0.45 ± 0.09 " \
         "| 17.3 ± 0.8 | 94.8 ± 0.7% | 0.70 ± 0.07 |" in text
  assert "| GAN, compare_gan2 | 0 | - | - | - | - | - | - | - |" in text
  assert "--spec mog_pacgan_budget" in text
