"""Running trials: a finished trial is settled (done, its hparams written)."""

import glob
import os

from compare_gan2.tools.sweep import report as sweep_report
from compare_gan2.tools.sweep import run as sweep_run
from compare_gan2.tools.sweep import spec as sweep_spec
from sweep_cases import SPEC, fake_run, write


def test_finished_trial_gets_hparams_from_the_local_backend(tmp_path):
  """_settle, shared by both backends, marks the trial done and writes its
  hparams event file."""
  trial = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path))[0]
  fake_run(trial, [5.0], [0.5], done=False)
  assert sweep_run._settle(trial, 0, 3.0, 0, 2) is None  # pylint: disable=protected-access
  assert trial.done
  assert glob.glob(os.path.join(trial.model_dir, "*" + sweep_report.HPARAMS_SUFFIX))
