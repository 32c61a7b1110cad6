"""Which limited-data method helps when data is scarce, at CPU scale: the
sweep `configs/sweeps/limited_data_digits.toml` (the overfitting setup of
diffaugment_overfit_digits at 100 and 25 training images; the methods no
regularizer, LeCam, bCR, zCR and ADA as [[variants]], each with DiffAugment
"translation,cutout" off and on; 3 seeds, 1000 steps), each trial scored by
the mean of its last 2 evaluations of FID (digits classifier) against the
held-out test images, improved precision and recall, density and coverage
against the same images, and D's accuracy on its training and on held-out
reals.

  python benchmarks/limited_data.py --parallel 2   # runs (or resumes) the sweep
  python benchmarks/limited_data.py --report_only  # tables from what has finished
  python benchmarks/limited_data.py --quick        # CI smoke run: 4 steps, none and ADA

FID is computed against the test split, not the training images: a G that
memorized 25 training images would match them closely and be rewarded for
it; held-out digits score what a limited-data method is for, generalizing
from few images.

Writes benchmarks/results/limited_data.{md,csv,png} and limited_data_samples.png
(`--quick`: under the temporary directory unless --out is given): per
training-set size and method the scores (mean ± std over seeds), the paired
FID change of each method against "none" at the same size, seed and
DiffAugment setting (and of DiffAugment alone against neither), the
published orderings beside ours; the plot shows each score against the
training-set size.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import spec as sweep_spec  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import cell, pivot, provenance, run_shipped_spec, samples_montage, timing, trial_seconds  # noqa: E402  pylint: disable=g-import-not-at-top

SPEC = "limited_data_digits"
SIZE = "dataset.train_examples"
SCORES = ("fid", "precision", "recall", "density", "coverage", "d_accuracy_train",
          "d_accuracy_heldout", "d_accuracy_gap")
# ADA's p at the scored checkpoints (scores.csv has it for ADA trials only):
# whether the controller augmented at all.
ADA_P = "ada_p"
PLOTTED = ("fid", "recall", "coverage", "d_accuracy_gap")
BASELINE = "none"
DA = "translation,cutout"
TO_FILL = "to fill when the study has run"

# The smoke run of --quick: 2 methods (none, ADA) at 25 images without
# DiffAugment, 1 seed, 4 steps evaluated at steps 2 and 4; ADA as in the
# study.
QUICK_SPEC = """
configs = ["diffaugment_overfit_digits"]
bindings = ["dataset.train_fraction = None", "options.training_steps = 4",
            "run_config.iterations_per_loop = 2", "run_config.save_checkpoints_steps = 2",
            "eval.num_samples = 40", "ModularGAN.ema_start_step = 2",
            'eval.metrics = ["fid", "d_overfit", "precision_recall", "density_coverage"]']
schedule = "train_and_eval"
options = ["--eval_every_steps", "2", "--num_eval_averaging_runs", "1"]
seeds = [0]
metrics = ["fid", "precision", "recall", "density", "coverage", "d_accuracy_train",
           "d_accuracy_heldout", "d_accuracy_gap"]
score_last = 2
[grid]
"dataset.train_examples" = [25]
[[variants]]
name = "none"
[[variants]]
name = "ada"
bindings = ['ADA.pipeline = "bgc"', "ADA.kimg = 5"]
"""

# The published comparisons: (what is compared, method a, method b, the
# published numbers and ordering). Only numbers read in the papers or their
# repositories (or, where marked, as paperswithcode lists a paper's result).
PUBLISHED = [
    ("DiffAugment vs none (Zhao et al. 2020, BigGAN CIFAR-10, FID)", DA, BASELINE,
     "100%: 8.70 vs 9.59; 20%: 14.04 vs 21.58; 10%: 22.40 vs 39.78 "
     "(DiffAugment better everywhere, the gain growing as data shrinks)"),
    ("DiffAugment vs none (mit-han-lab/data-efficient-gans DiffAugment-stylegan2 "
     "README, StyleGAN2, FID)", DA, BASELINE,
     "CIFAR-10 100%: 9.89 vs 11.07; 20%: 12.15 vs 23.08; 10%: 14.50 vs 36.02; "
     "100-shot Obama: 54.39 vs 89.18, grumpy cat: 29.90 vs 61.97, panda: 13.21 vs 90.96"),
    ("LeCam + DiffAugment vs DiffAugment (Tseng et al. 2021, BigGAN CIFAR-10)",
     f"lecam_biggan + {DA}", DA,
     "100%: 8.46 (as paperswithcode lists the paper's BigGAN + DA + LeCam) vs 8.70; "
     "20% and 10%: not read here"),
    ("LeCam vs none (Tseng et al. 2021, BigGAN CIFAR-10)", "lecam_biggan", BASELINE,
     "the paper's CIFAR-10 table was not read here"),
    ("bCR vs none (Zhao et al. AAAI 2021)", "bcr", BASELINE,
     "conditional BigGAN CIFAR-10: CR 11.48 -> ICR (bCR + zCR) 9.21 (abstract); "
     "bCR alone: not read here"),
    ("zCR vs none (Zhao et al. AAAI 2021)", "zcr", BASELINE,
     "ICR (bCR + zCR) 9.21 above; zCR alone: not read here"),
    ("ADA vs none (Karras et al. 2020)", "ada", BASELINE,
     "full CIFAR-10: record FID 5.59 -> 2.42 (abstract); the limited-data CIFAR-10 "
     "figure not read here"),
]


def value_name(value: Any) -> str:
  """A grid value as the tables show it: "'bcr'" -> "bcr", None/"" -> "none"."""
  text = str(value).strip("'\"@")
  return BASELINE if text in ("", "None", "False") else text


def size_of(trial: sweep_spec.Trial) -> int:
  return int(dict(trial.hparams).get(SIZE, 0))


def labels(trial: sweep_spec.Trial, variant: bool = True) -> str:
  """The trial's variant (unless `variant` is False) and grid values other
  than the size, the "none"s dropped, joined ("bcr + translation,cutout");
  "none" when nothing is left."""
  skip = (SIZE, "gin_config") + (() if variant else ("variant",))
  parts = [value_name(v) for k, v in trial.hparams if k not in skip]
  return " + ".join(p for p in parts if p != BASELINE) or BASELINE


def method_of(trial: sweep_spec.Trial) -> str:
  """The trial's method as the tables show it: its variant and grid values
  other than the size ("ada + translation,cutout"); "none" when all are off."""
  return labels(trial)


def against(trial: sweep_spec.Trial) -> str:
  """The method a trial is paired with: the variant "none" with the trial's
  other grid values (its DiffAugment setting), or, for the variant "none"
  (or a spec without variants), "none" itself."""
  if value_name(dict(trial.hparams).get("variant", BASELINE)) == BASELINE:
    return BASELINE
  return labels(trial, variant=False)


def minutes(trials: Sequence[sweep_spec.Trial]) -> dict[str, float]:
  """{config: the mean wall time of its finished trials, minutes}: the
  method's cost per step at this load (every trial runs the same steps)."""
  seconds: dict[str, list[float]] = {}
  for trial in trials:
    if trial.done:
      seconds.setdefault(trial.config, []).extend(trial_seconds([trial]))
  return {config: float(np.mean(s)) / 60 for config, s in seconds.items()}


def table(trials: Sequence[sweep_spec.Trial], score_last: int) -> list[dict[str, Any]]:
  """One row per (size, method), sizes descending: the seeds scored, per
  score the mean, std and per-seed values of the trials' final scores (ADA's
  p for ADA trials), and the mean minutes per finished trial ("" if none
  finished)."""
  _, summary = sweep_report.summarize(trials, (ADA_P,) + SCORES, score_last)
  keys = {t.config: (size_of(t), method_of(t)) for t in trials}
  wall = minutes(trials)
  rows = [{"size": keys[r["config"]][0], "method": keys[r["config"]][1],
           **{k: v for k, v in r.items() if k != "loss, penalty"},
           "minutes": wall.get(r["config"], "")} for r in pivot(summary)]
  order = list(dict.fromkeys(method_of(t) for t in trials))
  return sorted(rows, key=lambda r: (-r["size"], order.index(r["method"])))


def paired(trials: Sequence[sweep_spec.Trial], score_last: int) -> list[dict[str, Any]]:
  """Per (size, method other than its pair): the FID change against its
  pair (`against`: "none" with the same DiffAugment setting) at the same
  size and seed, over the seeds both finished: the pairs, the mean change
  (negative: better) and how many pairs improved."""
  per_trial, _ = sweep_report.summarize(trials, ["fid"], score_last)
  fid = {(size_of(t), method_of(t), t.seed): r["fid"] for t, r in zip(trials, per_trial)
         if r["fid"] != ""}
  pair = {method_of(t): against(t) for t in trials}
  out = []
  for size, method in dict.fromkeys((s, m) for s, m, _ in fid):
    base = pair[method]
    diffs = [fid[(size, method, seed)] - fid[(size, base, seed)]
             for s, m, seed in fid if (s, m) == (size, method) and method != base
             and (size, base, seed) in fid]
    if diffs:
      out.append({"size": size, "method": method, "against": base, "pairs": len(diffs),
                  "fid change": float(np.mean(diffs)),
                  "better": sum(d < 0 for d in diffs)})
  return out


def ordering(rows: list[dict[str, Any]], a: str, b: str) -> str:
  """Ours for a published comparison: per size, the mean FID of `a` against
  `b` and which is lower; TO_FILL where either is not measured."""
  fid = {(r["size"], r["method"]): r.get("fid mean") for r in rows}
  sizes = sorted({s for s, _ in fid}, reverse=True)
  parts = [f"{s}: {fid[(s, a)]:.2f} vs {fid[(s, b)]:.2f} "
           f"({'a' if fid[(s, a)] < fid[(s, b)] else 'b'} lower)" for s in sizes
           if fid.get((s, a)) is not None and fid.get((s, b)) is not None]
  return "; ".join(parts) if parts else TO_FILL


def markdown(rows: list[dict[str, Any]], pairs: list[dict[str, Any]]) -> str:
  head = ("| images | method | seeds | FID | precision | recall | density | coverage | "
          "D acc. train | D acc. held-out | gap | ADA p | FID per seed | min per trial |\n"
          + "|---" * 14 + "|\n")
  body = "".join(
      f"| {r['size']} | {r['method']} | {r['seeds']} | {cell(r, 'fid', '.2f')} | "
      + " | ".join(cell(r, s, ".2f") for s in SCORES[1:] + (ADA_P,))
      + f" | {r.get('fid values', '')} | "
      f"{'-' if r['minutes'] == '' else format(r['minutes'], '.1f')} |\n" for r in rows)
  change = ("\nFID change against the paired method (\"none\" with the same DiffAugment "
            "setting; DiffAugment alone against neither), paired by seed (negative: "
            "better):\n\n| images | method | against | pairs | mean FID change | pairs better |\n"
            "|---|---|---|---|---|---|\n" + "".join(
                f"| {p['size']} | {p['method']} | {p['against']} | {p['pairs']} | "
                f"{p['fid change']:+.2f} | {p['better']}/{p['pairs']} |\n" for p in pairs))
  return head + body + (change if pairs else "")


def published(rows: list[dict[str, Any]]) -> str:
  """The published orderings beside ours (a: the first method, b: the second)."""
  lines = ["## Published orderings beside ours", "",
           "Published figures are CIFAR-10 (32x32, 50k images; percentages of it); ours are "
           "digits at the sizes above, FID in the digits classifier's features, so orderings "
           "compare, numbers do not. Ours: mean FID of a vs b per training-set size.", "",
           "| comparison (a vs b) | a | b | published | ours |", "|---|---|---|---|---|"]
  lines += [f"| {what} | {a} | {b} | {pub} | {ordering(rows, a, b)} |"
            for what, a, b, pub in PUBLISHED]
  return "\n".join(lines)


def plot(rows: list[dict[str, Any]], title: str, path: str) -> None:
  """Each of PLOTTED against the training-set size (log scale), one line per
  method (mean ± std over seeds)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(PLOTTED), figsize=(4.2 * len(PLOTTED), 3.8), dpi=100)
  methods = list(dict.fromkeys(r["method"] for r in rows))
  for ax, score in zip(axes, PLOTTED):
    for k, method in enumerate(methods):
      mine = [r for r in rows if r["method"] == method and f"{score} mean" in r]
      if not mine:
        continue
      ax.errorbar([r["size"] for r in mine], [r[f"{score} mean"] for r in mine],
                  [r[f"{score} std"] for r in mine], color=f"C{k % 10}",
                  ls="--" if DA in method else "-", marker="o", ms=3, capsize=2,
                  label=method)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_title(score, fontsize=9)
  axes[0].legend(fontsize=7)
  fig.suptitle(title, fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def parse_quick(argv: Sequence[str] | None) -> tuple[list[str], bool]:
  """(the flags for run_shipped_spec, whether --quick): with --quick, the
  smoke spec (written under the temporary directory) and, unless given, a
  temporary --work and --out, so that a smoke run never touches
  benchmarks/results."""
  argv = list(sys.argv[1:] if argv is None else argv)
  if "--quick" not in argv:
    return argv, False
  argv.remove("--quick")
  root = os.path.join(tempfile.gettempdir(), "limited_data_quick")
  os.makedirs(root, exist_ok=True)
  files.write_text(os.path.join(root, "quick.toml"), QUICK_SPEC)
  extra = ["--spec", os.path.join(root, "quick.toml")]
  extra += [] if "--work" in argv else ["--work", os.path.join(root, "work")]
  extra += [] if "--out" in argv else ["--out", os.path.join(root, "limited_data")]
  return extra + argv, True


def main(argv: Sequence[str] | None = None) -> str:
  flags, quick = parse_quick(argv)
  args, spec, trials = run_shipped_spec(SPEC, "limited_data", __doc__, flags)
  score_last = spec.get("score_last", 1)
  # Only finished trials are scored: a stopped trial's scores are those of
  # its first checkpoints, not of the run.
  finished = [t for t in trials if t.done]
  rows = table(finished, score_last)
  name = os.path.splitext(os.path.basename(args.spec))[0]
  command = ("python benchmarks/limited_data.py --quick" if quick else
             f"python benchmarks/limited_data.py --parallel {args.parallel}" + (
                 "" if args.spec == SPEC else
                 f" --spec {args.spec} --out {os.path.relpath(args.out, os.path.dirname(HERE))}"))
  setup = (f"`{name}` (seeds {', '.join(map(str, spec.get('seeds', [0])))}): final scores "
           f"are each trial's mean over its last {score_last} evaluations, mean ± std over "
           f"seeds. FID, precision, recall, density and coverage against the held-out test "
           f"images (not the training images, which a memorizing G would reproduce); D's "
           f"accuracy is the share of reals with logit > 0 (`d_overfit`). "
           f"{timing(trials)} (`--parallel {args.parallel}`).\n\n{provenance(trials)}\n\n"
           f"Reproduce: `{command}` (sweep in {args.work}; `--report_only` rereads it).")
  page = (f"{setup}\n\n{markdown(rows, paired(finished, score_last)) if rows else 'No scores yet.'}"
          f"\n\n{published(rows)}\n")
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  files.write_text(args.out + ".md", page)
  if rows:
    files.write_csv(args.out + ".csv", rows)
    plot(rows, f"{name}: {timing(trials)}", args.out + ".png")
  methods = len({method_of(t) for t in trials})
  samples_montage(trials, args.out + "_samples.png", columns=methods,
                  label=lambda t: f"{size_of(t)} images\n{method_of(t)}")
  print(page)
  return page


if __name__ == "__main__":
  main()
