"""Times the quickstart (`compare_gan2 --model_dir DIR`) end to end and
records wall time, steps/s and the final sample grid.

  python benchmarks/quickstart.py [--extra "--strategy mirrored --num_cpu_devices 2"]

Writes benchmarks/results/quickstart.json (appends a record) and
benchmarks/results/quickstart_samples.png.
"""

import argparse
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


def main() -> None:
  parser = argparse.ArgumentParser()
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


if __name__ == "__main__":
  main()
