"""Checks shared by the study benchmarks' tests."""

import csv
import re


def assert_results_written(out: str, page: str) -> None:
  """The script wrote its page to `out`.md and a PNG plot to `out`.png."""
  with open(out + ".md") as f:
    assert f.read() == page
  with open(out + ".png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def read_rows(out: str) -> list[dict[str, str]]:
  """The rows of the table the script wrote to `out`.csv."""
  with open(out + ".csv", newline="") as f:
    return list(csv.DictReader(f))


def without_load(page: str) -> str:
  """`page` without the load average at the time it was written (the same
  study reported twice differs there only)."""
  return re.sub(r"Load average \(1, 5, 15 min; `uptime`\) when this page was written: [^o]*on",
                "", page)
