"""The package as a user installs it: the wheel built from pyproject.toml holds
every file under compare_gan2/ (code, shipped configs and sweep specs,
classifier weights), and the notebooks' install cell installs it in a clean
virtual environment, or stops with one line when its source is not set.

  python -m pytest -q tests/test_packaging.py            # build and inspect the wheel
  python -m pytest -q -m slow tests/test_packaging.py    # install it in a clean venv
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

import compare_gan2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "compare_gan2")
# What the build reads: pyproject.toml (which names README.md), setup.py where
# there is one, and the package.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "compare_gan2")
SOURCE_LINE = re.compile(r'^COMPARE_GAN2_SOURCE = ""', re.MULTILINE)


def install_cell() -> str:
  """The first code cell of colabs/quickstart.ipynb (every notebook's first)."""
  with open(os.path.join(ROOT, "colabs", "quickstart.ipynb")) as f:
    cells = json.load(f)["cells"]
  return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def cell_with_source(source: str) -> str:
  """The install cell with COMPARE_GAN2_SOURCE set to `source`."""
  code, count = SOURCE_LINE.subn(f"COMPARE_GAN2_SOURCE = {source!r}", install_cell())
  assert count == 1, 'the install cell sets COMPARE_GAN2_SOURCE = "" once'
  return code


def _source_files() -> set[str]:
  """Every file under compare_gan2/, as a wheel names it."""
  found = set()
  for directory, dirs, files in os.walk(PACKAGE):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    found.update(os.path.relpath(os.path.join(directory, f), ROOT).replace(os.sep, "/")
                 for f in files if not f.endswith(".pyc"))
  return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
  """The wheel, built from a copy of the build inputs (no stale build/ or
  egg-info of the working tree gets in), with the setuptools installed here."""
  work = tmp_path_factory.mktemp("wheel")
  src = work / "src"
  src.mkdir()
  for name in BUILD_INPUTS:
    path = os.path.join(ROOT, name)
    if not os.path.exists(path):
      continue
    if os.path.isdir(path):
      shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
      shutil.copy(path, src / name)
  result = subprocess.run(
      [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
       "-w", str(work / "dist"), str(src)], capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stdout + result.stderr
  (path,) = (work / "dist").glob("compare_gan2-*.whl")
  return str(path)


def test_wheel_holds_every_file_of_the_package(wheel):
  names = set(zipfile.ZipFile(wheel).namelist())
  missing = sorted(_source_files() - names)
  assert not missing, f"not in the wheel (pyproject.toml's package-data): {missing}"
  # The data files that code finds through __file__, by kind.
  assert "compare_gan2/configs/fewer_labels/methods/s3gan_co_10pct.gin" in names
  assert "compare_gan2/configs/sweeps/digits_study.toml" in names
  assert "compare_gan2/metrics/weights/digits_classifier.weights.h5" in names
  assert "compare_gan2/metrics/weights/accuracies.json" in names


def test_wheel_metadata_version_and_entry_point(wheel):
  version = compare_gan2.__version__
  assert os.path.basename(wheel) == f"compare_gan2-{version}-py3-none-any.whl"
  archive = zipfile.ZipFile(wheel)
  dist_info = f"compare_gan2-{version}.dist-info"
  metadata = archive.read(f"{dist_info}/METADATA").decode()
  assert f"\nVersion: {version}\n" in metadata
  assert "Requires-Dist: tensorflow>=2.18" in metadata
  assert "Provides-Extra: test" in metadata
  entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
  assert "compare_gan2 = compare_gan2.cli:main" in entry_points


# Runs a cell as a notebook kernel does (IPython's run_cell and its error display),
# in a fresh process; `hide` makes `import compare_gan2` fail there.
IPYTHON = """
import sys
from IPython.core.interactiveshell import InteractiveShell
if {hide}:
  sys.modules["compare_gan2"] = None  # `import compare_gan2` raises ImportError
result = InteractiveShell.instance().run_cell(sys.stdin.read())
sys.exit(0 if result.success else 1)
"""


def _run_cell(python: str, code: str, cwd, env: dict | None = None,
              hide: bool = False) -> subprocess.CompletedProcess:
  env = {**(os.environ if env is None else env), "IPYTHONDIR": str(cwd / "ipython")}
  return subprocess.run([python, "-c", IPYTHON.format(hide=hide)], input=code,
                        capture_output=True, text=True, cwd=cwd, env=env, check=False,
                        timeout=900)  # the install cell pip-installs TensorFlow


def test_install_cell_without_source_stops_with_one_line(tmp_path):
  result = _run_cell(sys.executable, install_cell(), tmp_path, hide=True)
  assert result.returncode == 1
  assert result.stdout == (
      "InstallError: compare_gan2 is not installed: set COMPARE_GAN2_SOURCE in the first code "
      "cell to a wheel's path or URL or to git+https://.../compare_gan2, then run that cell "
      "again (docs/notebooks.md).\n"), result.stdout + result.stderr


def test_install_cell_names_a_source_pip_cannot_install(tmp_path):
  missing = str(tmp_path / "compare_gan2-0.0.0-py3-none-any.whl")
  result = _run_cell(sys.executable, cell_with_source(missing), tmp_path,
                     env={**os.environ, "PIP_NO_INDEX": "1"}, hide=True)
  assert result.returncode == 1
  assert "Traceback" not in result.stdout
  lines = result.stdout.strip().splitlines()
  assert lines[-1] == (f"InstallError: pip could not install COMPARE_GAN2_SOURCE = {missing!r} "
                       "(its output is above).")
  assert any(line.startswith("ERROR") for line in lines[:-1])  # pip's own output, above


def test_install_cell_skips_pip_where_compare_gan2_imports(tmp_path):
  # A source pip would fail on: the cell must not run pip at all.
  code = cell_with_source(str(tmp_path / "no_such.whl"))
  result = _run_cell(sys.executable, code, tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
  assert result.returncode == 0, result.stdout + result.stderr
  assert result.stdout == f"compare_gan2 {compare_gan2.__version__} from {PACKAGE}\n"


# --- Slow: a clean virtual environment --------------------------------------------------


def _clean_venv(path) -> str:
  """A venv without compare_gan2 that sees this environment's other packages
  (TensorFlow is not installed again): a .pth file lists the site-packages
  directories. Their own .pth files are not processed, so an editable
  compare_gan2 there (an import hook) stays invisible."""
  subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
  python = os.path.join(path, "bin", "python")
  site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        capture_output=True, text=True, check=True).stdout.strip()
  outer = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
  if any(os.path.exists(os.path.join(d, "compare_gan2", "__init__.py")) for d in outer):
    pytest.skip("compare_gan2 is installed non-editable here; the venv would see it")
  with open(os.path.join(site, "outer_environment.pth"), "w") as f:
    f.write("\n".join(outer) + "\n")
  return python


def _venv_check(venv: str) -> str:
  """Python run in the venv: parses a shipped config through its include of
  fewer_labels/methods/, and scores the shipped digits classifier."""
  return f"""
import json, os
import gin
import numpy as np
import compare_gan2
from compare_gan2.core import config
from compare_gan2.data import get_dataset
from compare_gan2.metrics import classifiers
from compare_gan2.core import config_files
assert compare_gan2.__file__.startswith({venv!r}), compare_gan2.__file__
compare_gan2.parse_gin([config_files.resolve_config("fewer_labels/digits_s3gan_10pct")])
assert gin.query_parameter("S3GAN.self_supervision") == "rotation"  # methods/_s3gan.gin
gin.clear_config()
images, labels = get_dataset("digits").arrays("test")
images = np.asarray(images)
images = (images / 255.0 if images.dtype == np.uint8 else images).astype(np.float32)
accuracy = classifiers.class_accuracy(classifiers.load_classifier("digits"), images, labels)
with open(os.path.join(classifiers.WEIGHTS_DIR, "accuracies.json")) as f:
  recorded = json.load(f)["digits"]["test_accuracy"]
print(json.dumps({{"accuracy": accuracy, "recorded": recorded}}))
"""


@pytest.mark.slow
def test_notebook_install_cell_installs_the_wheel_in_a_clean_venv(wheel, tmp_path):
  venv = str(tmp_path / "venv")
  python = _clean_venv(venv)
  work = tmp_path / "work"  # outside the source tree
  work.mkdir()
  # As if activated: IPython adds $VIRTUAL_ENV's site-packages (with their .pth files).
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env.update(VIRTUAL_ENV=venv, PIP_NO_INDEX="1",  # nothing is downloaded
             TF_CPP_MIN_LOG_LEVEL="2")
  unset = _run_cell(python, install_cell(), work, env)
  assert unset.returncode == 1, unset.stdout + unset.stderr
  assert unset.stdout.startswith("InstallError: compare_gan2 is not installed: set "
                                 "COMPARE_GAN2_SOURCE") and unset.stdout.count("\n") == 1
  installed = _run_cell(python, cell_with_source(wheel), work, env)
  assert installed.returncode == 0, installed.stdout + installed.stderr
  assert installed.stdout.splitlines()[-1].startswith(
      f"compare_gan2 {compare_gan2.__version__} from {venv}"), installed.stdout
  command = os.path.join(venv, "bin", "compare_gan2")
  listed = subprocess.run([command, "list", "architecture"], capture_output=True, text=True,
                          cwd=work, env=env, check=False)
  assert listed.returncode == 0 and "dcgan_arch" in listed.stdout, listed.stderr
  sweep = subprocess.run([command, "sweep", "--spec", "digits_study", "--out",
                          str(work / "sweep"), "--print_commands"], capture_output=True,
                         text=True, cwd=work, env=env, check=False)
  assert sweep.returncode == 0, sweep.stderr
  assert f"--gin_config {venv}" in sweep.stdout  # the shipped config, from the venv
  checked = subprocess.run([python, "-c", _venv_check(venv)], capture_output=True, text=True,
                           cwd=work, env=env, check=False)
  assert checked.returncode == 0, checked.stderr
  scores = json.loads(checked.stdout.splitlines()[-1])
  assert scores["accuracy"] >= scores["recorded"] - 0.01
