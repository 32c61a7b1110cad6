"""PacGAN's Table 1 next to ours: GAN and PacGAN2 on its 2D-ring and 2D-grid,
trained with its protocol (the sweep `configs/sweeps/mog_pacgan.toml`: the
configs `mog_{ring,grid}_pacgan{,2}`, 400000 steps, 10 trials each).

  python benchmarks/mog_published.py                           # the protocol (~26 h here)
  python benchmarks/mog_published.py --spec mog_pacgan_budget  # 40000 steps, 3 trials
  python benchmarks/mog_published.py --report_only --work DIR  # tables from what finished

Writes benchmarks/results/mog_published.{md,csv} and _samples.png (seed 0's
last samples of each config). The paper's numbers are
Table 1 of Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in
generative adversarial networks" (NeurIPS 2018; arXiv:1712.04086), as the
authors' repository shows it (fjxmlzn/PacGAN,
synthetic_data_experiments/results/Table1.png): mean ± standard error over
10 trials.
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import provenance, run_shipped_spec, samples_montage  # noqa: E402  pylint: disable=g-import-not-at-top

# PacGAN Table 1: (modes, high quality samples, reverse KL), mean ± s.e. over 10 trials.
PAPER = {
    "ring": {"GAN": ("6.3 ± 0.5", "98.2 ± 0.2%", "0.45 ± 0.09"),
             "ALI": ("6.6 ± 0.3", "97.6 ± 0.4%", "0.36 ± 0.04"),
             "Minibatch Disc.": ("4.3 ± 0.8", "36.6 ± 8.8%", "1.93 ± 0.11"),
             "PacGAN2": ("7.9 ± 0.1", "95.6 ± 2.0%", "0.07 ± 0.03"),
             "PacGAN3": ("7.8 ± 0.1", "97.7 ± 0.3%", "0.10 ± 0.02"),
             "PacGAN4": ("7.8 ± 0.1", "95.9 ± 1.4%", "0.07 ± 0.02")},
    "grid": {"GAN": ("17.3 ± 0.8", "94.8 ± 0.7%", "0.70 ± 0.07"),
             "ALI": ("24.1 ± 0.4", "95.7 ± 0.6%", "0.14 ± 0.03"),
             "Minibatch Disc.": ("23.8 ± 0.5", "79.9 ± 3.2%", "0.17 ± 0.03"),
             "PacGAN2": ("23.8 ± 0.7", "91.3 ± 0.8%", "0.13 ± 0.04"),
             "PacGAN3": ("24.6 ± 0.4", "94.2 ± 0.4%", "0.06 ± 0.02"),
             "PacGAN4": ("24.8 ± 0.2", "93.6 ± 0.6%", "0.04 ± 0.01")},
}
PAPER_STEPS = 400 * 100000 // 100  # 400 epochs of 100000 packed examples, batch 100
SCORES = ("modes_hit", "high_quality_fraction", "mode_reverse_kl")
MODES = {"ring": 8, "grid": 25}


def method_of(config: str) -> tuple[str, str]:
  """("ring" or "grid", "GAN" or "PacGAN<m>") of a config `mog_<kind>_pacgan<m>`."""
  kind = config.split("_")[1]
  packing = config.rsplit("pacgan", 1)[1]
  return kind, f"PacGAN{packing}" if packing else "GAN"


def mean_se(values: list[float], fmt: str) -> str:
  """"mean ± standard error" of `values` in format `fmt` (".1%" for shares)."""
  v = np.asarray(values, float)
  se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
  return f"{v.mean():{fmt}} ± {se:{fmt}}".replace("%", "") + ("%" if "%" in fmt else "")


def ours_by_method(per_trial: list[dict]) -> dict[tuple[str, str], dict]:
  """{(kind, method): {"trials", "steps", score: [values]}} of the finished trials."""
  out: dict[tuple[str, str], dict] = {}
  for row in per_trial:
    if row["status"] != "done":
      continue
    entry = out.setdefault(method_of(row["config"]), {"trials": 0, "steps": set(),
                                                      **{s: [] for s in SCORES}})
    entry["trials"] += 1
    entry["steps"].add(int(row["step"]))
    for score in SCORES:
      entry[score].append(float(row[score]))
  return out


def table(ours: dict[tuple[str, str], dict]) -> list[str]:
  """Markdown rows: the paper's methods, then ours, per dataset."""
  lines = ["| method | trials | steps | 2D-ring modes (max 8) | high quality | reverse KL "
           "| 2D-grid modes (max 25) | high quality | reverse KL |",
           "|---|---|---|---|---|---|---|---|---|"]
  for method in PAPER["ring"]:
    lines.append(f"| {method}, PacGAN Table 1 | 10 | {PAPER_STEPS} | "
                 + " | ".join(" | ".join(PAPER[k][method]) for k in ("ring", "grid")) + " |")
  for method in ("GAN", "PacGAN2"):
    cells, trials, steps = [], set(), set()
    for kind in ("ring", "grid"):
      entry = ours.get((kind, method))
      if not entry:
        cells.append("- | - | -")
        continue
      trials.add(str(entry["trials"]))
      steps |= entry["steps"]
      cells.append(" | ".join([mean_se(entry["modes_hit"], ".1f"),
                               mean_se(entry["high_quality_fraction"], ".1%"),
                               mean_se(entry["mode_reverse_kl"], ".2f")]))
    lines.append(f"| {method}, compare_gan2 | {'/'.join(sorted(trials)) or 0} | "
                 f"{'/'.join(str(s) for s in sorted(steps)) or '-'} | " + " | ".join(cells) + " |")
  return lines


def main() -> None:
  args, spec, trials = run_shipped_spec("mog_pacgan", "mog_published", __doc__)
  per_trial, _ = sweep_report.summarize(trials, spec["metrics"], spec.get("score_last", 1))
  files.write_csv(args.out + ".csv", per_trial)
  ours = ours_by_method(per_trial)
  per_seed = "\n".join(
      f"- {kind} {method}: " + "; ".join(
          f"{s}: " + " ".join(f"{v:.3g}" for v in entry[s]) for s in SCORES)
      for (kind, method), entry in sorted(ours.items()))
  text = (
      "PacGAN's Table 1 (Lin et al., NeurIPS 2018, as in the authors' repository "
      "fjxmlzn/PacGAN, synthetic_data_experiments/results/Table1.png; mean ± standard "
      "error over 10 trials) next to ours: mean ± standard error over the trials of each "
      "trial's score at its last step, on 2500 samples (modes: the modes with a sample "
      "within 3 std, `modes_hit`; high quality: the share of samples within 3 std of a "
      "mode; reverse KL: `mode_kl`, KL of the high-quality samples' share per mode "
      "against equal shares). Ours follow PacGAN's code (configs `mog_ring_pacgan`, "
      "`mog_grid_pacgan` and their `2` variants: its data, G with batch norm, D of maxout "
      "units, initialization, Adam 1e-4 / beta1 0.8, batch 100 packed examples, D and G "
      f"updated at once); the paper trains {PAPER_STEPS} steps, ours the steps shown.\n\n"
      + "\n".join(table(ours)) + f"\n\nPer trial:\n{per_seed}\n\n{provenance(trials)}\n\n"
      f"Reproduce: `python benchmarks/mog_published.py --spec {args.spec} "
      f"--work {args.work}` (`--report_only` rereads it).\n")
  samples_montage(trials, args.out + "_samples.png", columns=4,
                  label=lambda t: t.config)
  files.write_text(args.out + ".md", text)
  print(text)


if __name__ == "__main__":
  main()
