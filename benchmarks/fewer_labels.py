"""Fewer labels at CPU scale: the variants of "High-Fidelity Image Generation
With Fewer Labels" (BigGAN 100%, single and random label, CLUSTERING,
CLUSTERING (SS), S2GAN, S2GAN-CO, S3GAN, S3GAN-CO at 10% labels), small, on
`digits`, with the same step budget and seeds.

  python benchmarks/fewer_labels.py                    # seeds 0,1; 1000 steps
  python benchmarks/fewer_labels.py --seeds 0,1,2      # adds seed 2 only

Runs the whole pipeline the way a user would: `compare_gan2 pretrain` (the
rotation extractor), `compare_gan2 infer-labels` (k-means and semi-supervised
label files), then the sweep `configs/sweeps/fewer_labels_digits.toml`.
Every step resumes (rerun to go on). Each generator is scored by domain FID
and by class accuracy, both with the shipped digits classifier. Writes
benchmarks/results/fewer_labels.{md,csv,png}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import run as sweep_run  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import spec as sweep_spec  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import provenance  # noqa: E402  pylint: disable=g-import-not-at-top

# ImageNet 128x128 figures of the paper (and the released S3GAN generator).
PAPER = {"biggan_100pct": "FID 8.4", "clustering_ss": "FID 22.0 (best unsupervised)",
         "s3gan_10pct": "FID 7.6 (matches BigGAN)"}


def compare_gan2(*args: str) -> None:
  subprocess.run([sys.executable, "-m", "compare_gan2", *args], check=True,
                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def make_labels(work: str, pretrain_steps: int) -> dict:
  """The CLUSTERING and S2GAN label files under work/labels; their reports."""
  labels = os.path.join(work, "labels")
  kmeans = os.path.join(labels, "kmeans.npz")
  semi = os.path.join(labels, "semi_supervised_10pct.npz")
  pretrained = os.path.join(work, "pretrain")
  if not (os.path.exists(kmeans) and os.path.exists(semi)):
    os.makedirs(labels, exist_ok=True)
    compare_gan2("pretrain", "--out", pretrained, "--dataset", "digits",
                 "--steps", str(pretrain_steps))
    compare_gan2("infer-labels", "--pretrained", pretrained, "--method", "kmeans",
                 "--num_clusters", "10", "--out", kmeans, "--pixel_baseline")
    compare_gan2("infer-labels", "--pretrained", pretrained, "--method",
                 "semi_supervised", "--labeled_fraction", "0.1", "--out", semi)
  reports = {}
  for name, path in (("kmeans", kmeans), ("semi_supervised", semi)):
    with open(os.path.splitext(path)[0] + ".report.json") as f:
      reports[name] = json.load(f)
  return reports


def label_line(reports: dict) -> str:
  km, semi = reports["kmeans"], reports["semi_supervised"]
  return (f"Labels: k-means purity {km['purity']:.3f} (raw pixels "
          f"{km['pixels_purity']:.3f}); the semi-supervised labeler is right on "
          f"{semi['accuracy_unlabelled']:.3f} of the unlabelled 90%.")


def sample_sheet(trials: list, path: str, step: int) -> None:
  """The last sample grid of each config's first seed, side by side."""
  import matplotlib.image  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner.images import figure  # pylint: disable=g-import-not-at-top
  firsts = [t for t in trials if t.seed == trials[0].seed]
  fig, axes = figure(2.2 * len(firsts), 2.6, len(firsts), dpi=100)
  for ax, trial in zip(axes, firsts):
    grid = os.path.join(trial.model_dir, "samples", f"step_{step:07d}.png")
    ax.imshow(matplotlib.image.imread(grid), cmap="gray")
    ax.set_title(trial.config, fontsize=8)
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(path)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--seeds", default="0,1")
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--pretrain_steps", type=int, default=600)
  parser.add_argument("--parallel", type=int, default=1)
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                     "compare_gan2_fewer_labels"))
  parser.add_argument("--out", default=os.path.join(RESULTS, "fewer_labels"))
  args = parser.parse_args()
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  reports = make_labels(args.work, args.pretrain_steps)
  spec = sweep_spec.load_spec("fewer_labels_digits")
  spec["seeds"] = [int(s) for s in args.seeds.split(",")]
  spec["bindings"] = [b for b in spec["bindings"] if "training_steps" not in b] + [
      f"options.training_steps = {args.steps}"]
  trials = sweep_spec.expand(spec, args.work)
  errors = sweep_run.run(trials, args.parallel)
  table, summary = sweep_report.report(trials, args.work, spec["metrics"])
  paper = "\n".join(f"- {k}: {v}" for k, v in PAPER.items())
  setup = (f"digits, 10% labels, {args.steps} steps, seeds {args.seeds}; domain FID and "
           "class accuracy of 3 x 1000 samples in the shipped classifier's space "
           "(median ± std over seeds). " + label_line(reports))
  os.makedirs(RESULTS, exist_ok=True)
  files.write_text(args.out + ".md", f"{setup}\n\n{provenance(trials)}\n\n{table}\n"
                   f"Paper (ImageNet 128):\n{paper}\n")
  files.write_csv(args.out + ".csv", summary)
  shutil.copy(os.path.join(args.work, "boxplot.png"), args.out + ".png")
  sample_sheet(trials, args.out + "_samples.png", args.steps)
  print(setup)
  print(table)
  if errors:
    sys.exit("\n".join(errors))


if __name__ == "__main__":
  main()
