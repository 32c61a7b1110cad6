"""What this machine computes natively: decides `run_config.mixed_precision
= "auto"` (bfloat16 compute where the CPU has bfloat16 instructions).

TF-free (layer 1): reads the CPU flags the kernel reports.
"""
from __future__ import annotations

import os
from typing import Mapping

# x86 flags of native bfloat16 arithmetic: AVX-512 BF16 dot products (Cooper
# Lake, Zen 4 and later) and AMX tiles (Sapphire Rapids and later). oneDNN,
# which TensorFlow's CPU kernels use, runs bfloat16 convolutions and matmuls
# on them at about twice the float32 rate (benchmarks/train_speed.py).
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# "1" or "0" overrides the detection (the test suite sets "0": float32
# numerics whatever the CPU).
CPU_BFLOAT16_ENV = "COMPARE_GAN2_CPU_BFLOAT16"


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
  """The CPU's feature flags (Linux); empty where the file is unreadable."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith(("flags", "Features")):
          return frozenset(line.split(":", 1)[1].split())
  except OSError:
    pass
  return frozenset()


def cpu_has_native_bfloat16(environ: Mapping[str, str] | None = None,
                            flags: frozenset[str] | None = None) -> bool:
  """Whether the CPU has bfloat16 instructions ($COMPARE_GAN2_CPU_BFLOAT16
  = 1 or 0 overrides)."""
  environ = os.environ if environ is None else environ
  value = environ.get(CPU_BFLOAT16_ENV)
  if value is not None:
    if value not in ("0", "1"):
      raise ValueError(f"${CPU_BFLOAT16_ENV} must be 0 or 1. Received: {value!r}")
    return value == "1"
  flags = cpu_flags() if flags is None else flags
  return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def check_mixed_precision(setting: bool | str) -> None:
  # `is` for the booleans: 1 and 0 must not pass as True and False.
  if not (setting is True or setting is False or setting == "auto"):
    raise ValueError('`run_config.mixed_precision` must be True, False or "auto". '
                     f"Received: {setting!r}")


def resolve_mixed_precision(setting: bool | str, on_accelerator: bool,
                            environ: Mapping[str, str] | None = None,
                            flags: frozenset[str] | None = None) -> tuple[bool, str]:
  """(compute in bfloat16?, why, for the start-up line) of
  `run_config.mixed_precision`: True and False are kept; "auto" is bfloat16
  on a CPU with native bfloat16 and float32 elsewhere (GPUs and TPUs keep
  float32 unless asked)."""
  check_mixed_precision(setting)
  if setting is True or setting is False:
    return setting, f"run_config.mixed_precision = {setting}"
  if on_accelerator:
    return False, ('run_config.mixed_precision = "auto": float32 on GPUs and TPUs; '
                   "True computes in bfloat16")
  if cpu_has_native_bfloat16(environ, flags):
    return True, ('run_config.mixed_precision = "auto": the CPU has native bfloat16 '
                  "(AVX512_BF16/AMX); False keeps float32")
  return False, 'run_config.mixed_precision = "auto": the CPU has no native bfloat16'
