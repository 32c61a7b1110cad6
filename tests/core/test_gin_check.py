"""gin_check: typos in gin names get a close match, before TensorFlow loads
(the shipped table of configurables: test_gin_names.py)."""

import json
import os
import subprocess
import sys

import gin
import pytest

import compare_gan2
from compare_gan2.core import config, gin_check
from compare_gan2.core.config_files import CONFIG_DIR, resolve_config
from compare_gan2.core.gin_names import CONFIGURABLES


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TYPOS = {
    "--gin_bindings=optoins.batch_size = 32": "configurable 'optoins'",
    "--gin_bindings=options.trainig_steps = 5": "no parameter 'trainig_steps'",
    "--gin_bindings=loss.fn = @hinje": "reference '@hinje'",
    "--gin_config=quickstrat": "No gin config 'quickstrat'",
    "--gin_bindings=dcgan.Generator.chh = 4": "no parameter 'chh'",
}
CLOSE = ["'options'", "'training_steps'", "'@hinge'", "'quickstart'", "'ch'"]


def _python(code, timeout=120):
  env = {**os.environ, "PYTHONPATH": REPO}
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)
  assert result.returncode == 0, result.stderr
  return result.stdout


def test_typos_get_a_close_match_before_tensorflow_loads(tmp_path):
  code = f"""
import contextlib, io, json, sys
from compare_gan2 import cli
found = []
for flag in {list(TYPOS)!r}:
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    status = cli.main(["--model_dir", {str(tmp_path / "run")!r}, flag])
  found.append([status, out.getvalue().splitlines()])
print(json.dumps(dict(found=found, tf="tensorflow" in sys.modules)))
"""
  result = json.loads(_python(code).splitlines()[-1])
  assert result["tf"] is False
  for (status, lines), needle, close in zip(result["found"], TYPOS.values(), CLOSE):
    assert status == 1 and len(lines) == 1, lines
    assert lines[0].startswith("compare_gan2: error: ") and needle in lines[0], lines
    assert f"Did you mean {close}" in lines[0], lines
  assert not (tmp_path / "run").exists()


def _shipped_gin_files():
  return sorted(os.path.join(d, f) for d, _, files in os.walk(CONFIG_DIR)
                for f in files if f.endswith(".gin"))


def test_every_shipped_config_passes():
  files = _shipped_gin_files()
  assert len(files) > 50
  for path in files:
    gin_check.check([path], table=CONFIGURABLES)


@pytest.mark.parametrize("bindings", [
    ["options.batch_size = 3"], ["loss.fn = @hinge"], ["penalty.fn = @wgangp_penalty()"],
    ["tf.train.AdamOptimizer.beta1 = 0.5"], ["dcgan.Generator.ch = 3"],
    ["ModularGAN.g_lr = 0.1"], ["SSGAN.g_lr = 0.1"], ["G/options.batch_size = 3"],
    ["M = 3", "options.batch_size = %M"], ["eval.metrics = ['fid', {'a': @hinge}]"],
    ["optoins.batch_size = 3"], ["options.trainig_steps = 5"], ["loss.fn = @hinje"],
    ["loss.fn = [@hinge, @hinje]"], ["Generator.ch = 3"], ["z.shape = 3"],
    ["loss.hinge = 3"], ["options.batch_size = = 3"],
])
def test_the_check_agrees_with_gin(bindings):
  """What gin refuses the check refuses, and what gin takes it takes."""
  import compare_gan2  # noqa: F401
  compare_gan2.register_all()
  try:
    gin.parse_config_files_and_bindings([], bindings)
    gin_refuses = False
  except (ValueError, KeyError, SyntaxError):
    gin_refuses = True
  gin.clear_config()
  try:
    gin_check.check([], bindings, CONFIGURABLES)
    check_refuses = False
  except gin_check.GinConfigError:
    check_refuses = True
  assert check_refuses == gin_refuses


def test_a_file_and_its_include_are_named(tmp_path):
  base = tmp_path / "base.gin"
  base.write_text("options.batch_size = 3\n\nloss.fn = @hinje\n")
  top = tmp_path / "top.gin"
  top.write_text(f'include "{base}"\n')
  with pytest.raises(gin_check.GinConfigError, match=f"in {base}, line 3: "
                     "'loss.fn = @hinje'. Did you mean '@hinge'"):
    gin_check.check([str(top)], table=CONFIGURABLES)


def test_a_config_that_imports_modules_is_left_to_gin(tmp_path):
  """An import may register the name (docs/extending.md)."""
  path = tmp_path / "mine.gin"
  path.write_text("import my_package.my_loss\nloss.fn = @my_loss\n")
  gin_check.check([str(path)], table=CONFIGURABLES)


def test_library_parse_words_gin_errors_the_same_way():
  with pytest.raises(gin_check.GinConfigError, match="Did you mean 'training_steps'"):
    compare_gan2.parse_gin([], ["options.trainig_steps = 5"])


def test_config_names_get_a_close_match():
  with pytest.raises(FileNotFoundError, match="Did you mean 'resnet_cifar10'"):
    resolve_config("resnet_cifar")
  with pytest.raises(FileNotFoundError, match="The shipped configs: .*quickstart"):
    resolve_config("zzz_nothing_like_it")


def test_every_shipped_sweep_trial_passes(tmp_path):
  """Sweeps train through the command line: their trials' configs pass too."""
  from compare_gan2.tools.sweep import spec as sweep_spec  # pylint: disable=g-import-not-at-top
  specs = sorted(f for f in os.listdir(os.path.join(CONFIG_DIR, "sweeps"))
                 if f.endswith(".toml"))
  assert specs
  for name in specs:
    for trial in sweep_spec.expand(sweep_spec.load_spec(name), str(tmp_path)):
      gin_check.check(list(trial.gin_configs), list(trial.bindings), CONFIGURABLES)


def test_changed_bindings_of_two_operative_configs():
  old = ("# Parameters for options:\noptions.batch_size = 64\nG/options.z_dim = 8\n"
         "eval.metrics = ['fid',\n    'kid']\nloss.fn = @hinge\nM = 3\n")
  new = ("options.batch_size = 64\nG/options.z_dim = 16\neval.metrics = ['fid', 'kid']\n"
         "loss.fn = @non_saturating\npenalty.fn = @wgangp_penalty()\nM = 3\n")
  assert gin_check.changed_bindings(old, new) == [
      "G/options.z_dim: 8 -> 16", "loss.fn: @hinge -> @non_saturating",
      "penalty.fn: (unset) -> @wgangp_penalty()"]
  assert gin_check.changed_bindings(new, new) == []
