"""`compare_gan2 score` (tools/score.py behind it): folders against folders or a
dataset, the sample grid skipped, memory checked before loading, one-line errors."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from compare_gan2 import cli
from image_cases import _write_images
from test_cli_reliability import run_main


def test_disk_full_in_a_subcommand_names_its_output(tmp_path, capsys):
  folder = _write_images(tmp_path / "fake", 4)
  code, lines = run_main(capsys, ["score", "--real", str(folder), "--fake", str(folder),
                                  "--resolution", "4", "--feature_extractor", "pixels",
                                  "--metrics", "kid", "--output", "/dev/full"])
  assert code == 1
  errors = [line for line in lines if ": error: " in line]
  assert errors == ["compare_gan2 score: error: OSError: [Errno 28] No space left on device"
                    " (while writing --output '/dev/full')"]


def test_score_skips_the_sample_grid_and_warns_on_few_samples(tmp_path, capsys):
  from compare_gan2.tools import sample
  folder = _write_images(tmp_path / "samples", 20, size=32, grey=True)
  Image.fromarray(np.zeros([64, 64], np.uint8)).save(folder / sample.GRID_FILE)
  Image.fromarray(np.zeros([64, 64], np.uint8)).save(folder / sample.INTERPOLATION_FILE)
  out = tmp_path / "scores.json"
  assert cli.main(["score", "--real", "digits", "--fake", str(folder), "--metrics", "fid",
                   "--feature_extractor", "classifier", "--output", str(out),
                   "--gin_bindings", f"eval.cache_dir = '{tmp_path / 'cache'}'"]) == 0
  result = json.loads(out.read_text())
  assert result["num_samples"] == 20
  assert sorted(os.path.basename(f) for f in result["excluded_files"]) == [
      "grid.png", "interpolation.png"]
  assert len(result["warnings"]) == 1 and "20 samples with 128" in result["warnings"][0]
  assert "Warning: FID from 20 samples" in capsys.readouterr().out


def test_pixel_features_too_large_for_memory_are_refused_before_loading(tmp_path, capsys):
  real = _write_images(tmp_path / "real", 3)
  fake = _write_images(tmp_path / "fake", 3)
  code, lines = run_main(capsys, ["score", "--real", str(real), "--fake", str(fake),
                                  "--feature_extractor", "pixels"])
  assert code == 1
  errors = [line for line in lines if ": error: " in line]
  assert len(errors) == 1 and "MemoryError" in errors[0], lines
  assert "299x299x3" in errors[0] and "268203 pixel features" in errors[0]
  assert "--resolution" in errors[0]


def test_memory_needed_counts_the_covariances():
  from compare_gan2.tools.score import memory_needed
  d = 299 * 299 * 3
  assert memory_needed(10, 299, 3, pixel_features=True, fid=True) == (
      10 * d * 5 + 10 * d * 8 + 3 * d * d * 8)
  assert memory_needed(10, 299, 3, pixel_features=False, fid=True) == 10 * d * 5
  assert memory_needed(10, 299, 3, pixel_features=True, fid=False) == 10 * d * 13


def test_score_folder_against_dataset(tmp_path, capsys):
  """`compare_gan2 score`: FID/KID of a folder of PNGs against `digits`,
  checked against the same metrics on the arrays written."""
  from PIL import Image
  from compare_gan2.data import get_dataset
  from compare_gan2.metrics import frechet_distance, kernel_distance
  digits = get_dataset("digits")
  train = digits.arrays("train")[0][:100]
  train = (train * 255).round().astype(np.uint8) if train.dtype.kind == "f" else train
  folder = tmp_path / "fake"
  folder.mkdir()
  for i, image in enumerate(train):
    Image.fromarray(image[..., 0]).save(folder / f"{i:03d}.png")
  (folder / "broken.png").write_bytes(b"not a png")
  out = tmp_path / "scores.json"
  assert cli.main(["score", "--real", "digits", "--fake", str(folder), "--metrics",
                   "fid,kid", "--feature_extractor", "pixels", "--output", str(out),
                   "--gin_bindings", f"eval.cache_dir = '{tmp_path / 'cache'}'"]) == 0
  result = json.loads(out.read_text())
  assert '"fid"' in capsys.readouterr().out  # printed too
  real = np.concatenate([x.numpy() for x, _ in digits.eval_input_fn(batch_size=100)])[:100]
  fake = train.astype(np.float32) / 255.0
  assert result["num_samples"] == 100
  assert result["fid"] == pytest.approx(
      frechet_distance(real.reshape(100, -1), fake.reshape(100, -1)), rel=1e-4)
  assert result["kid"] == pytest.approx(
      kernel_distance(real.reshape(100, -1), fake.reshape(100, -1))[0], rel=1e-3)
  assert any("broken.png" in f for f in result["skipped_files"])


def test_score_errors(tmp_path):
  assert cli.main(["score", "--real", "digitz", "--fake", str(tmp_path)]) == 1
