"""benchmarks/metrics_speed.py: its --quick smoke run writes a complete
Inception record (JSON and markdown)."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks"))
import metrics_speed  # noqa: E402


def test_quick_flags_are_tiny():
  args = metrics_speed.parse_args(["--quick", "--out", "x"])
  assert args.images <= 4 and args.net_batch_sizes == [2] and args.repeats == 1
  assert args.fid_dim == 16 and args.out == "x"


@pytest.mark.slow
def test_quick_run_writes_inception_record(tmp_path):
  record = metrics_speed.main(["--quick", "--out", str(tmp_path)])
  rec = record["inception"]
  assert rec["weights"].split(" ")[0] in ("real", "random")
  # Inception v3 at 299: about 5.7 G multiply-adds, 11.5 GFLOP per image.
  assert 11.0 < rec["gflop_per_image"] < 12.0
  for key in ("extract_float32", "extract_bfloat16", "extract_float32_with_trace"):
    assert rec[key]["images_per_sec"] > 0 and 0 < rec[key]["share_of_f32_matmul"]
  assert set(rec["network"]) == {"float32_b2", "bfloat16_b2"}
  assert 0 <= rec["preprocess_share"] < 1
  assert {"far", "near", "within_tolerance"} <= set(rec["bf16_fid"])
  assert "load_start" in rec and "load_end" in rec and "loaded" in rec
  saved = json.load(open(tmp_path / "metrics_speed.json"))
  assert saved[-1]["quick"] is True
  text = (tmp_path / "metrics_speed.md").read_text()
  assert "QUICK" in text and "extract bfloat16" in text
