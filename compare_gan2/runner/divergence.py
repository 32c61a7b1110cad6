"""Divergence without NaN: losses above `run_config.divergence_threshold`
get one warning per stretch while training, and the run's end repeats it
(with what to do), so a diverged run does not end in a plain "Done"."""

from __future__ import annotations

import logging

logger = logging.getLogger("compare_gan2")


def _detail(values: dict[str, float], names: list[str]) -> str:
  return ", ".join(f"{k} {values[k]:.3g}" for k in names)


class DivergenceWatch:
  """Follows the losses of one training call (`update` after each chunk of
  steps, `report_end` when training ends).

  Args:
    threshold: float or None. |loss| above it counts as diverging; None
      turns the watch off.
  """

  def __init__(self, threshold: float | None):
    self.threshold = threshold
    self.diverging = False  # the last losses seen are above the threshold
    self.since: int | None = None  # where the newest stretch began
    self.stretches = 0
    self.last_detail = ""

  def update(self, values: dict[str, float], step: int, checkpoint: str | None) -> None:
    """One warning when the losses first exceed the threshold (again only
    after they came back under it). `checkpoint`: the newest saved."""
    if self.threshold is None:
      return
    big = sorted(k for k, v in values.items() if abs(v) > self.threshold)
    if big and not self.diverging:
      self.stretches, self.since = self.stretches + 1, step
      logger.warning(
          "Diverging at step %d: %s (|value| > run_config.divergence_threshold "
          "= %g). Training goes on (it stops on NaN/inf); consider a lower "
          "learning rate, resuming from %s.", step, _detail(values, big),
          self.threshold, checkpoint or "step 0")
    if big:
      self.last_detail = _detail(values, big)
    self.diverging = bool(big)

  def report_end(self, step: int) -> None:
    """The warning again when training ends, if the losses diverged."""
    if not self.stretches:
      return
    limit = f"run_config.divergence_threshold = {self.threshold:g}"
    restart = ("train again with a lower learning rate and --restart (from step 0; "
               "this run moves to restarted-<time>/ inside the run directory)")
    if self.diverging:
      logger.warning("Training ended diverged: at step %d %s (|value| > %s since step "
                     "%d). Its checkpoints are likely useless: %s.", step,
                     self.last_detail, limit, self.since, restart)
    else:
      logger.warning("The losses diverged during training (%d stretch(es) above %s, "
                     "the last from step %d) and came back under it. If the samples "
                     "are poor, %s.", self.stretches, limit, self.since, restart)
