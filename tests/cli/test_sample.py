"""`compare_gan2 sample`: from an exported generator (written by `compare_gan2
export`) to PNGs or an .npz; earlier samples are not overwritten unasked."""

import os

import numpy as np

from compare_gan2 import cli
from compare_gan2.tools import hub
from hub_cases import runs  # noqa: F401 (fixture)
from run_cases import run_cli


def test_sample_refuses_a_folder_of_earlier_samples(runs, tmp_path, capsys):
  """A second `sample` into the same --out left stale PNGs that `score` then
  read too; now it is refused in one line (nothing changes), and
  --overwrite replaces only the earlier samples."""
  gen, out = runs["uncond"][1], tmp_path / "samples"
  assert cli.main(["sample", "--generator", gen, "--num", "4", "--out", str(out)]) == 0
  (out / "notes.txt").write_text("mine")
  before = {n: (out / n).read_bytes() for n in os.listdir(out)}
  capsys.readouterr()
  assert cli.main(["sample", "--generator", gen, "--num", "2", "--seed", "1",
                   "--out", str(out)]) == 1
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 1 and "FileExistsError" in lines[0] and "--overwrite" in lines[0]
  assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
  assert cli.main(["sample", "--generator", gen, "--num", "2", "--seed", "1",
                   "--out", str(out), "--overwrite"]) == 0
  assert sorted(os.listdir(out)) == ["grid.png", "notes.txt", "sample_00000.png",
                                     "sample_00001.png"]
  npz = tmp_path / "s.npz"
  assert cli.main(["sample", "--generator", gen, "--num", "2", "--out", str(npz)]) == 0
  data = npz.read_bytes()
  assert cli.main(["sample", "--generator", gen, "--num", "3", "--out", str(npz)]) == 1
  assert npz.read_bytes() == data


def test_cli_export_and_sample(runs, tmp_path):
  runner, path = runs["uncond"]
  run_dir = runs["root"] / "uncond"
  run_json = (run_dir / "run.json").read_text()
  exported = str(tmp_path / "cli_export")
  result = run_cli("export", "--model_dir", str(run_dir), "--step", "2", "--out", exported)
  assert result.returncode == 0, result.stderr[-3000:]
  assert (run_dir / "run.json").read_text() == run_json  # the run is untouched
  z, _ = runner.sample_inputs(4)
  np.testing.assert_allclose(hub.load_generator(exported)(z.numpy()),
                             runner.gan.sample(z).numpy(), atol=1e-5)

  out = tmp_path / "samples"
  result = run_cli("sample", "--generator", runs["cond"][1], "--num", "4",
                   "--labels", "1,2", "--seed", "5", "--interpolate", "3",
                   "--out", str(out))
  assert result.returncode == 0, result.stderr[-3000:]
  names = sorted(os.listdir(out))
  assert names == ["grid.png", "interpolation.png"] + [f"sample_{i:05d}.png" for i in range(4)]
  from PIL import Image
  res = runs["cond"][0].info["resolution"]
  assert np.asarray(Image.open(out / "sample_00000.png")).shape == (res, res, 3)
  assert np.asarray(Image.open(out / "interpolation.png")).shape == (
      4 * (res + 1) + 1, 3 * (res + 1) + 1, 3)

  # The same command in-process (a subprocess costs a TensorFlow import).
  npz = tmp_path / "s.npz"
  assert cli.main(["sample", "--generator", exported, "--num", "3", "--seed", "1",
                   "--truncation", "0.5", "--out", str(npz)]) == 0
  data = np.load(npz)
  assert data["images"].shape == (3, 16, 16, 3) and np.abs(data["z"]).max() <= 0.5
  assert data["labels"].tolist() == [-1, -1, -1]  # unconditional
  np.testing.assert_allclose(data["images"], runner.gan.sample(data["z"]).numpy(),
                             atol=1e-5)
  assert cli.main(["sample", "--generator", str(tmp_path / "nothing"),
                   "--out", str(tmp_path / "o")]) == 1
  assert not os.path.exists(tmp_path / "o")
