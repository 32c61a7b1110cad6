"""Fault injection: how many training steps each fault costs a run.

  python benchmarks/faults.py [--kills 20] [--seed 0]

Trains the smallest config (a DCGAN of width 4 on 16 px shapes, a checkpoint
every SAVE_EVERY steps, a progress line every step) through the command line
and injects, one after the other on the same run:
  sigkill     SIGKILL at a random moment of training (x --kills), then rerun
  sigint      SIGINT (Ctrl-C), then rerun
  deleted     the newest checkpoint's files deleted, then rerun
  truncated   the newest checkpoint's data file cut to 1000 bytes, then rerun
  empty_state the `checkpoint` state file cut to 0 bytes (what a crash or a
              full disk leaves), then rerun
  second_trainer  the same command started again while the run trains: it
              must exit with one line, and the first must go on
  disk_full   model_dir on a small tmpfs that fills up (root, `mount -t
              tmpfs`); without mount rights, RLIMIT_FSIZE (`ulimit -f`) that
              no checkpoint fits (Python ignores SIGXFSZ: writes fail with
              EFBIG); then rerun with room
  eval_damaged  `compare_gan2 eval` of a finished copy of the run whose newest
              checkpoint is truncated: it must score the others, name the bad
              one, and change no file of the run (compared byte for byte)
Steps lost = the last step the faulty process reported - the step the rerun
resumed from. Writes benchmarks/results/faults.json and faults.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import glob
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
SAVE_EVERY = 10
TOTAL_STEPS = 100000  # never reached: every run ends in a fault
CONFIG = [
    'dataset.name = "shapes"', "shapes.resolution = 16",
    "shapes.num_train_examples = 256", "shapes.num_test_examples = 64",
    'options.architecture = "dcgan_arch"', "options.batch_size = 8",
    "options.z_dim = 8", "dcgan.Generator.ch = 4", "dcgan.Discriminator.ch = 4",
    "run_config.tf_random_seed = 0", "run_config.iterations_per_loop = 1",
    f"run_config.save_checkpoints_steps = {SAVE_EVERY}",
    "run_config.num_sample_images = 4", "run_config.keep_checkpoint_max = 3",
    f"options.training_steps = {TOTAL_STEPS}",
]
# Steps lost do not depend on the format; float32 on every CPU, so runs compare.
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "COMPARE_GAN2_CPU_BFLOAT16": "0"}
STEP_LINE = re.compile(r"^step (\d+)/", re.M)
RESUMED = re.compile(r"(?:Resumed from|resumed from) \S*model\.ckpt-(\d+)")


class Trainer:
  """One training process on the run, its output collected in a file."""

  def __init__(self, model_dir: str, gin_file: str, log: str,
               preexec: object = None):
    self.log_path = log
    self.log = open(log, "w")
    self.started = time.time()
    self.proc = subprocess.Popen(
        [sys.executable, "-m", "compare_gan2", "--model_dir", model_dir,
         "--gin_config", gin_file],
        stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec,
        env=ENV)

  def text(self) -> str:
    self.log.flush()
    with open(self.log_path) as f:
      return f.read()

  def last_step(self) -> int | None:
    steps = STEP_LINE.findall(self.text())
    return int(steps[-1]) if steps else None

  def resumed_from(self) -> int | None:
    text = self.text()
    match = RESUMED.search(text)
    if match:
      return int(match.group(1))
    return 0 if "from step 0 to" in text else None

  def wait_steps(self, count: int, timeout: float = 300) -> bool:
    """Until the process reports `count` steps beyond where it started."""
    end = time.time() + timeout
    while time.time() < end and self.proc.poll() is None:
      first, last = self.resumed_from(), self.last_step()
      if first is not None and last is not None and last - first >= count:
        return True
      time.sleep(0.05)
    return False

  def stop(self, signum: int) -> int:
    self.proc.send_signal(signum)
    code = self.proc.wait(timeout=120)
    self.log.flush()
    return code


def newest_checkpoint(model_dir: str) -> int | None:
  steps = [int(m.group(1)) for p in glob.glob(os.path.join(model_dir, "model.ckpt-*.index"))
           if (m := re.search(r"model\.ckpt-(\d+)\.index$", p))]
  return max(steps) if steps else None


def record(kind: str, before: Trainer, after: Trainer, **extra) -> dict:
  reached = before.last_step()
  resumed = after.resumed_from()
  return {"fault": kind, "reached_step": reached, "resumed_from": resumed,
          "steps_lost": None if reached is None or resumed is None else reached - resumed,
          "restarted_from_0": resumed == 0 and (reached or 0) > 0, **extra}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--kills", type=int, default=20)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  rng = random.Random(args.seed)
  work = tempfile.mkdtemp(prefix="faults_")
  gin_file = os.path.join(work, "tiny.gin")
  with open(gin_file, "w") as f:
    f.write("\n".join(CONFIG) + "\n")
  model_dir = os.path.join(work, "run")
  logs = os.path.join(work, "logs")
  os.makedirs(logs)
  count = 0

  def trainer(directory=model_dir, preexec=None) -> Trainer:
    nonlocal count
    count += 1
    return Trainer(directory, gin_file, os.path.join(logs, f"{count:03d}.log"), preexec)

  records = []
  began = time.time()
  current = trainer()
  current.wait_steps(SAVE_EVERY + 1)
  # SIGKILL at random moments; each rerun is the next victim.
  for i in range(args.kills):
    time.sleep(rng.uniform(0.0, 2.5))
    current.stop(signal.SIGKILL)
    nxt = trainer()
    nxt.wait_steps(1)
    records.append(record("sigkill", current, nxt, kill=i + 1))
    print(json.dumps(records[-1]), flush=True)
    current = nxt
    current.wait_steps(SAVE_EVERY // 2)
  # SIGINT: saves at the step it stops at.
  current.wait_steps(SAVE_EVERY + 3)
  code = current.stop(signal.SIGINT)
  nxt = trainer()
  nxt.wait_steps(1)
  records.append(record("sigint", current, nxt, exit_code=code))
  print(json.dumps(records[-1]), flush=True)
  current = nxt
  # The newest checkpoint deleted, or truncated, while no process runs.
  for kind in ("deleted", "truncated"):
    current.wait_steps(2 * SAVE_EVERY + 2)
    current.stop(signal.SIGKILL)
    newest = newest_checkpoint(model_dir)
    prefix = os.path.join(model_dir, f"model.ckpt-{newest}")
    if kind == "deleted":
      for path in glob.glob(prefix + ".*"):
        os.remove(path)
    else:
      with open(prefix + ".data-00000-of-00001", "r+b") as f:
        f.truncate(1000)
    nxt = trainer()
    nxt.wait_steps(1)
    skip = [l for l in nxt.text().splitlines() if l.startswith("Skipped")]
    records.append(record(kind, current, nxt, damaged_step=newest,
                          message=skip[0] if skip else None))
    print(json.dumps(records[-1]), flush=True)
    current = nxt
  # An empty state file, while no process runs.
  current.wait_steps(SAVE_EVERY + 2)
  current.stop(signal.SIGKILL)
  open(os.path.join(model_dir, "checkpoint"), "w").close()
  nxt = trainer()
  nxt.wait_steps(1)
  note = [l for l in nxt.text().splitlines() if "state file" in l]
  records.append(record("empty_state", current, nxt, message=note[0] if note else None))
  print(json.dumps(records[-1]), flush=True)
  current = nxt
  # The same command again while it trains.
  current.wait_steps(SAVE_EVERY + 2)
  second = trainer()
  code = second.proc.wait(timeout=600)
  before = current.last_step()
  current.wait_steps(current.last_step() - current.resumed_from() + 3)
  lines = [l for l in second.text().splitlines() if l.startswith("compare_gan2")]
  records.append({"fault": "second_trainer", "steps_lost": 0, "restarted_from_0": False,
                  "exit_code": code, "error_line": lines[-1][:300] if lines else None,
                  "traceback": "Traceback" in second.text(),
                  "first_went_on": (current.last_step() or 0) > (before or 0)})
  print(json.dumps(records[-1]), flush=True)
  current.stop(signal.SIGINT)
  records.append(eval_damaged(model_dir, work, gin_file))
  print(json.dumps(records[-1]), flush=True)
  current = trainer()
  current.wait_steps(SAVE_EVERY + 2)
  current.stop(signal.SIGINT)
  try:
    records.append(disk_full(model_dir, trainer))
    print(json.dumps(records[-1]), flush=True)
  finally:
    subprocess.run(["umount", model_dir + "_full"], capture_output=True, check=False)
    write_results(records, time.time() - began)
  shutil.rmtree(work, ignore_errors=True)


def files_of(directory: str) -> dict[str, str]:
  """{relative path: sha1} of every file under `directory`."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = hashlib.sha1(f.read()).hexdigest()
  return found


def eval_damaged(model_dir: str, work: str, gin_file: str) -> dict:
  """A finished copy of the run (trained to its newest checkpoint), its
  newest checkpoint truncated, evaluated with --output_dir."""
  copy = os.path.join(work, "finished")
  shutil.copytree(model_dir, copy)
  step = newest_checkpoint(copy)
  env = ENV
  cli = [sys.executable, "-m", "compare_gan2"]
  subprocess.run(cli + ["--model_dir", copy, "--gin_config", gin_file, "--gin_bindings",
                        f"options.training_steps = {step}"],
                 env=env, capture_output=True, check=True, timeout=600)
  with open(os.path.join(copy, f"model.ckpt-{step}.data-00000-of-00001"), "r+b") as f:
    f.truncate(1000)
  before = files_of(copy)
  out = os.path.join(work, "eval_out")
  result = subprocess.run(
      cli + ["eval", "--model_dir", copy, "--output_dir", out,
             "--num_eval_averaging_runs", "1"] + [
                 arg for b in ("eval.feature_extractor = 'pixels'", "eval.metrics = ['swd']",
                               "eval.num_samples = 32", "eval.export_generator = False",
                               f"eval.cache_dir = '{os.path.join(work, 'cache')}'")
                 for arg in ("--gin_bindings", b)],
      env=env, capture_output=True, text=True, timeout=900)
  text = result.stdout + result.stderr
  scored = []
  if os.path.exists(os.path.join(out, "scores.csv")):
    with open(os.path.join(out, "scores.csv"), newline="") as f:
      scored = [int(r["step"]) for r in csv.DictReader(f)]
  last = [l for l in text.splitlines() if l.startswith("Scored")]
  return {"fault": "eval_damaged", "steps_lost": 0, "restarted_from_0": False,
          "exit_code": result.returncode, "damaged_step": step, "scored_steps": scored,
          "run_unchanged": files_of(copy) == before, "trained": "Training " in text,
          "message": last[0][:300] if last else None}


def disk_full(model_dir: str, trainer) -> dict:
  """The run moved onto a tmpfs with room for about one more checkpoint (or
  under RLIMIT_FSIZE), trained until a save fails, then moved back."""
  full = model_dir + "_full"
  os.makedirs(full)
  # tmpfs gives every file whole 4 KiB pages (the sample grids are small).
  used = sum(-(-os.path.getsize(p) // 4096) * 4096 for p in glob.glob(
      os.path.join(model_dir, "**"), recursive=True) if os.path.isfile(p))
  checkpoint = max(os.path.getsize(p) for p in glob.glob(
      os.path.join(model_dir, "model.ckpt-*.data-*")))
  size_kb = (used + int(1.5 * checkpoint)) // 1024
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                            full], capture_output=True).returncode == 0
  preexec = None
  if mounted:
    method = f"tmpfs of {size_kb} KB"
    for name in os.listdir(model_dir):
      src = os.path.join(model_dir, name)
      (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(full, name))
    directory = full
  else:
    limit = checkpoint // 2
    method = f"RLIMIT_FSIZE {limit} bytes (no mount rights)"
    preexec = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    directory = model_dir
  victim = trainer(directory, preexec)
  code = victim.proc.wait(timeout=600)
  text = victim.text()
  error = [l for l in text.splitlines() if "error" in l.lower()]
  if mounted:  # back onto the big disk, as a user would after freeing space
    shutil.rmtree(model_dir)
    shutil.copytree(full, model_dir)
    subprocess.run(["umount", full], check=False)
  after = trainer()
  after.wait_steps(1)
  cleaned = [l for l in after.text().splitlines() if "interrupted checkpoint save" in l]
  result = record("disk_full", victim, after, method=method, exit_code=code,
                  error_line=error[-1][:300] if error else None,
                  traceback="Traceback" in text, cleaned=cleaned[0] if cleaned else None)
  after.stop(signal.SIGINT)
  return result


def write_results(records: list[dict], seconds: float) -> None:
  os.makedirs(RESULTS, exist_ok=True)
  out = {"date": datetime.date.today().isoformat(), "save_every": SAVE_EVERY,
         "seconds": round(seconds), "cpus": os.cpu_count(),
         "load_average_end": round(os.getloadavg()[0], 2),
         "command": "python benchmarks/faults.py " + " ".join(sys.argv[1:]),
         "precision": "float32 (COMPARE_GAN2_CPU_BFLOAT16=0)", "records": records}
  with open(os.path.join(RESULTS, "faults.json"), "w") as f:
    json.dump(out, f, indent=2)
  lines = ["# Fault injection (benchmarks/faults.py)", "",
           f"{out['date']}; tiny DCGAN on 16 px shapes, a checkpoint every "
           f"{SAVE_EVERY} steps; {len(records)} faults in {out['seconds']} s on "
           f"{out['cpus']} shared cores (load average {out['load_average_end']} at the "
           f"end), {out['precision']}; `{out['command'].strip()}`. Steps lost = last "
           "step the faulty process reported - step the rerun resumed from.", "",
           "| fault | n | steps lost (mean) | steps lost (max) | restarted from 0 | notes |",
           "|---|---|---|---|---|---|"]
  for kind in dict.fromkeys(r["fault"] for r in records):
    rows = [r for r in records if r["fault"] == kind]
    lost = [r["steps_lost"] for r in rows if r["steps_lost"] is not None]
    notes = ""
    if kind == "sigint":
      notes = f"exit code {rows[0]['exit_code']}"
    elif kind in ("deleted", "truncated"):
      notes = f"damaged step {rows[0]['damaged_step']}; log: {rows[0]['message']}"
    elif kind == "empty_state":
      notes = f"log: {rows[0]['message']}"
    elif kind == "second_trainer":
      r = rows[0]
      notes = (f"second: exit {r['exit_code']}, traceback: {r['traceback']}; "
               f"error: {r['error_line']}; first went on: {r['first_went_on']}")
    elif kind == "eval_damaged":
      r = rows[0]
      notes = (f"exit {r['exit_code']}; trained: {r['trained']}; run unchanged byte for "
               f"byte: {r['run_unchanged']}; scored steps {r['scored_steps']} (step "
               f"{r['damaged_step']} truncated); log: {r['message']}")
    elif kind == "disk_full":
      r = rows[0]
      notes = (f"{r['method']}; exit {r['exit_code']}, traceback: {r['traceback']}; "
               f"error: {r['error_line']}; next start: {r['cleaned']}")
    lines.append(f"| {kind} | {len(rows)} | "
                 f"{sum(lost) / len(lost) if lost else float('nan'):.1f} | "
                 f"{max(lost) if lost else 'n/a'} | "
                 f"{sum(r['restarted_from_0'] for r in rows)} | {notes} |")
  with open(os.path.join(RESULTS, "faults.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
