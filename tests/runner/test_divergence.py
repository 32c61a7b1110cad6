"""DivergenceWatch: one warning per stretch above the threshold, and the
end of training repeats it with what to do."""

import logging

import pytest

from compare_gan2.runner.divergence import DivergenceWatch
from run_cases import make_runner
from test_faults import warnings_of


def _warnings(caplog):
  return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _run(caplog, losses, threshold=1e4):
  caplog.set_level("INFO", logger="compare_gan2")
  watch = DivergenceWatch(threshold)
  for step, g_loss in enumerate(losses, 1):
    watch.update({"g_loss": g_loss, "d_loss": 1.0}, step, None)
  watch.report_end(len(losses))
  return _warnings(caplog)


def test_ended_diverged(caplog):
  lines = _run(caplog, [1.0, 3e5, 2e5, 4e5])
  assert len(lines) == 2 and lines[0].startswith("Diverging at step 2: g_loss 3e+05")
  assert lines[1].startswith("Training ended diverged: at step 4 g_loss 4e+05 ")
  assert "since step 2" in lines[1] and "--restart" in lines[1]


def test_diverged_and_came_back(caplog):
  lines = _run(caplog, [3e5, 1.0, 2e5, 1.0, 1.0])
  assert [l.split(":")[0] for l in lines[:2]] == ["Diverging at step 1", "Diverging at step 3"]
  assert lines[2].startswith("The losses diverged during training (2 stretch(es) above "
                             "run_config.divergence_threshold = 10000, the last from step 3)")
  assert "--restart" in lines[2]


@pytest.mark.parametrize("threshold,losses", [(1e4, [1.0, 2.0]), (None, [3e5, 3e5])])
def test_silent_without_divergence_or_threshold(caplog, threshold, losses):
  assert _run(caplog, losses, threshold) == []


@pytest.mark.parametrize("threshold", [None, 1e4])
def test_divergence_is_reported_once_per_stretch(tmp_path, caplog, threshold):
  """A huge learning rate blows the losses up; one warning (or none when
  run_config.divergence_threshold = None)."""
  caplog.set_level("INFO", logger="compare_gan2")
  runner = make_runner(tmp_path, 8, [
      "ModularGAN.g_lr = 1e6", "ModularGAN.d_lr = 1e6", "loss.fn = @hinge",
      "D.spectral_norm = False", f"run_config.divergence_threshold = {threshold}"])
  try:
    runner.train()
  except FloatingPointError:
    pass  # NaN/inf still stops training
  lines = [w for w in warnings_of(caplog) if w.startswith("Diverging")]
  if threshold is None:
    assert not lines
  else:
    assert len(lines) == 1, lines
    assert "divergence_threshold = 10000" in lines[0]
