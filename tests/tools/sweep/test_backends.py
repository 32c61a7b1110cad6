"""`compare_gan2 sweep --print_commands`: the commands of the trials not finished."""

import shlex

from compare_gan2 import cli
from compare_gan2.tools.sweep import spec as sweep_spec
from sweep_cases import SPEC, fake_run, write


def test_print_commands_skips_finished(tmp_path, capsys):
  spec = write(tmp_path / "s.toml", SPEC)
  out = str(tmp_path / "o")
  trials = sweep_spec.expand(sweep_spec.load_spec(spec), out)
  fake_run(trials[0], [1.0], [0.5])
  assert cli.main(["sweep", "--spec", spec, "--out", out, "--print_commands"]) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3
  for line, trial in zip(lines, trials[1:]):
    cd, command = line.split(" && ")
    assert shlex.split(cd) == ["cd", out]
    assert shlex.split(command) == trial.command()
