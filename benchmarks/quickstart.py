"""Times the quickstart (`compare_gan2 --model_dir DIR`) end to end and
records wall time, steps/s and the final sample grid; or, with --score, the
quickstart's FID over seeds.

  python benchmarks/quickstart.py [--extra "--strategy mirrored --num_cpu_devices 2"]
  python benchmarks/quickstart.py --score --seeds 0,1,2

The first writes benchmarks/results/quickstart.json (appends a record) and
benchmarks/results/quickstart_samples.png.

--score runs the default quickstart (default compute format) as a user would,
`compare_gan2 --model_dir DIR --schedule eval_after_train`, once per
`run_config.tf_random_seed`, so every kept checkpoint is scored with the
default `eval.*` (the shipped digits classifier's features, 3 averaging runs
of 1000 samples against the 297 test digits). It writes
benchmarks/results/quickstart_fid.{json,md} (FID per seed and step, mean and
range over seeds, precision, load) and the first seed's scores.csv/.png as
quickstart_scores.{csv,png}. Runs resume (rerun to go on); their wall times
are a record, not a speed claim (speed is the first mode's, on an idle machine).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def timed() -> None:
  """The first mode: one default run, timed."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--extra", default="", help="extra CLI flags")
  args = parser.parse_args()
  model_dir = tempfile.mkdtemp(prefix="quickstart_")
  load_start = os.getloadavg()[0]
  command = [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
             *args.extra.split()]
  start = time.time()
  result = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  wall = time.time() - start
  print(result.stdout[-2000:])
  if result.returncode:
    sys.exit(result.stderr[-2000:])
  rates = [float(r) for r in re.findall(r"\| ([\d.]+) steps/s", result.stdout)]
  # The start-up line names the compute format ("auto": bfloat16 where the
  # CPU has it natively).
  compute = re.findall(r"(bfloat16|float32) compute", result.stdout + result.stderr)
  samples = sorted(os.listdir(os.path.join(model_dir, "samples")))
  os.makedirs(RESULTS, exist_ok=True)
  shutil.copy(os.path.join(model_dir, "samples", samples[-1]),
              os.path.join(RESULTS, "quickstart_samples.png"))
  record = {"date": datetime.date.today().isoformat(), "flags": args.extra,
            "wall_seconds": round(wall, 1),
            "steps_per_sec_last": rates[-1] if rates else None,
            "cpus": os.cpu_count(), "machine": platform.machine(),
            "compute_dtype": compute[0] if compute else None,
            "load_average_start": round(load_start, 2),
            "load_average_end": round(os.getloadavg()[0], 2)}
  path = os.path.join(RESULTS, "quickstart.json")
  records = json.load(open(path)) if os.path.exists(path) else []
  records.append(record)
  with open(path, "w") as f:
    json.dump(records, f, indent=2)
  print(json.dumps(record))
  shutil.rmtree(model_dir, ignore_errors=True)


def score_seed(work: str, seed: int) -> dict:
  """Trains and scores the default quickstart at one seed (resumes); its record."""
  model_dir = os.path.join(work, f"seed{seed}")
  log = model_dir + ".log"
  scores = os.path.join(model_dir, "scores.csv")
  if not os.path.exists(scores):
    load = os.getloadavg()
    command = [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
               "--schedule", "eval_after_train",
               "--gin_bindings", f"run_config.tf_random_seed = {seed}"]
    start = time.time()
    with open(log, "a") as f:
      f.write(" ".join(command) + "\n")
      f.flush()
      result = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
      f.write(f"\nwall_seconds {time.time() - start:.1f} rc {result.returncode} "
              f"load_start {load[0]:.2f} load_end {os.getloadavg()[0]:.2f}\n")
    if result.returncode:
      sys.exit(f"seed {seed} failed (rc {result.returncode}); see {log}")
  with open(log) as f:
    text = f.read()
  compute = re.findall(r"(bfloat16|float32) compute", text)
  loads = re.findall(r"load_start ([\d.]+) load_end ([\d.]+)", text)
  with open(scores) as f:
    rows = list(csv.DictReader(f))
  return {"seed": seed, "model_dir": model_dir,
          "compute_dtype": compute[0] if compute else None,
          "load_average_start_end": [float(x) for x in loads[-1]] if loads else None,
          "scores": [{"step": int(r["step"]), "fid": float(r["fid"]),
                      "fid_std": float(r["fid_std"]), "kid": float(r["kid"]),
                      "feature_extractor": r["feature_extractor"]} for r in rows]}


def score_table(records: list[dict]) -> str:
  """Markdown: FID per seed and step, then mean and range over seeds."""
  steps = sorted({s["step"] for r in records for s in r["scores"]})
  rows = ["| seed | precision | " + " | ".join(f"FID at {s}" for s in steps) + " |",
          "|---|---|" + "---|" * len(steps)]
  for r in records:
    by_step = {s["step"]: s for s in r["scores"]}
    rows.append(f"| {r['seed']} | {r['compute_dtype']} | " + " | ".join(
        f"{by_step[s]['fid']:.2f} ± {by_step[s]['fid_std']:.2f}" if s in by_step else "-"
        for s in steps) + " |")
  cells = []
  for step in steps:
    fids = [s["fid"] for r in records for s in r["scores"] if s["step"] == step]
    cells.append(f"{sum(fids) / len(fids):.1f} ({min(fids):.1f}-{max(fids):.1f})")
  rows.append("| mean (range) | | " + " | ".join(cells) + " |")
  return "\n".join(rows) + "\n"


def scored() -> None:
  """--score: the default quickstart's FID over seeds."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--score", action="store_true", help="this mode")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                     "compare_gan2_quickstart_fid"))
  args = parser.parse_args()
  os.makedirs(args.work, exist_ok=True)
  records = [score_seed(args.work, int(s)) for s in args.seeds.split(",")]
  first = records[0]["model_dir"]
  shutil.copy(os.path.join(first, "scores.csv"),
              os.path.join(RESULTS, "quickstart_scores.csv"))
  shutil.copy(os.path.join(first, "scores.png"),
              os.path.join(RESULTS, "quickstart_scores.png"))
  command = f"python benchmarks/quickstart.py --score --seeds {args.seeds}"
  summary = {"date": datetime.date.today().isoformat(), "command": command,
             "cpus": os.cpu_count(), "machine": platform.machine(),
             "metric": "FID, shipped digits classifier features, mean ± std of 3 x "
                       "1000 samples vs the 297 test digits (default eval.*)",
             "note": "no timings: the runs shared the machine (speed is the first mode's)",
             "runs": records}
  with open(os.path.join(RESULTS, "quickstart_fid.json"), "w") as f:
    json.dump(summary, f, indent=2)
  loads = ", ".join(f"{r['load_average_start_end'][0]:.1f}" for r in records
                    if r["load_average_start_end"])
  setup = (f"The default quickstart (`compare_gan2 --model_dir DIR --schedule "
           f"eval_after_train`, `run_config.tf_random_seed` = {args.seeds}), default compute "
           f"format, {os.cpu_count()} CPUs ({platform.machine()}); FID in the shipped digits "
           "classifier's features, mean ± std of 3 x 1000 samples against the 297 test "
           f"digits. Load average at the start of each run: {loads}. Reproduce: `{command}`.")
  with open(os.path.join(RESULTS, "quickstart_fid.md"), "w") as f:
    f.write(f"{setup}\n\n{score_table(records)}")
  print(setup)
  print(score_table(records))


if __name__ == "__main__":
  if "--score" in sys.argv:
    scored()
  else:
    timed()
