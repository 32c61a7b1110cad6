"""The subcommand package compare_gan2/cli/: `train` named or not is one
command, `eval` scores a finished run without training it, `list` prints
every registered name, the strategy flags come from one helper, every
--help works (the top level and train's without TensorFlow), and no module
outside cli/ imports the command line."""

import ast
import csv
import os
import pathlib
import subprocess
import sys

import gin
import pytest
import tensorflow as tf

from compare_gan2 import cli
from compare_gan2.core import choices
from compare_gan2.cli import common
from compare_gan2.core.registry import REGISTRIES
from compare_gan2.runner import TRAIN_DONE
from run_cases import TINY_RUN

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = REPO / "compare_gan2"


def tiny_gin(tmp_path, steps=4):
  path = tmp_path / "tiny.gin"
  path.write_text("\n".join(TINY_RUN + [f"options.training_steps = {steps}",
                                        f"eval.cache_dir = '{tmp_path / 'cache'}'"]) + "\n")
  return str(path)


def one_error_line(capsys):
  out = capsys.readouterr()
  lines = out.out.splitlines() + out.err.splitlines()
  errors = [line for line in lines if ": error: " in line]
  assert len(errors) == 1, lines
  return errors[0]


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


# --- eval ---------------------------------------------------------------------------------

def test_eval_scores_a_finished_run_without_training_it(tmp_path, capsys):
  model_dir = tmp_path / "run"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config",
                   tiny_gin(tmp_path)]) == 0
  assert (model_dir / TRAIN_DONE).exists()
  gin.clear_config()
  files_before = sorted(os.listdir(model_dir))
  out = tmp_path / "scores"
  # The run's own operative config first (the model), which has no eval.*
  # settings (training did not evaluate): they come from a file and a binding.
  eval_gin = tmp_path / "eval.gin"
  eval_gin.write_text(f"eval.cache_dir = '{tmp_path / 'cache'}'\neval.num_samples = 32\n"
                      "eval.feature_extractor = 'pixels'\neval.export_generator = False\n")
  assert cli.main(["eval", "--model_dir", str(model_dir), "--output_dir", str(out),
                   "--num_eval_averaging_runs", "1", "--gin_config", str(eval_gin),
                   "--gin_bindings", "eval.metrics = ['swd']"]) == 0
  with open(out / "scores.csv") as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [4] and "swd" in rows[0]
  assert sorted(os.listdir(model_dir)) == files_before  # nothing written to the run
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("model.ckpt-4")
  capsys.readouterr()

  # An unfinished run is refused: `eval` never trains.
  (model_dir / TRAIN_DONE).unlink()
  gin.clear_config()
  assert cli.main(["eval", "--model_dir", str(model_dir), "--output_dir", str(out)]) == 1
  line = one_error_line(capsys)
  assert line.startswith("compare_gan2 eval: error: ") and "has not finished" in line
  assert "continuous_eval" in line


def test_eval_of_a_directory_that_is_no_run(tmp_path, capsys):
  assert cli.main(["eval", "--model_dir", str(tmp_path / "none")]) == 1
  assert "is not a directory" in one_error_line(capsys)
  assert cli.main(["eval", "--model_dir", str(tmp_path), "--schedule",
                   "continuous_eval"]) == 1
  line = one_error_line(capsys)
  assert "no operative_config" in line and "--gin_config" in line


def test_eval_schedules_are_the_runners_that_do_not_train():
  from compare_gan2.cli import evaluate
  assert set(evaluate.EVAL_SCHEDULES) < set(choices.SCHEDULES)
  assert "train" not in evaluate.EVAL_SCHEDULES and "train_and_eval" not in (
      evaluate.EVAL_SCHEDULES)


# --- list ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_list_kind_prints_every_registered_name_with_its_summary(kind, capsys):
  assert cli.main(["list", kind]) == 0
  lines = capsys.readouterr().out.splitlines()
  registry = REGISTRIES[kind]
  assert [line.split()[0] for line in lines] == registry.names()
  starts = {line.index(line.split(maxsplit=1)[1]) for line in lines if len(line.split()) > 1}
  assert len(starts) <= 1  # summaries aligned in one column
  for name, line in zip(registry.names(), lines):
    assert line.endswith(registry.summary(name))


def test_list_without_kind_prints_every_kind(capsys):
  assert cli.main(["list"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert [line.split()[0] for line in lines] == list(REGISTRIES)
  for line, registry in zip(lines, REGISTRIES.values()):
    assert line.split(maxsplit=1)[1] == ", ".join(registry.names())


def test_list_unknown_kind_is_one_line_with_close_matches(capsys):
  assert cli.main(["list", "architectures"]) == 1
  line = one_error_line(capsys)
  assert line.startswith("compare_gan2 list: error: ")
  assert "Did you mean: architecture" in line and "label_source" in line


_USER_PART = '''
from compare_gan2.core.registry import LOSSES


@LOSSES.register("{name}")
def {name}(d_real_logits, d_fake_logits, d_real=None, d_fake=None):
  """A loss of the user's own module. More text."""
  raise NotImplementedError
'''


def test_list_shows_the_parts_of_a_module_file(tmp_path, capsys):
  path = tmp_path / "list_parts_file.py"
  path.write_text(_USER_PART.format(name="list_test_file_loss"))
  assert cli.main(["list", "loss", "--module", str(path)]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert "list_test_file_loss  [list_parts_file] A loss of the user's own module." in lines
  assert any(line.startswith("hinge ") and "[" not in line for line in lines)


def test_list_imports_the_modules_of_a_gin_file(tmp_path, capsys, monkeypatch):
  (tmp_path / "list_parts_gin.py").write_text(_USER_PART.format(name="list_test_gin_loss"))
  gin_file = tmp_path / "run.gin"
  gin_file.write_text("import list_parts_gin  # my parts\nloss.fn = @list_test_gin_loss\n")
  monkeypatch.chdir(tmp_path)  # a run finds the gin file's modules from here too
  monkeypatch.setattr(sys, "path", list(sys.path))
  assert cli.main(["list", "--gin_config", str(gin_file)]) == 0
  loss_line = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith("loss ")]
  assert "list_test_gin_loss" in loss_line[0]


def test_list_module_that_does_not_import_is_one_line(tmp_path, capsys):
  assert cli.main(["list", "--module", "no_such_module_of_parts"]) == 1
  line = one_error_line(capsys)
  assert "Cannot import module 'no_such_module_of_parts'" in line


# --- The strategy flags ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["train", "eval", "pretrain"])
def test_strategy_flags_come_from_one_helper(name, monkeypatch):
  from compare_gan2.runner import strategy as strategy_lib
  parser = cli.build_parser(name)
  flags = {a.dest: a for a in parser._actions}  # pylint: disable=protected-access
  assert flags["strategy"].choices == choices.STRATEGIES
  assert flags["strategy"].default == "default" and flags["tpu"].default is None
  assert flags["num_cpu_devices"].type is int
  calls = []
  monkeypatch.setattr(strategy_lib, "split_cpu", lambda n: calls.append(("split", n)))
  monkeypatch.setattr(strategy_lib, "make_strategy",
                      lambda s, tpu=None: calls.append(("make", s, tpu)) or "strategy")
  args = parser.parse_args(["--strategy", "tpu", "--tpu", "local", "--num_cpu_devices", "2"]
                           + {"train": ["--model_dir", "x"], "eval": ["--model_dir", "x"],
                              "pretrain": ["--out", "x", "--dataset", "digits"]}[name])
  assert common.make_strategy(args) == "strategy"
  assert calls == [("split", 2), ("make", "tpu", "local")]


def test_the_runner_takes_the_flag_choices():
  from compare_gan2.tools.labels import infer
  from compare_gan2.runner import schedules, strategy
  assert schedules.SCHEDULES is choices.SCHEDULES and strategy.STRATEGIES is choices.STRATEGIES
  assert infer.METHODS is choices.LABEL_METHODS


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
