"""benchmarks/small_model_speed.py: its PyTorch peers have the library's
layers (the same weight shapes as the MoG study's and the quickstart's
networks), and its --quick run writes a record."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
torch = pytest.importorskip("torch")
import small_model_speed  # noqa: E402
import small_peers  # noqa: E402


def _library_sizes(model):
  """Sorted element counts of G's and D's trainable weights."""
  gan = small_model_speed.build(model, ["options.training_steps = 1"]).gan
  return [sorted(int(np.prod(v.shape)) for v in net.trainable_variables)
          for net in (gan.generator, gan.discriminator)]


@pytest.mark.parametrize("model, make", [("mog", small_peers.MogPeer),
                                         ("digits", small_peers.DigitsPeer)])
def test_peers_have_the_library_weights(model, make):
  peer = make()
  sizes = [sorted(p.numel() for p in net.parameters())
           for net in (peer.generator, peer.discriminator)]
  assert sizes == _library_sizes(model)
  # One step runs and returns finite losses.
  metrics = peer.step(peer.real_batch())
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert peer.global_step == 1


def test_mog_peer_penalty_is_wgan_gp():
  """The peer's D loss is the WGAN loss plus lamba * WGAN-GP: with lamba 0
  and lamba 1 on the same weights and draws, the difference is the
  penalty, mean((sqrt(1e-4 + |grad|^2) - 1)^2) >= 0, recomputed here."""
  losses = []
  for lamba in (0.0, 1.0):
    peer = small_peers.MogPeer(lamba=lamba, disc_iters=1, seed=3)
    torch.manual_seed(5)
    reals = peer.real_batch()
    torch.manual_seed(7)
    losses.append(float(peer.step(reals)["d_loss"]))
  peer = small_peers.MogPeer(disc_iters=1, seed=3)
  torch.manual_seed(5)
  reals = peer.real_batch()[0]
  torch.manual_seed(7)
  z = torch.rand(2, 64, 16) * 2.0 - 1.0
  alpha = torch.rand(1, 64, 1)[0]
  fake = peer.generator(z[0]).detach()
  x_hat = (reals + alpha * (fake - reals)).requires_grad_(True)
  grad, = torch.autograd.grad(peer.discriminator(x_hat).sum(), x_hat)
  penalty = float(((1e-4 + grad.square().sum(1)).sqrt() - 1.0).square().mean())
  np.testing.assert_allclose(losses[1] - losses[0], penalty, rtol=1e-4)


@pytest.mark.slow
def test_quick_run_writes_a_record(tmp_path):
  out = str(tmp_path / "speed")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "benchmarks", "small_model_speed.py"),
       "--quick", "--models", "mog", "--out", out],
      capture_output=True, text=True, cwd=ROOT,
      env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  record = json.load(open(out + ".json"))[-1]
  library = [r for r in record["rows"] if r["impl"] == "library"]
  assert {r["compile_loop"] for r in library} == {False, True}  # mog has both
  assert all(r["steps_per_s"] > 0 and r["vs_torch_1_thread"] > 0 for r in library)
  assert record["load_average_start"] >= 0 and "float32" in {r["precision"] for r in library}
  text = open(out + ".md").read()
  assert "vs torch (1 thread)" in text and "load average" in text


def test_markdown_shows_the_baseline_table():
  """--baseline: the other code's record follows the latest one's table."""
  def record(rate):
    return {"date": "d", "cores": 2, "machine": "m", "load_average_start": 1.0,
            "load_average_end": 2.0, "tensorflow": "t", "command": "c",
            "matmul": {"n": 8, "tf_gflops": 1.0},
            "rows": [{"model": "mog", "impl": "library", "compile_loop": False,
                      "precision": "float32", "steps_per_s": rate,
                      "vs_torch_1_thread": rate / 10}]}
  now = record(400.0)
  now.update(baseline=record(40.0), baseline_code="main at abc")
  text = small_model_speed.markdown(now)
  before = text.index("## Before: main at abc")
  assert "| 400.0 | 40.00x |" in text[:before] and "| 40.0 | 4.00x |" in text[before:]
