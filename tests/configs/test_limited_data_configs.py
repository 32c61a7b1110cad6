"""The limited-data configs (LeCam, LeCam + DiffAugment, bCR; issue 29 item 5):
google/lecam-gan's lc-*.sh scripts are its DiffAugment-*.sh scripts plus
`--LC 0.3`, so each LeCam config must bind exactly what its DiffAugment
config binds, plus the regularizer (and, without DiffAugment, the policy
off); the bCR configs add bCR at the paper's weights to the networks they
name; the digits variants add the same terms to the overfitting setup."""

import gin
import pytest

import compare_gan2
from compare_gan2.core import config
from compare_gan2.core.config_files import resolve_config
from compare_gan2.data import get_dataset

LECAM = {"ModularGAN.d_regularizer": "'lecam_biggan'", "lecam_biggan.weight": "0.3"}
BCR = {"ModularGAN.d_regularizer": "'bcr'", "bcr.lambda_real": "10.0",
       "bcr.lambda_fake": "10.0"}
NO_POLICY = {"DiffAugment.policy": "''"}


def _bindings(name):
  """Every binding after parsing config `name`: {"name.param": repr} (the
  configurable's short name)."""
  gin.clear_config()
  compare_gan2.parse_gin([resolve_config(name)], [])
  return {(f"{scope}/" if scope else "") + f"{selector.split('.')[-1]}.{param}": repr(value)
          for (scope, selector), params in gin.config._CONFIG.items()  # noqa: SLF001
          for param, value in params.items()}


def _added(name, base):
  """The bindings `name` has that `base` lacks or binds otherwise."""
  mine, theirs = _bindings(name), _bindings(base)
  assert set(theirs) <= set(mine), set(theirs) - set(mine)
  return {k: v for k, v in mine.items() if theirs.get(k) != v}


@pytest.mark.parametrize("suffix", ["", "_20pct", "_10pct"])
def test_lecam_configs_are_the_diffaugment_scripts_plus_lc(suffix):
  assert _added(f"lecam_diffaugment_biggan_cifar10{suffix}",
                f"diffaugment_biggan_cifar10{suffix}") == LECAM
  assert _added(f"lecam_biggan_cifar10{suffix}",
                f"diffaugment_biggan_cifar10{suffix}") == {**LECAM, **NO_POLICY}


@pytest.mark.parametrize("suffix, fraction, steps", [
    ("", None, 250000), ("_20pct", 0.2, 250000), ("_10pct", 0.1, 125000)])
def test_lecam_configs_scripts_settings(suffix, fraction, steps):
  """--num_samples 10000 / 5000 of 50000 and --num_epochs 1000 / 5000 at 4 D
  steps of 50 images per iteration; float32 as the original."""
  for name in (f"lecam_biggan_cifar10{suffix}", f"lecam_diffaugment_biggan_cifar10{suffix}"):
    gin.clear_config()
    compare_gan2.parse_gin([resolve_config(name)], [])
    q = gin.query_parameter
    try:
      got = q("dataset.train_fraction")
    except ValueError:
      got = None
    assert got == fraction
    assert q("options.training_steps") == steps
    assert q("options.disc_iters") == 4 and q("options.batch_size") == 50
    assert q("run_config.mixed_precision") is False
    assert q("DiffAugment.policy") == ("translation,cutout" if "diffaugment" in name
                                       else "")


def test_bcr_configs_add_bcr_to_the_networks_they_name():
  assert _added("bcr_biggan_cifar10", "diffaugment_biggan_cifar10") == {**BCR, **NO_POLICY}
  assert _added("bcr_sndcgan_cifar10", "sndcgan_celebahq128") == {
      **BCR, "dataset.name": "'cifar10'"}


LECAM_DIGITS = {**LECAM, "lecam_biggan.start_step": "100"}  # 1000 of 3000 steps: late


@pytest.mark.parametrize("name, added", [
    ("lecam_digits", LECAM_DIGITS), ("bcr_digits", BCR),
    ("lecam_diffaugment_digits", {**LECAM_DIGITS,
                                  "DiffAugment.policy": "'translation,cutout'"})])
def test_digits_variants_add_the_terms_to_the_overfit_setup(name, added):
  assert _added(name, "diffaugment_overfit_digits") == added
  gin.clear_config()
  compare_gan2.parse_gin([resolve_config(name)], [])
  assert get_dataset().num_train_examples == 100
  assert set(gin.query_parameter("eval.metrics")) == {"fid", "d_overfit"}
