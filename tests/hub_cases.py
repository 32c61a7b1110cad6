"""Generators to sample from: a tiny unconditional and a tiny conditional run,
exported (the hub library's tests and the `sample` command's)."""

import pytest

from compare_gan2.tools import hub
from run_cases import make_runner


CONDITIONAL = ['dataset.name = "digits"', "ModularGAN.conditional = True",
               "G.batch_norm_fn = @conditional_batch_norm"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """A tiny unconditional and a tiny conditional run, trained 2 steps and
  exported while their gin config is in effect."""
  root = tmp_path_factory.mktemp("hub")
  out = {}
  for name, bindings in (("uncond", []), ("cond", CONDITIONAL)):
    runner = make_runner(root / name, 2, bindings)
    runner.train()
    path = hub.export_generator(runner, str(root / f"{name}_export"))
    out[name] = (runner, path)
  out["root"] = root
  return out
