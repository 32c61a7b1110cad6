"""Evaluation options: an unknown metric name is refused with close matches."""

import pytest

from compare_gan2.core.registry import UnknownNameError
from compare_gan2.metrics import evaluation as evaluation_lib
from run_cases import make_runner


def test_unknown_metric_name(tmp_path):
  with pytest.raises(UnknownNameError, match="Did you mean: fid"):
    make_runner(tmp_path, 2, ['eval.metrics = ["fdi"]'])
    evaluation_lib.eval_options()
