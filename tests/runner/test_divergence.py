"""DivergenceWatch: one warning per stretch above the threshold, and the
end of training repeats it with what to do."""

import logging

import pytest

from compare_gan2.runner.divergence import DivergenceWatch


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
