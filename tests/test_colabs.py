"""The colabs/ notebooks: each runs top to bottom offline in CI mode (the
environment variables of its size-knob cell make it tiny) and shows images; the
demos load tiny generators exported here instead of the released handles. Their
install cell is tested in test_packaging.py.

  python -m pytest -q -m slow tests/test_colabs.py
"""

import glob
import importlib.util
import math
import os
import re
import time

import pytest

from compare_gan2.tools import hub
from run_cases import make_runner
from test_packaging import install_cell

COLABS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "colabs")
NOTEBOOKS = ["quickstart.ipynb", "s3gan_demo.ipynb", "ssgan_demo.ipynb",
             "fewer_labels.ipynb", "diffaugment_low_shot.ipynb"]

# CI mode: a few steps and a few samples everywhere.
STEPS = 10
CI_ENV = {
    "COMPARE_GAN2_NOTEBOOK_STEPS": str(STEPS),
    "COMPARE_GAN2_NOTEBOOK_PRETRAIN_STEPS": "20",
    "COMPARE_GAN2_NOTEBOOK_EVAL_SAMPLES": "100",
    "COMPARE_GAN2_NOTEBOOK_EVAL_RUNS": "1",
    "COMPARE_GAN2_NOTEBOOK_SAMPLES": "8",
    "COMPARE_GAN2_NOTEBOOK_INTERPOLATION_STEPS": "5",
    "COMPARE_GAN2_NOTEBOOK_LABEL": "3",
    "COMPARE_GAN2_NOTEBOOK_PIXEL_BASELINE": "0",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# nbclient runs the notebooks in an ipykernel "python3" kernel.
HAVE_JUPYTER = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))
needs_jupyter = pytest.mark.skipif(not HAVE_JUPYTER,
                                   reason="needs nbclient, nbformat and ipykernel")

CONDITIONAL = ['dataset.name = "digits"', "ModularGAN.conditional = True",
               "G.batch_norm_fn = @conditional_batch_norm"]


def _read(name):
  import nbformat  # pylint: disable=g-import-not-at-top
  return nbformat.read(os.path.join(COLABS, name), as_version=4)


def _outputs(nb):
  return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(nb):
  """Everything the notebook printed (streams and text results)."""
  parts = []
  for o in _outputs(nb):
    if o.output_type == "stream":
      parts.append(o.text)
    elif "data" in o and "text/plain" in o.data and "image/png" not in o.data:
      parts.append(o.data["text/plain"])
  return "".join(parts)


# --- Fast: the stored notebooks ----------------------------------------------------------


@needs_jupyter
def test_notebooks_are_valid_stored_without_outputs_and_all_tested():
  import nbformat  # pylint: disable=g-import-not-at-top
  found = sorted(os.path.basename(p) for p in glob.glob(os.path.join(COLABS, "*.ipynb")))
  assert found == sorted(NOTEBOOKS), "every notebook in colabs/ needs a test here"
  for name in found:
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4, name
    assert nb.metadata["kernelspec"]["name"] == "python3", name
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and any(c.cell_type == "markdown" for c in nb.cells), name
    for cell in code:
      assert cell.outputs == [] and cell.execution_count is None, (
          f"{name}: store notebooks without outputs")
    # The first code cell installs compare_gan2 (the same cell everywhere), the
    # second holds the size knobs that CI overrides.
    assert code[0].source == install_cell(), f"{name}: the install cell differs"
    assert "os.environ.get(\"COMPARE_GAN2_" in code[1].source, name
    source = "\n".join(c.source for c in code)
    # Nothing is written inside the repository.
    assert "COMPARE_GAN2_NOTEBOOK_DIR" in source or "COMPARE_GAN2_GENERATOR" in source, name


# The accelerator cell: what `--strategy auto` would pick, and where training gets it.
TRAINS_IN_KERNEL = ("quickstart.ipynb", "diffaugment_low_shot.ipynb")
TRAINS_BY_CLI = ("fewer_labels.ipynb",)


def _accelerator_cell(nb):
  cells = [c for c in nb.cells if c.cell_type == "code"
           and "strategy_lib.detect_strategy()" in c.source]
  assert len(cells) == 1, "one accelerator cell (strategy_lib.detect_strategy())"
  return cells[0].source


@needs_jupyter
@pytest.mark.parametrize("name", NOTEBOOKS)
@pytest.mark.parametrize("runtime, env, accel, expected", [
    ("colab_tpu_node", {"COLAB_TPU_ADDR": "10.1.2.3:8470"}, False,
     ("tpu", "grpc://10.1.2.3:8470")),
    ("tpu_name", {"TPU_NAME": "my-tpu"}, False, ("tpu", "my-tpu")),
    ("tpu_vm", {}, True, ("tpu", "local")),  # Colab's TPU runtimes, Cloud TPU VMs
    ("cpu", {}, False, ("default", None)),
])
def test_accelerator_cell_picks_the_strategy(name, runtime, env, accel, expected,
                                             monkeypatch, capsys):
  """Runs the notebook's accelerator cell in a faked environment (no TPU is
  touched: make_strategy is recorded) and checks what training receives."""
  del runtime
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  for key in ("COLAB_TPU_ADDR", "TPU_NAME"):
    monkeypatch.delenv(key, raising=False)
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  monkeypatch.setattr(strategy_lib.glob, "glob",
                      lambda pattern: ["/dev/accel0"] if accel and "accel" in pattern else [])
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  calls = []

  def make_strategy(strategy_name, *, tpu=None):
    calls.append((strategy_name, tpu))
    return tf.distribute.get_strategy()

  monkeypatch.setattr(strategy_lib, "make_strategy", make_strategy)
  nb = _read(name)
  namespace = {}
  exec(compile(_accelerator_cell(nb), name, "exec"), namespace)  # pylint: disable=exec-used
  assert (namespace["STRATEGY"], namespace["TPU"]) == expected
  printed = capsys.readouterr().out
  assert "Running on" in printed
  source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
  if name in TRAINS_IN_KERNEL:
    assert calls == [expected]  # the strategy of the Runner below
    assert "Runner(MODEL_DIR, strategy=strategy)" in source
  elif name in TRAINS_BY_CLI:
    assert not calls  # the kernel leaves the TPU to the training process
    flags = ["--strategy", expected[0]] + (["--tpu", expected[1]] if expected[1] else [])
    assert namespace["STRATEGY_FLAGS"] == flags
    assert "*STRATEGY_FLAGS)" in source
  else:  # the demos sample on the default device
    assert not calls and ("TPU runtime" in printed) == (expected[0] == "tpu")


# --- Slow: execute them ------------------------------------------------------------------


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
  """Tiny exports standing in for the released S3GAN (conditional, digits
  32x32x1, 10 classes) and SSGAN (unconditional, shapes 16x16x3)."""
  root = tmp_path_factory.mktemp("colab_generators")
  out = {}
  for name, bindings in (("uncond", []), ("cond", CONDITIONAL)):
    runner = make_runner(root / name, 2, bindings)
    runner.train()
    # What `compare_gan2 export --model_dir RUN --out DIR` does.
    path = hub.export_generator(str(root / name), str(root / f"{name}_export"))
    gen = hub.load_generator(path)
    out[name] = (path, (gen.resolution, gen.colors, gen.num_classes))
  return out


def _check_quickstart(nb, text, generators):
  del nb, generators
  fid = float(re.search(r"FID = (\S+)", text).group(1))
  assert math.isfinite(fid) and fid > 0
  assert f"step {STEPS}/{STEPS} (100%)" in text


def _check_demo(kind):
  def check(nb, text, generators):
    del nb
    res, colors, num_classes = generators[kind][1]
    assert f"samples (8, {res}, {res}, {colors})" in text
    for path in ("linear", "spherical"):
      assert f"{path} (5, {res}, {res}, {colors})" in text
    assert f"classes {num_classes}" in text
    assert "Running on CPU" in text or "Running on GPU" in text or "Running on TPU" in text
  return check


def _check_fewer_labels(nb, text, generators):
  del nb, generators
  accuracy = float(re.search(r"accuracy = (\S+)", text).group(1))
  assert 0.0 <= accuracy <= 1.0
  purity = float(re.search(r"rotation features: purity (\S+),", text).group(1))
  assert 0.0 < purity <= 1.0
  assert f"step {STEPS}/{STEPS} (100%)" in text  # the S2GAN trained on the label file


def _check_diffaugment(nb, text, generators):
  del nb, generators
  assert "color,translation,cutout: augmented batch (8, 32, 32, 1)" in text
  assert "DiffAugment policy: color,translation,cutout" in text
  assert "train examples: 150" in text
  assert "samples (32, 32, 32, 1)" in text


CHECKS = {
    "quickstart.ipynb": _check_quickstart,
    "s3gan_demo.ipynb": _check_demo("cond"),
    "ssgan_demo.ipynb": _check_demo("uncond"),
    "fewer_labels.ipynb": _check_fewer_labels,
    "diffaugment_low_shot.ipynb": _check_diffaugment,
}
GENERATOR = {"s3gan_demo.ipynb": "cond", "ssgan_demo.ipynb": "uncond"}


@pytest.mark.slow
@needs_jupyter
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, generators, tmp_path, monkeypatch):
  import nbclient  # pylint: disable=g-import-not-at-top
  work = tmp_path / "work"
  work.mkdir()
  for key, value in CI_ENV.items():  # the kernel inherits the environment
    monkeypatch.setenv(key, value)
  monkeypatch.setenv("COMPARE_GAN2_NOTEBOOK_DIR", str(work))
  if name in GENERATOR:
    monkeypatch.setenv("COMPARE_GAN2_GENERATOR", generators[GENERATOR[name]][0])
  nb = _read(name)
  before = sorted(os.listdir(COLABS))
  start = time.time()
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()  # raises CellExecutionError when a cell fails
  print(f"{name}: {time.time() - start:.1f} s")
  outputs = _outputs(nb)
  assert not [o for o in outputs if o.output_type == "error"]
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert images, f"{name} showed no image"
  text = _text(nb)
  CHECKS[name](nb, text, generators)
  assert sorted(os.listdir(COLABS)) == before  # nothing written inside the repository
