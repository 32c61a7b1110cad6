"""PacGAN's GAN baseline on the 2-D ring, beside the paper's numbers: the
sweep `configs/sweeps/mog_pacgan.toml` (config `mog_ring_pacgan`: PacGAN's
data, networks, optimizer and batch; 10000 of its 400000 steps), 3 seeds.

  python benchmarks/mog_published.py                  # runs (or resumes) it
  python benchmarks/mog_published.py --report_only    # tables from what finished

Writes benchmarks/results/mog_published.{md,csv}. The paper's numbers are
Table 1 of Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in
generative adversarial networks" (NeurIPS 2018; arXiv:1712.04086), as the
authors' repository shows it (fjxmlzn/PacGAN,
synthetic_data_experiments/results/Table1.png): mean ± standard error over
10 trials.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import provenance, run_shipped_spec  # noqa: E402  pylint: disable=g-import-not-at-top

# PacGAN Table 1, 2D-ring: modes (max 8), high quality samples; mean ± s.e.
PAPER_RING = {"GAN": ("6.3 ± 0.5", "98.2 ± 0.2%"), "ALI": ("6.6 ± 0.3", "97.6 ± 0.4%"),
              "PacGAN2": ("7.9 ± 0.1", "95.6 ± 2.0%"), "PacGAN3": ("7.8 ± 0.1", "97.7 ± 0.3%"),
              "PacGAN4": ("7.8 ± 0.1", "95.9 ± 1.4%")}
STEPS_PAPER = 400 * 100000 // 100  # 400 epochs of 100000 points, batch 100


def main() -> None:
  args, spec, trials = run_shipped_spec("mog_pacgan", "mog_published", __doc__)
  score_last = spec.get("score_last", 1)
  per_trial, _ = sweep_report.summarize(trials, spec["metrics"], score_last)
  finished = [r for r in per_trial if r["status"] == "done"]
  rows = []
  for name in spec["metrics"]:
    values = np.array([r[name] for r in finished], float)
    if len(values):
      rows.append({"score": name, "seeds": len(values), "mean": float(values.mean()),
                   "se": float(values.std(ddof=1) / np.sqrt(len(values)))
                   if len(values) > 1 else float("nan"),
                   "values": " ".join(f"{v:.3g}" for v in values)})
  files.write_csv(args.out + ".csv", rows)
  ours = {r["score"]: r for r in rows}

  def fmt(name: str, percent: bool = False) -> str:
    if name not in ours:
      return "-"
    r = ours[name]
    return (f"{100 * r['mean']:.1f} ± {100 * r['se']:.1f}%" if percent
            else f"{r['mean']:.1f} ± {r['se']:.1f}")

  steps = max((int(r["step"]) for r in finished), default=0)
  lines = [
      "| 2D-ring (8 modes, radius 1, std 0.01) | steps | modes (paper's count) "
      "| modes (ours: a tenth of the share) | high quality samples |",
      "|---|---|---|---|---|",
      f"| GAN, PacGAN Table 1 (10 trials) | {STEPS_PAPER} | {PAPER_RING['GAN'][0]} | - "
      f"| {PAPER_RING['GAN'][1]} |",
      f"| PacGAN2, PacGAN Table 1 (10 trials) | {STEPS_PAPER} | "
      f"{PAPER_RING['PacGAN2'][0]} | - | {PAPER_RING['PacGAN2'][1]} |",
      f"| GAN, compare_gan2 `mog_ring_pacgan` ({len(finished)} seeds) | {steps} | "
      f"{fmt('modes_hit')} | {fmt('modes_covered')} | "
      f"{fmt('high_quality_fraction', True)} |"]
  per_seed = "; ".join(f"{r['score']}: {r['values']}" for r in rows)
  text = (
      "PacGAN's GAN baseline on its 2D-ring next to the paper (Lin et al., NeurIPS "
      "2018, Table 1, as in the authors' repository fjxmlzn/PacGAN, "
      "synthetic_data_experiments/results/Table1.png; mean ± standard error). Ours: "
      f"mean ± standard error over {len(finished)} seeds of each trial's mean over its "
      f"last {score_last} checkpoints (2500 samples each, averaged over 3 draws). Same "
      "data, G (4 x 400, batch norm, z of 2 N(0, 1) values), N(0, 0.02) weights, Adam "
      "1e-4 / beta1 0.8, batch 100, non-saturating loss; D is 3 x 200 ReLU (theirs: "
      f"maxout with 5 pieces), and {steps} steps instead of {STEPS_PAPER}.\n\n"
      + "\n".join(lines) + f"\n\nPer seed: {per_seed}.\n\n{provenance(trials)}\n\nReproduce: "
      "`python benchmarks/mog_published.py` (sweep in "
      f"{tempfile.gettempdir()}/mog_pacgan; `--report_only` rereads it).\n")
  files.write_text(args.out + ".md", text)
  print(text)


if __name__ == "__main__":
  main()
