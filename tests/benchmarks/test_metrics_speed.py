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


def test_prdc_rows_extrapolate_what_does_not_fit(monkeypatch):
  """A size whose N^2 extrapolation exceeds the time left is recorded, not run."""
  calls = []

  class FakePool:  # runs the child here, with a fixed time per call
    def __init__(self, *_):
      pass

    def __enter__(self):
      return self

    def __exit__(self, *_):
      return False

    def apply_async(self, fn, args):
      calls.append(args)
      n, dim, dtype, metric = args
      row = {"n": n, "dim": dim, "dtype": dtype, "metric": metric,
             "seconds": 10.0, "rss_features_mb": 1, "peak_rss_mb": 2}
      return type("Result", (), {"get": lambda self, timeout: row})()

  monkeypatch.setattr(metrics_speed.multiprocessing, "get_context",
                      lambda _: type("Ctx", (), {"Pool": FakePool})())
  rows = metrics_speed.time_prdc([100, 200, 1000], 8, ["float32"], max_seconds=100)
  # The fake calls take no wall time, so 100 s stay left: 200 runs (10 s x
  # (200/100)^2 = 40 s extrapolated), 1000 does not (10 s x 5^2 = 250 s).
  assert [(a[0], a[3]) for a in calls] == [
      (100, "precision_recall"), (100, "density_coverage"),
      (200, "precision_recall"), (200, "density_coverage")]
  skipped = [r for r in rows if r.get("skipped")]
  assert [(r["n"], r["extrapolated_s"]) for r in skipped] == [(1000, 250), (1000, 250)]
  table = "\n".join(metrics_speed.prdc_table(rows))
  assert "not run: ~250 s extrapolated" in table


@pytest.mark.slow
def test_quick_prdc_run_writes_its_rows(tmp_path):
  record = metrics_speed.main(["--quick", "--skip_fid", "--skip_inception",
                               "--prdc_sizes", "1", "--prdc_dtypes", "float32",
                               "--out", str(tmp_path)])
  rows = record["prdc"]
  assert [(r["n"], r["metric"]) for r in rows] == [
      (50, "precision_recall"), (50, "density_coverage"),
      (100, "precision_recall"), (100, "density_coverage")]
  assert all(r["seconds"] > 0 and r["peak_rss_mb"] >= r["rss_features_mb"] for r in rows)
  assert "--prdc_sizes" in record["command"] and "load average" in record["uptime"]
  text = (tmp_path / "metrics_speed.md").read_text()
  assert "| precision_recall | 100 | 16 | float32 |" in text
