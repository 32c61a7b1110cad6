"""The flag choices the command line offers are the runner's own."""

from compare_gan2.core import choices


def test_the_runner_takes_the_flag_choices():
  from compare_gan2.tools.labels import infer
  from compare_gan2.runner import schedules, strategy
  assert schedules.SCHEDULES is choices.SCHEDULES and strategy.STRATEGIES is choices.STRATEGIES
  assert infer.METHODS is choices.LABEL_METHODS


def test_flag_choices_match_the_runner():
  from compare_gan2.runner.schedules import SCHEDULES
  from compare_gan2.runner.strategy import STRATEGIES
  assert choices.SCHEDULES == SCHEDULES and choices.STRATEGIES == STRATEGIES
