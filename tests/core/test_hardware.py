"""`run_config.mixed_precision = "auto"`: bfloat16 compute where the CPU has
native bfloat16 instructions, float32 elsewhere."""

import pytest

from compare_gan2.core import hardware
from compare_gan2.runner import run_config

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16
bugs\t\t: spectre_v1
"""


def test_cpu_flags_read_from_cpuinfo(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(CPUINFO)
  flags = hardware.cpu_flags(str(path))
  assert {"avx512_bf16", "amx_bf16", "avx512f"} <= flags
  assert "spectre_v1" not in flags  # the bugs line is not a flag
  assert hardware.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize("flags,native", [
    ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True),
    ({"avx512f", "avx2"}, False), (set(), False)])
def test_native_bfloat16_from_flags(flags, native):
  assert hardware.cpu_has_native_bfloat16({}, frozenset(flags)) is native


def test_environment_overrides_the_flags():
  bf16 = frozenset({"avx512_bf16"})
  assert not hardware.cpu_has_native_bfloat16({hardware.CPU_BFLOAT16_ENV: "0"}, bf16)
  assert hardware.cpu_has_native_bfloat16({hardware.CPU_BFLOAT16_ENV: "1"}, frozenset())
  with pytest.raises(ValueError, match="must be 0 or 1.*'yes'"):
    hardware.cpu_has_native_bfloat16({hardware.CPU_BFLOAT16_ENV: "yes"}, bf16)


@pytest.mark.parametrize("setting,accelerator,flags,expected", [
    (True, False, (), True), (True, True, (), True),
    (False, False, ("avx512_bf16",), False), (False, True, (), False),
    ("auto", False, ("avx512_bf16",), True), ("auto", False, ("amx_bf16",), True),
    ("auto", False, ("avx512f",), False), ("auto", True, ("avx512_bf16",), False)])
def test_resolve(setting, accelerator, flags, expected):
  bf16, why = hardware.resolve_mixed_precision(setting, accelerator, {},
                                               frozenset(flags))
  assert bf16 is expected
  assert "run_config.mixed_precision" in why


@pytest.mark.parametrize("bad", ["bf16", 1, None, "Auto"])
def test_bad_setting_is_one_clear_error(bad):
  with pytest.raises(ValueError, match="must be True, False or \"auto\""):
    hardware.resolve_mixed_precision(bad, False, {}, frozenset())
  with pytest.raises(ValueError, match="run_config.mixed_precision"):
    run_config(mixed_precision=bad)


def test_default_is_auto():
  assert run_config().mixed_precision == "auto"


def test_cpu_strategies_are_not_accelerators(mirrored_strategy):
  import tensorflow as tf
  from compare_gan2.runner import strategy as strategy_lib
  assert not strategy_lib.on_accelerator(tf.distribute.get_strategy())
  assert not strategy_lib.on_accelerator(mirrored_strategy)
