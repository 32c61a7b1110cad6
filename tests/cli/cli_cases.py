"""Helpers of the subcommand tests: a tiny run's gin file, the one error line a
command printed."""

from run_cases import TINY_RUN


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
