"""`compare_gan2 list`: every registered name with its summary, a user's module
or gin file's parts, unknown kinds in one line."""

import sys

import pytest

from compare_gan2 import cli
from compare_gan2.core.registry import REGISTRIES
from cli_cases import one_error_line


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
