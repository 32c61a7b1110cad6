"""How honest the training step's memory estimate (compare_gan2/runner/
memory.py) is: the peak RSS of a 3-step run (`compare_gan2`, one process per
point) at several batch sizes, its growth per example, and the traced
estimate per example of the same config.

  python benchmarks/step_memory.py [--cases quickstart]

The quickstart cases take about 2 minutes on 2 cores, resnet_cifar10 in
float32 at batches 16 and 64 about 4 (--cases picks cases by name).
Appends a record to benchmarks/results/step_memory.json (precision, load and
the command of every point).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")

STEPS = ["options.training_steps = 3", "run_config.iterations_per_loop = 1",
         "run_config.num_sample_images = 16"]
FLOAT32 = ["run_config.mixed_precision = False"]
CASES = [  # (name, gin config, bindings, flags, batch sizes)
    ("quickstart float32", "quickstart", FLOAT32, [], [1024, 4096]),
    ("quickstart bfloat16 (auto)", "quickstart", [], [], [1024, 4096]),
    ("resnet_cifar10 float32", "resnet_cifar10", FLOAT32, ["--data_fake_dataset"],
     [16, 64]),
]
ESTIMATE = """
import json, sys
import compare_gan2
from compare_gan2.core import config
from compare_gan2.runner import Runner, memory
from compare_gan2.core import config_files
compare_gan2.parse_gin([config_files.resolve_config(sys.argv[1])], sys.argv[3:])
runner = Runner(sys.argv[2], fake_data=True)
shape = (runner.dataset.resolution,) * 2 + (runner.dataset.colors,)
print(json.dumps([runner.compute_dtype, memory.step_bytes_per_example(runner.gan, shape)]))
"""


def env() -> dict:
  found = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
  found["COMPARE_GAN2_MEMORY_AVAILABLE"] = "off"  # measure, do not refuse
  return found


def peak_rss(command: list) -> int:
  """Bytes: the peak RSS of `command` (its own process)."""
  process = subprocess.Popen(command, env=env(), cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
  _, status, usage = os.wait4(process.pid, 0)
  if status:
    sys.exit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-2000:]}")
  return usage.ru_maxrss * 1024


def measure(name: str, gin_config: str, bindings: list, flags: list, batches: list,
            root: str) -> dict:
  points = []
  for batch in batches:
    command = [sys.executable, "-m", "compare_gan2", "--model_dir",
               os.path.join(root, f"{name}_{batch}".replace(" ", "_")), "--gin_config",
               gin_config,
               *flags]
    for binding in bindings + STEPS + [f"options.batch_size = {batch}"]:
      command += ["--gin_bindings", binding]
    points.append({"batch": batch, "peak_rss_bytes": peak_rss(command),
                   "load": os.getloadavg()[0], "command": " ".join(command[1:])})
    print(f"{name}: batch {batch}: peak RSS {points[-1]['peak_rss_bytes'] / 2**30:.2f} GiB")
  growth = [(b["peak_rss_bytes"] - a["peak_rss_bytes"]) / (b["batch"] - a["batch"])
            for a, b in zip(points, points[1:])]
  out = subprocess.run([sys.executable, "-c", ESTIMATE, gin_config,
                        os.path.join(root, "estimate"), *bindings], env=env(),
                       cwd=REPO, capture_output=True, text=True, check=True)
  dtype, estimate = json.loads(out.stdout.splitlines()[-1])
  ratio = max(growth) / estimate
  print(f"{name}: grows {max(growth) / 1024:.0f} KiB per example, estimate "
        f"{estimate / 1024:.0f} KiB ({dtype}): measured / estimate {ratio:.2f}")
  return {"case": name, "precision": dtype, "points": points,
          "growth_bytes_per_example": growth, "estimate_bytes_per_example": estimate,
          "measured_over_estimate": round(ratio, 3)}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--cases", default="", help="Only the cases whose name has this.")
  args = parser.parse_args()
  cases = [c for c in CASES if args.cases in c[0]]
  with tempfile.TemporaryDirectory() as root:
    results = [measure(*case, root) for case in cases]
  record = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "results": results}
  path = os.path.join(RESULTS, "step_memory.json")
  records = []
  if os.path.exists(path):
    with open(path) as f:
      records = json.load(f)
  with open(path, "w") as f:
    json.dump(records + [record], f, indent=1)
  print(f"Appended to {path}")


if __name__ == "__main__":
  main()
