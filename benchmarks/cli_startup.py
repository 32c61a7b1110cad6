"""Times `compare_gan2 --help` (start-up of the command line): the median
wall time of 5 runs, as `python -m compare_gan2 --help` from this checkout
and through the installed `compare_gan2` script where there is one.

  python benchmarks/cli_startup.py [--runs 5]

Appends a record to benchmarks/results/cli_startup.json. Target: < 2 s
(--help imports no TensorFlow; before that it took 5-11 s).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
TARGET_S = 2.0


def time_command(command: list, runs: int) -> dict:
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = os.pathsep.join([REPO] + [p for p in env.get("PYTHONPATH", "").split(
      os.pathsep) if p])
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    times.append(time.perf_counter() - start)
    if result.returncode or "infer-labels" not in result.stdout:
      sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
  return {"command": " ".join(command), "runs_s": [round(t, 3) for t in times],
          "median_s": round(statistics.median(times), 3), "stderr_empty": not result.stderr}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--runs", type=int, default=5)
  args = parser.parse_args()
  commands = [[sys.executable, "-m", "compare_gan2", "--help"]]
  script = shutil.which("compare_gan2")
  if script:
    commands.append([script, "--help"])
  timings = [time_command(c, args.runs) for c in commands]
  record = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(), "target_s": TARGET_S,
            "timings": timings,
            "meets_target": all(t["median_s"] < TARGET_S for t in timings)}
  for t in timings:
    print(f"{t['command']}: median {t['median_s']:.2f} s of {t['runs_s']}")
  path = os.path.join(RESULTS, "cli_startup.json")
  records = []
  if os.path.exists(path):
    with open(path) as f:
      records = json.load(f)
  records.append(record)
  os.makedirs(RESULTS, exist_ok=True)
  with open(path + ".tmp", "w") as f:
    json.dump(records, f, indent=2)
    f.write("\n")
  os.replace(path + ".tmp", path)


if __name__ == "__main__":
  main()
