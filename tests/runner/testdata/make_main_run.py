"""Writes tests/runner/testdata/main_run (a tiny run at step 4) and
main_run_step8.npz (its checkpoint values after training on to step 8 with
the same code), which tests/runner/test_main_checkpoint.py restores and
compares with. Written by the code of main at 5aacdd9 (before the Runner was
split into parts), float32, from the repository root:
  PYTHONPATH=$PWD python tests/runner/testdata/make_main_run.py
Rerun it only to change the test data on purpose: the point of the files is
that they come from older code."""
import os, shutil, sys, tempfile
os.environ["COMPARE_GAN2_CPU_BFLOAT16"] = "0"
sys.path.insert(0, "tests")
import numpy as np
import run_cases
SMALL = ["dcgan.Generator.ch = 2", "dcgan.Discriminator.ch = 2", "options.z_dim = 4"]
out = "tests/runner/testdata"
tmp = tempfile.mkdtemp()
run = os.path.join(tmp, "run")
run_cases.make_runner(run, 4, SMALL).train()
dest = os.path.join(out, "main_run")
shutil.rmtree(dest, ignore_errors=True)
os.makedirs(dest)
for name in sorted(os.listdir(run)):
  if name in ("run.json", "checkpoint", "TRAIN_DONE") or name.startswith(("model.ckpt-4", "operative_config")):
    shutil.copy(os.path.join(run, name), dest)
run_cases.make_runner(run, 8, SMALL).train()
values = run_cases.checkpoint_values(os.path.join(run, "model.ckpt-8"))
np.savez_compressed(os.path.join(out, "main_run_step8.npz"), **{k.replace("/", "|"): v for k, v in values.items()})
print(sorted(os.listdir(dest)), len(values))
