"""DiffAugment where D overfits, at CPU scale: the sweep
`configs/sweeps/diffaugment_overfit_digits.toml` (100 `digits` images, the
quickstart DCGAN with a wider D, 3000 steps of 32; no augmentation against
"translation,cutout"; 3 seeds), scored every 250 steps by the FID in the
shipped digits classifier's features and by `d_overfit`: D's accuracy on
its 100 training reals and on the 297 held-out test images (DiffAugment,
Zhao et al., 2020, Figs. 2 and 3: without augmentation the first goes to 1
while the second falls). Each trial's final scores are the mean over its
last 3 evaluations.

  python benchmarks/diffaugment_overfit.py --parallel 2   # runs (or resumes) the sweep
  python benchmarks/diffaugment_overfit.py --report_only  # tables from what has finished

Writes benchmarks/results/diffaugment_overfit.{md,csv,png}: per policy the
final FID, D's final train and held-out accuracy and their gap (mean ± std
over seeds, and per seed), the gap's peak over training; the plot shows D's
train and held-out accuracy over steps for each policy (thin: seeds, thick:
their mean) and the FID over steps.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from compare_gan2.core import files  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import report as sweep_report  # noqa: E402  pylint: disable=g-import-not-at-top
from compare_gan2.tools.sweep import spec as sweep_spec  # noqa: E402  pylint: disable=g-import-not-at-top
from study_tables import cell, pivot, provenance, run_shipped_spec, timing  # noqa: E402  pylint: disable=g-import-not-at-top

SPEC = "diffaugment_overfit_digits"
POLICY = "DiffAugment.policy"
# The scores of the table; the plot draws the first three over steps.
SCORES = ("d_accuracy_train", "d_accuracy_heldout", "fid", "d_accuracy_gap")


def policy_of(trial: sweep_spec.Trial) -> str:
  """The trial's DiffAugment policy ("" for none)."""
  return str(dict(trial.hparams).get(POLICY, "")).strip("'\"")


def curves(trials: Sequence[sweep_spec.Trial]) -> dict[str, dict[int, dict[str, np.ndarray]]]:
  """{policy: {seed: {"step": [S], score: [S]}}} of every trial with scores:
  its evaluations in step order (a score missing at a step is NaN)."""
  out: dict[str, dict[int, dict[str, np.ndarray]]] = {}
  for trial in trials:
    rows = sweep_report.read_scores(trial)
    if not rows:
      continue
    out.setdefault(policy_of(trial), {})[trial.seed] = {
        key: np.array([r.get(key, np.nan) for r in rows], float)
        for key in ("step", *SCORES)}
  return out


def mean_curve(per_seed: dict[int, dict[str, np.ndarray]], key: str
               ) -> tuple[np.ndarray, np.ndarray]:
  """(steps every seed evaluated, the mean of `key` over seeds there)."""
  steps = sorted(set.intersection(*[set(c["step"]) for c in per_seed.values()]))
  values = [[c[key][list(c["step"]).index(s)] for c in per_seed.values()] for s in steps]
  return np.array(steps), np.array([np.mean(v) for v in values])


def table(trials: Sequence[sweep_spec.Trial], spec: dict[str, Any], score_last: int
          ) -> list[dict[str, Any]]:
  """One row per policy: the seeds scored and, per score, the mean, std and
  per-seed values of the trials' final scores (mean of the last
  `score_last` evaluations), and the mean over seeds of the gap's peak."""
  _, summary = sweep_report.summarize(trials, spec.get("metrics", SCORES), score_last)
  policies = {t.config: policy_of(t) for t in trials}
  peaks = {p: [np.nanmax(c["d_accuracy_gap"]) for c in per_seed.values()]
           for p, per_seed in curves(trials).items()}
  rows = []
  for row in pivot(summary):
    policy = policies[row["config"]]
    rows.append({"policy": policy or "none", **{k: v for k, v in row.items()
                                                if k != "loss, penalty"},
                 "peak gap mean": float(np.mean(peaks[policy])) if policy in peaks else ""})
  return rows


def _number(value: Any) -> str:
  return "-" if value == "" else f"{value:.2f}"


def markdown(rows: list[dict[str, Any]]) -> str:
  head = ("| DiffAugment | seeds | FID | D accuracy, train reals | D accuracy, held-out "
          "reals | gap | peak gap | FID per seed | gap per seed |\n"
          "|---|---|---|---|---|---|---|---|---|\n")
  return head + "".join(
      f"| {r['policy']} | {r['seeds']} | {cell(r, 'fid', '.2f')} | "
      f"{cell(r, 'd_accuracy_train', '.2f')} | {cell(r, 'd_accuracy_heldout', '.2f')} | "
      f"{cell(r, 'd_accuracy_gap', '.2f')} | "
      f"{_number(r['peak gap mean'])} | {r.get('fid values', '')} | "
      f"{r.get('d_accuracy_gap values', '')} |\n" for r in rows)


def plot(data: dict[str, dict[int, dict[str, np.ndarray]]], title: str, path: str) -> None:
  """D's train (solid) and held-out (dashed) accuracy per policy, and the
  FID of both policies, over steps; thin lines seeds, thick their mean."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  policies = list(data)
  fig, axes = plt.subplots(1, len(policies) + 1, figsize=(4.2 * (len(policies) + 1), 3.6),
                           dpi=110)
  axes = np.atleast_1d(axes)
  colors = {"d_accuracy_train": "C3", "d_accuracy_heldout": "C0"}
  for ax, policy in zip(axes, policies):
    for key, label in (("d_accuracy_train", "training reals"),
                       ("d_accuracy_heldout", "held-out reals")):
      for c in data[policy].values():
        ax.plot(c["step"], c[key], color=colors[key], lw=0.7, alpha=0.35)
      steps, mean = mean_curve(data[policy], key)
      ax.plot(steps, mean, color=colors[key], lw=2, label=label)
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"D's accuracy, DiffAugment: {policy or 'none'}", fontsize=9)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
  ax = axes[-1]
  for k, policy in enumerate(policies):
    for c in data[policy].values():
      ax.plot(c["step"], c["fid"], color=f"C{k + 1}", lw=0.7, alpha=0.35)
    steps, mean = mean_curve(data[policy], "fid")
    ax.plot(steps, mean, color=f"C{k + 1}", lw=2, label=policy or "none")
  ax.set_title("FID (digits classifier; lower is better)", fontsize=9)
  ax.set_xlabel("step")
  ax.legend(fontsize=8)
  fig.suptitle(title, fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def main(argv: Sequence[str] | None = None) -> str:
  args, spec, trials = run_shipped_spec(SPEC, "diffaugment_overfit", __doc__, argv)
  score_last = spec.get("score_last", 1)
  rows = table(trials, spec, score_last)
  data = curves(trials)
  name = os.path.splitext(os.path.basename(args.spec))[0]
  command = "python benchmarks/diffaugment_overfit.py --parallel 2" + (
      "" if args.spec == SPEC else
      f" --spec {args.spec} --out {os.path.relpath(args.out, os.path.dirname(HERE))}")
  setup = (f"`{name}` ({', '.join(spec.get('configs', []))}; seeds "
           f"{', '.join(map(str, spec.get('seeds', [0])))}): final scores are each "
           f"trial's mean over its last {score_last} evaluations, mean ± std over "
           f"seeds; D's accuracy is the share of reals with logit > 0, on its "
           f"training reals and on held-out test reals (`d_overfit`); "
           f"{timing(trials)} (`--parallel {args.parallel}`).\n\n{provenance(trials)}\n\n"
           f"Reproduce: `{command}` (sweep in {args.work}; `--report_only` rereads it).")
  page = f"{setup}\n\n{markdown(rows) if rows else 'No scores yet.'}\n"
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  files.write_text(args.out + ".md", page)
  if rows:
    files.write_csv(args.out + ".csv", rows)
  if data:
    plot(data, f"{name}: {timing(trials)}", args.out + ".png")
  print(page)
  return page


if __name__ == "__main__":
  main()
