"""PyTorch peers of two small compare_gan2 steps, for
benchmarks/small_model_speed.py, written layer for layer as the library's:

- `MogPeer`: the MoG study's step (`mog_ring_tuned` at the study size):
  G = z (16) -> 3 x [linear 64, ReLU] -> linear 2; D = point (2) -> 3 x
  [linear 64, ReLU] -> linear 1 (mlp_arch without normalization). A step is
  `disc_iters` D updates, each on fresh fakes of G (no gradient to G) and a
  real batch, D called once on [reals; fakes], the WGAN loss plus `lamba` x
  WGAN-GP (x_hat = x + a (fake - x), a ~ U[0, 1) per example, mean of
  (sqrt(1e-4 + |dD/dx_hat|^2) - 1)^2, double backward); then a G update
  (-mean D(G(z))), Adam for both, the EMA of G (a lerp).
- `DigitsPeer`: the quickstart's step (dcgan_arch, ch 16, 32x32x1, batch 64):
  G = linear z (64) -> 2x2x128, then four [batch norm (decay 0.9, eps 1e-5),
  ReLU, 5x5 stride-2 transposed conv] (64, 32, 16, 1), (tanh + 1) / 2; D =
  four 5x5 stride-2 convs (16, 32, 64, 128) with leaky ReLU 0.2 and spectral
  norm (one power iteration per forward), linear 512 -> 1 with spectral norm.
  One D update (non-saturating loss, D on [reals; fakes]), one G update,
  Adam, EMA of G.

Both draw their latents (uniform in [-1, 1), as the library's `sample_z`) and
penalty mixes in the step; real batches are drawn once and cycled. torch is
optional: importing this module needs it.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _mlp(inputs: int, hidden: int, layers: int, outputs: int) -> nn.Sequential:
  modules: list[nn.Module] = []
  for i in range(layers):
    modules += [nn.Linear(inputs if i == 0 else hidden, hidden), nn.ReLU()]
  return nn.Sequential(*modules, nn.Linear(hidden, outputs))


class _Peer:
  """Adam on G and D (foreach: torch's fastest CPU Adam), EMA of G."""

  def __init__(self, generator: nn.Module, discriminator: nn.Module, *, lr: float,
               betas: tuple[float, float], ema_decay: float, ema_start_step: int):
    self.generator, self.discriminator = generator.train(), discriminator.train()
    self.ema_generator = copy.deepcopy(generator).requires_grad_(False)
    self.g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, foreach=True)
    self.d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas,
                                  foreach=True)
    self.ema_decay, self.ema_start_step, self.global_step = ema_decay, ema_start_step, 0

  def _update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()

  def _g_update(self, z: torch.Tensor,
                g_loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    d = self.discriminator.requires_grad_(False)
    g_loss = g_loss_fn(d(self.generator(z)))
    self._update(self.g_opt, g_loss)
    d.requires_grad_(True)
    self.global_step += 1
    self._update_ema()
    return g_loss.detach()

  @torch.no_grad()
  def _update_ema(self) -> None:
    decay = self.ema_decay if self.global_step >= self.ema_start_step else 0.0
    torch._foreach_lerp_(list(self.ema_generator.parameters()),  # noqa: SLF001
                         list(self.generator.parameters()), 1.0 - decay)
    for e, w in zip(self.ema_generator.buffers(), self.generator.buffers()):
      e.copy_(w)


class MogPeer(_Peer):
  """mog_ring_tuned's step with the WGAN loss and WGAN-GP (module docstring)."""

  def __init__(self, *, batch_size: int = 64, hidden: int = 64, z_dim: int = 16,
               disc_iters: int = 5, lamba: float = 1.0, seed: int = 0):
    torch.manual_seed(seed)
    super().__init__(_mlp(z_dim, hidden, 3, 2), _mlp(2, hidden, 3, 1), lr=1e-3,
                     betas=(0.5, 0.9), ema_decay=0.995, ema_start_step=1000)
    self.batch_size, self.z_dim = batch_size, z_dim
    self.disc_iters, self.lamba = disc_iters, lamba

  def real_batch(self) -> torch.Tensor:
    """[disc_iters, B, 2]: points of the ring of 8 (radius 2, std 0.02)."""
    k = torch.randint(0, 8, (self.disc_iters, self.batch_size))
    angle = 2 * torch.pi * k / 8
    return 2.0 * torch.stack([angle.cos(), angle.sin()], -1) + 0.02 * torch.randn(
        self.disc_iters, self.batch_size, 2)

  def step(self, reals: torch.Tensor) -> dict[str, torch.Tensor]:
    g, d, n = self.generator, self.discriminator, self.batch_size
    z = torch.rand(self.disc_iters + 1, n, self.z_dim) * 2.0 - 1.0
    alpha = torch.rand(self.disc_iters, n, 1)
    for i in range(self.disc_iters):
      real = reals[i]
      with torch.no_grad():
        fake = g(z[i])
      logits = d(torch.cat([real, fake]))
      d_loss = -logits[:n].mean() + logits[n:].mean()
      x_hat = (real + alpha[i] * (fake - real)).requires_grad_(True)
      grad, = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
      norms = torch.sqrt(1e-4 + grad.square().sum(1))
      d_loss = d_loss + self.lamba * (norms - 1.0).square().mean()
      self._update(self.d_opt, d_loss)
    g_loss = self._g_update(z[-1], lambda logits: -logits.mean())
    return {"d_loss": d_loss.detach(), "g_loss": g_loss}


class _Reshape(nn.Module):
  def __init__(self, *shape: int):
    super().__init__()
    self.shape = shape

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], *self.shape)


class _UnitTanh(nn.Module):
  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(x) + 1.0) / 2.0


def _dcgan_generator(z_dim: int, ch: int, colors: int) -> nn.Sequential:
  widths = [8 * ch, 4 * ch, 2 * ch, ch, colors]
  layers: list[nn.Module] = [nn.Linear(z_dim, 4 * widths[0]), _Reshape(widths[0], 2, 2)]
  for cin, cout in zip(widths, widths[1:]):
    # BN decay 0.9 = torch momentum 0.1; "SAME" 5x5 stride 2 doubles the size.
    layers += [nn.BatchNorm2d(cin, eps=1e-5, momentum=0.1), nn.ReLU(),
               nn.ConvTranspose2d(cin, cout, 5, 2, padding=2, output_padding=1)]
  return nn.Sequential(*layers, _UnitTanh())


def _dcgan_discriminator(ch: int, colors: int) -> nn.Sequential:
  widths = [colors, ch, 2 * ch, 4 * ch, 8 * ch]
  layers: list[nn.Module] = []
  for cin, cout in zip(widths, widths[1:]):
    layers += [spectral_norm(nn.Conv2d(cin, cout, 5, 2, padding=2)), nn.LeakyReLU(0.2)]
  return nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(4 * widths[-1], 1)))


class DigitsPeer(_Peer):
  """The quickstart's step (module docstring)."""

  def __init__(self, *, batch_size: int = 64, ch: int = 16, z_dim: int = 64,
               seed: int = 0):
    torch.manual_seed(seed)
    super().__init__(_dcgan_generator(z_dim, ch, 1), _dcgan_discriminator(ch, 1),
                     lr=1e-3, betas=(0.5, 0.999), ema_decay=0.99, ema_start_step=500)
    self.batch_size, self.z_dim = batch_size, z_dim

  def real_batch(self) -> torch.Tensor:
    return torch.rand(self.batch_size, 1, 32, 32)

  def step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
    n = self.batch_size
    z = torch.rand(2, n, self.z_dim) * 2.0 - 1.0
    with torch.no_grad():
      fake = self.generator(z[0])
    logits = self.discriminator(torch.cat([real, fake]))
    d_loss = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
    self._update(self.d_opt, d_loss)
    g_loss = self._g_update(z[1], lambda logits: F.softplus(-logits).mean())
    return {"d_loss": d_loss.detach(), "g_loss": g_loss}


def steps_per_second(peer: MogPeer | DigitsPeer, steps: int, repeats: int,
                     threads: int = 1) -> list[float]:
  """Steps/s of `repeats` runs of `steps` steps after one warm-up run, on
  `threads` torch threads (1: eager PyTorch as the issue measured it)."""
  torch.set_num_threads(threads)
  batches = [peer.real_batch() for _ in range(4)]
  rates = []
  for r in range(repeats + 1):
    start = time.perf_counter()
    for i in range(steps):
      metrics = peer.step(batches[i % len(batches)])
    float(metrics["d_loss"])
    if r:
      rates.append(steps / (time.perf_counter() - start))
  return rates


def info() -> dict[str, Any]:
  return {"torch": torch.__version__, "threads": torch.get_num_threads()}
