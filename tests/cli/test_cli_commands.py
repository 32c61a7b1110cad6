"""The subcommand package compare_gan2/cli/: `train` named or not is one
command, every --help works (the top level and train's without TensorFlow),
and no module outside cli/ imports the command line. Each subcommand's own
tests are at tests/cli/test_<module>.py (test_evaluate.py, test_list_parts.py, ...)."""

import ast
import os
import pathlib
import subprocess
import sys

import gin
import pytest

from compare_gan2 import cli
from cli_cases import tiny_gin


REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = REPO / "compare_gan2"


# --- train: the default command ----------------------------------------------------------

def test_train_named_or_not_parses_the_same():
  argv = ["--model_dir", "/tmp/x", "--gin_config", "mog_ring", "--schedule",
          "train_and_eval", "--strategy", "mirrored", "--num_cpu_devices", "2", "--restart"]
  assert cli.parse_args(argv) == cli.parse_args(argv, "train")


def test_train_named_or_not_runs_the_same(tmp_path, monkeypatch):
  """Both calls build the same Runner and run the same schedule."""
  import compare_gan2.runner
  calls = []

  class Recorder:
    def __init__(self, model_dir, **kwargs):
      calls.append(("Runner", model_dir, {k: v for k, v in kwargs.items()
                                          if k != "strategy"}))
      self.model_dir = model_dir

  monkeypatch.setattr(compare_gan2.runner, "Runner", Recorder)
  monkeypatch.setattr(compare_gan2.runner, "run_schedule", lambda runner, schedule, **kw:
                      calls.append(("run_schedule", schedule, kw)))
  argv = ["--model_dir", str(tmp_path / "run"), "--gin_config", tiny_gin(tmp_path),
          "--schedule", "eval_after_train", "--eval_poll_seconds", "3"]
  assert cli.main(argv) == 0
  gin.clear_config()
  assert cli.main(["train"] + argv) == 0
  assert len(calls) == 4 and calls[:2] == calls[2:]
  assert calls[0] == ("Runner", str(tmp_path / "run"),
                      {"fake_data": False, "tfds_data_dir": None, "restart": False})
  assert calls[1][1] == "eval_after_train" and calls[1][2]["poll_seconds"] == 3.0


def test_train_usage_errors_keep_their_prog(capsys):
  for argv, prog in ((["--model_dir", "x", "--restart", "--schedule", "continuous_eval"],
                      "compare_gan2: "),
                     (["train", "--model_dir", "x", "--restart", "--schedule",
                       "continuous_eval"], "compare_gan2 train: ")):
    with pytest.raises(SystemExit) as info:
      cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(prog) and "continuous_eval" in err[0], err


# --- --help ---------------------------------------------------------------------------------

def test_top_level_and_train_help_import_no_tensorflow():
  code = ("import sys\nfrom compare_gan2 import cli\n"
          "for argv in (['--help'], ['train', '--help']):\n"
          "  try:\n    cli.main(argv)\n  except SystemExit as e:\n    assert e.code == 0\n"
          "print('TF LOADED' if 'tensorflow' in sys.modules else 'NO TF')")
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(
      [str(REPO)] + os.environ.get("PYTHONPATH", "").split(os.pathsep))}
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().endswith("NO TF")
  assert "usage: compare_gan2 train" in result.stdout
  for name, command in cli.SUBCOMMANDS.items():
    assert f"  {name}" in result.stdout and command.summary in result.stdout


@pytest.mark.parametrize("name", list(cli.SUBCOMMANDS))
def test_every_subcommand_help(name, capsys):
  with pytest.raises(SystemExit) as info:
    cli.main([name, "--help"])
  assert info.value.code == 0
  out = capsys.readouterr().out
  assert out.startswith(f"usage: compare_gan2 {name} ")
  assert cli.SUBCOMMANDS[name].summary in out


# --- Layering --------------------------------------------------------------------------------

def _imported_modules(path):
  """Absolute module names a file imports (anywhere in it, functions too)."""
  tree = ast.parse(path.read_text(), str(path))
  package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      yield base
      yield from (f"{base}.{alias.name}" for alias in node.names)


def test_no_module_outside_cli_imports_the_command_line():
  offenders = []
  for path in sorted(PACKAGE.rglob("*.py")):
    relative = path.relative_to(PACKAGE)
    # cli/ itself, and `python -m compare_gan2`, which is the command.
    if relative.parts[0] == "cli" or relative == pathlib.Path("__main__.py"):
      continue
    for module in _imported_modules(path):
      if module == "compare_gan2.cli" or module.startswith("compare_gan2.cli."):
        offenders.append(f"{relative}: {module}")
  assert not offenders, offenders
