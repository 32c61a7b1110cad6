"""The flags and checks the subcommands share (cli/common.py)."""

import json

import pytest

import compare_gan2
from compare_gan2 import cli
from compare_gan2.core import choices
from compare_gan2.cli import common
from test_cli_reliability import assert_one_error_line, run_main, tiny_gin


@pytest.mark.parametrize("name", ["train", "eval", "pretrain"])
def test_strategy_flags_come_from_one_helper(name, monkeypatch):
  from compare_gan2.runner import strategy as strategy_lib
  parser = cli.build_parser(name)
  flags = {a.dest: a for a in parser._actions}  # pylint: disable=protected-access
  assert flags["strategy"].choices == choices.STRATEGIES
  assert flags["strategy"].default == "default" and flags["tpu"].default is None
  assert flags["num_cpu_devices"].type is int
  calls = []
  monkeypatch.setattr(strategy_lib, "split_cpu", lambda n: calls.append(("split", n)))
  monkeypatch.setattr(strategy_lib, "make_strategy",
                      lambda s, tpu=None: calls.append(("make", s, tpu)) or "strategy")
  args = parser.parse_args(["--strategy", "tpu", "--tpu", "local", "--num_cpu_devices", "2"]
                           + {"train": ["--model_dir", "x"], "eval": ["--model_dir", "x"],
                              "pretrain": ["--out", "x", "--dataset", "digits"]}[name])
  assert common.make_strategy(args) == "strategy"
  assert calls == [("split", 2), ("make", "tpu", "local")]


def test_run_json_records_fake_data_and_a_changed_flag_is_refused(tmp_path, capsys):
  import gin
  from compare_gan2.core import config
  from compare_gan2.runner import Runner
  gin.clear_config()
  compare_gan2.parse_gin([tiny_gin(tmp_path)], [])
  model_dir = tmp_path / "run"
  Runner(str(model_dir), fake_data=True)
  info = json.loads((model_dir / "run.json").read_text())
  assert info["fake_data"] is True
  # Without checkpoints the flag may change; with one it may not.
  common.check_fake_data_flag(str(model_dir), False)
  (model_dir / "model.ckpt-2.index").write_bytes(b"")
  (model_dir / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-2"\n')
  common.check_fake_data_flag(str(model_dir), True)
  gin.clear_config()
  code, lines = run_main(capsys, ["--model_dir", str(model_dir), "--gin_config",
                                  tiny_gin(tmp_path)])
  assert_one_error_line(code, lines, "trained on random (fake) data",
                        "pass --data_fake_dataset")
  info["fake_data"] = False
  (model_dir / "run.json").write_text(json.dumps(info))
  with pytest.raises(ValueError, match="drop --data_fake_dataset"):
    common.check_fake_data_flag(str(model_dir), True)
  del info["fake_data"]  # a run.json from before the field: not checked
  (model_dir / "run.json").write_text(json.dumps(info))
  common.check_fake_data_flag(str(model_dir), True)
