"""Every shipped config named after a paper or an original computes in float32,
as the original did, even on a CPU whose native bfloat16 makes
`run_config.mixed_precision = "auto"` choose bfloat16; the library's own
CPU-scale configs keep "auto". docs/fidelity.md lists both groups."""

import pathlib

import pytest

import compare_gan2
import compare_gan2.runner  # noqa: F401  (registers run_config)
from compare_gan2.core import config, hardware
from compare_gan2.core.config_files import resolve_config, shipped_configs
from compare_gan2.runner.settings import run_config

FIDELITY = pathlib.Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"

# Named after a paper or an original: float32 (those that include them too).
PAPER = {"biggan_imagenet128", "dcgan_celeba64", "resnet_cifar10",
         "resnet_lsun-bedroom128", "sndcgan_celebahq128", "ssgan_cifar10",
         "progan_celebahq", "progan_cifar10", "mog_ring_pacgan", "mog_grid_pacgan",
         "mog_ring_pacgan2", "mog_grid_pacgan2",
         "ada_biggan_cifar10"}
PAPER |= {n for n in shipped_configs()
          if n.startswith(("diffaugment_biggan_", "fewer_labels/imagenet128_",
                           "lecam_biggan_cifar10", "lecam_diffaugment_biggan_cifar10"))}
PAPER |= {"bcr_biggan_cifar10", "bcr_sndcgan_cifar10"}
# The library's own small configs (CPU scale, embedded data): "auto", except
# the 2-D mixtures, which pin float32 for their own reason (mog_ring.gin).
OWN = {"quickstart", "ada_digits", "diffaugment_digits", "diffaugment_shapes",
       "diffaugment_lowshot", "diffaugment_overfit_digits", "progan_shapes",
       "lecam_digits", "lecam_diffaugment_digits", "bcr_digits",
       "mog_ring", "mog_grid", "mog_ring_tuned", "mog_grid_tuned"}
OWN |= {n for n in shipped_configs() if n.startswith("fewer_labels/digits_")}
BFLOAT16_CPU = frozenset({"avx512f", "avx512_bf16", "amx_bf16"})


def _compute_dtype(name):
  """The format a run of `name` computes in on a CPU with native bfloat16."""
  compare_gan2.parse_gin([resolve_config(name)], [])
  setting = run_config().mixed_precision
  bf16, _ = hardware.resolve_mixed_precision(setting, on_accelerator=False,
                                             environ={}, flags=BFLOAT16_CPU)
  return "bfloat16" if bf16 else "float32"


def test_every_shipped_config_is_classified():
  assert not PAPER & OWN
  assert set(shipped_configs()) == PAPER | OWN


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_configs_compute_in_float32_on_a_bfloat16_cpu(name):
  assert _compute_dtype(name) == "float32"


@pytest.mark.parametrize("name", ["quickstart", "diffaugment_overfit_digits",
                                  "fewer_labels/digits_s3gan_10pct", "lecam_digits",
                                  "bcr_digits"])
def test_own_configs_keep_auto(name):
  """The same resolution gives bfloat16 where nothing pins float32."""
  assert _compute_dtype(name) == "bfloat16"


def test_an_opt_in_binding_gives_bfloat16():
  compare_gan2.parse_gin([resolve_config("resnet_cifar10")],
               ["run_config.mixed_precision = True"])
  assert run_config().mixed_precision is True


def test_fidelity_md_lists_both_groups():
  """The section names each standalone config of either group (the families
  diffaugment_biggan_*, fewer_labels/imagenet128_*, fewer_labels/digits_*
  by their prefix)."""
  section = FIDELITY.read_text().split("## Compute precision", 1)[1]
  section = section.split("\n## ", 1)[0]
  families = ("diffaugment_biggan_", "fewer_labels/imagenet128_",
              "fewer_labels/digits_", "lecam_biggan_cifar10",
              "lecam_diffaugment_biggan_cifar10")
  for name in sorted(PAPER | OWN):
    shown = next((f + "*" for f in families if name.startswith(f)), name)
    assert f"`{shown}`" in section, name
