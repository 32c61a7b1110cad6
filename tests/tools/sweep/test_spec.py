"""Sweep specs: grids crossed with seeds, variants, the shipped specs, bad specs."""

import os

import pytest

from compare_gan2.tools.sweep import spec as sweep_spec
from compare_gan2.core import config_files
from sweep_cases import SPEC, write


def test_expand_crosses_grid_and_seeds(tmp_path):
  trials = sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", SPEC)), str(tmp_path / "o"))
  assert [(t.config, t.seed) for t in trials] == [
      ("loss=non_saturating,ModularGAN.g_lr=0.001", 0), ("loss=hinge,ModularGAN.g_lr=0.001", 0),
      ("loss=non_saturating,ModularGAN.g_lr=0.001", 1), ("loss=hinge,ModularGAN.g_lr=0.001", 1)]
  hinge = trials[3]
  assert hinge.bindings == ("options.training_steps = 30", "loss.fn = @hinge",
                            "ModularGAN.g_lr = 0.001")
  assert hinge.model_dir == str(tmp_path / "o" / "trials" / hinge.config / "seed1")
  assert hinge.workdir == str(tmp_path / "o")
  command = hinge.command()
  assert command[command.index("--gin_config") + 1] == config_files.resolve_config("mog_ring")
  bindings = [command[i + 1] for i, a in enumerate(command) if a == "--gin_bindings"]
  assert bindings[-1] == "run_config.tf_random_seed = 1"
  assert "loss.fn = @hinge" in bindings


def test_variants_and_several_configs(tmp_path):
  spec = sweep_spec.load_spec(write(tmp_path / "s.toml", """
configs = ["mog_ring", "mog_grid"]
seeds = [3]
[[variants]]
name = "plain"
[[variants]]
name = "sn"
bindings = ["D.spectral_norm = True"]
"""))
  trials = sweep_spec.expand(spec, str(tmp_path))
  assert [t.config for t in trials] == ["mog_ring,plain", "mog_ring,sn",
                                        "mog_grid,plain", "mog_grid,sn"]
  assert trials[1].bindings == ("D.spectral_norm = True",)
  assert trials[2].gin_configs == (config_files.resolve_config("mog_grid"),)


def test_shipped_specs_expand(tmp_path):
  sizes = {"mog_study": 2 * 4 * 3 * 2 * 3, "mog_study_small": 4 * 3 * 3,
           "mog_pacgan": 4 * 10, "mog_pacgan_budget": 4 * 3, "fewer_labels_digits": 9 * 2}
  for name, size in sizes.items():
    trials = sweep_spec.expand(sweep_spec.load_spec(name), str(tmp_path))
    assert len(trials) == size
    assert len({t.model_dir for t in trials}) == size


@pytest.mark.parametrize("text, message", [
    ("configs = ['mog_ring']\nseed = [1]", "unknown key"),
    ("seeds = [1]", "names no `configs`"),
    ("configs = ['mog_ring']\n[grid]\n'loss.fn' = []", "non-empty list"),
    ("configs = ['mog_ring']\n[[variants]]\nname = 'a'\n[[variants]]\nname = 'a'",
     "distinct `name`s"),
    ("configs = ['mog_ring'\n", "not valid TOML"),
])
def test_bad_specs(tmp_path, text, message):
  with pytest.raises(ValueError, match=message):
    sweep_spec.expand(sweep_spec.load_spec(write(tmp_path / "s.toml", text)), str(tmp_path))


def test_shipped_spec_found_beside_a_folder_of_its_name(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.mkdir("mog_study")  # e.g. the output of an earlier `--out mog_study`
  assert sweep_spec.load_spec("mog_study")["configs"] == ["mog_ring_tuned", "mog_grid_tuned"]


def test_unknown_spec_and_config(tmp_path):
  with pytest.raises(FileNotFoundError, match="mog_study_small"):
    sweep_spec.load_spec("no_such_spec")
  spec = sweep_spec.load_spec(write(tmp_path / "s.toml", "configs = ['no_such_config']"))
  with pytest.raises(FileNotFoundError, match="no_such_config"):
    sweep_spec.expand(spec, str(tmp_path))
