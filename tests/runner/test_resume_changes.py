"""A resumed run logs every gin binding that differs from the run's previous
segment (a changed loss was accepted silently)."""

import logging

from run_cases import make_runner


def test_changed_bindings_are_logged_on_resume(tmp_path, caplog):
  caplog.set_level("INFO", logger="compare_gan2")
  make_runner(tmp_path / "run", 4).train()
  caplog.clear()
  make_runner(tmp_path / "run", 8).train()  # the same config, more steps
  changes = [r.getMessage() for r in caplog.records if "Changed on resume" in r.getMessage()]
  assert changes == ["Changed on resume at step 4: options.training_steps: 4 -> 8"]
  caplog.clear()
  make_runner(tmp_path / "run", 8 + 4, ["loss.fn = @hinge"]).train()
  changes = [r.getMessage() for r in caplog.records if "Changed on resume" in r.getMessage()]
  assert changes == ["Changed on resume at step 8: loss.fn: 'non_saturating' -> @hinge",
                     "Changed on resume at step 8: options.training_steps: 8 -> 12"]
  assert all(r.levelno == logging.INFO for r in caplog.records
             if "Changed on resume" in r.getMessage())
