"""PyTorch peer of compare_gan2's resnet_cifar_arch training step, for
benchmarks/train_speed.py.

The same networks as compare_gan2/architectures/resnet_cifar.py at the same
widths, layer for layer:
  G: linear z -> 4x4xch, three up-sampling ResNet blocks (conditional BN, ReLU,
     nearest 2x, conv3x3, conditional BN, ReLU, conv3x3; 1x1 conv shortcut),
     conditional BN, ReLU, conv3x3 -> colors, (tanh + 1) / 2.
  D: four ResNet blocks (ReLU, conv3x3, ReLU, conv3x3, 2x2 average pool for the
     first two; 1x1 conv shortcut), ReLU, spatial mean, linear plus projection
     of the one-hot label.
Conditional BN is the library's: batch standardisation without affine, then
x * (1 + gamma(y)) + beta(y) with bias-free linear gamma and beta. Spectral
norm is `torch.nn.utils.parametrizations.spectral_norm` (one power iteration
per training forward, as the library).

And the same step as `ModularGAN.train_step` with disc_iters = 1: a D update
on [reals; fakes of G in training mode] with the hinge loss, a G update
(-mean D(fake)), Adam for both, then the EMA of G (lerp of the parameters,
copy of the buffers).

torch is optional: importing this module needs it; train_speed.py checks.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NUM_G_BLOCKS = 3
NUM_D_BLOCKS = 4
NUM_D_DOWN_BLOCKS = 2


def _sn(module: nn.Module, use_sn: bool) -> nn.Module:
  return spectral_norm(module) if use_sn else module


class ConditionalBatchNorm(nn.Module):
  """The library's conditional_batch_norm (gamma_offset=True, no bias)."""

  def __init__(self, channels: int, num_classes: int, use_sn: bool,
               eps: float = 1e-5, decay: float = 0.9):
    super().__init__()
    self.bn = nn.BatchNorm2d(channels, eps=eps, momentum=1.0 - decay, affine=False)
    self.gamma = _sn(nn.Linear(num_classes, channels, bias=False), use_sn)
    self.beta = _sn(nn.Linear(num_classes, channels, bias=False), use_sn)

  def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    gamma = 1.0 + self.gamma(y)[:, :, None, None]
    return self.bn(x) * gamma + self.beta(y)[:, :, None, None]


class GBlock(nn.Module):
  """Up-sampling pre-activation ResNet block of G (shortcut="conv")."""

  def __init__(self, cin: int, cout: int, num_classes: int, use_sn: bool):
    super().__init__()
    self.bn1 = ConditionalBatchNorm(cin, num_classes, use_sn)
    self.conv1 = _sn(nn.Conv2d(cin, cout, 3, padding=1), use_sn)
    self.bn2 = ConditionalBatchNorm(cout, num_classes, use_sn)
    self.conv2 = _sn(nn.Conv2d(cout, cout, 3, padding=1), use_sn)
    self.conv_shortcut = _sn(nn.Conv2d(cin, cout, 1), use_sn)

  def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2, mode="nearest")
    h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
    return h + self.conv_shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
  """Pre-activation ResNet block of D without normalization (first_relu)."""

  def __init__(self, cin: int, cout: int, down: bool, use_sn: bool):
    super().__init__()
    self.down = down
    self.conv1 = _sn(nn.Conv2d(cin, cout, 3, padding=1), use_sn)
    self.conv2 = _sn(nn.Conv2d(cout, cout, 3, padding=1), use_sn)
    self.conv_shortcut = _sn(nn.Conv2d(cin, cout, 1), use_sn)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    h = self.conv2(F.relu(self.conv1(F.relu(x))))
    s = self.conv_shortcut(x)
    if self.down:
      h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
    return h + s


class Generator(nn.Module):
  """[B, z_dim], one-hot [B, num_classes] -> [B, colors, 32, 32] in [0, 1]."""

  def __init__(self, *, z_dim: int = 128, num_classes: int = 10, ch: int = 256,
               colors: int = 3, use_sn: bool = False):
    super().__init__()
    self.ch = ch
    self.fc_noise = _sn(nn.Linear(z_dim, 4 * 4 * ch), use_sn)
    self.blocks = nn.ModuleList(GBlock(ch, ch, num_classes, use_sn)
                                for _ in range(NUM_G_BLOCKS))
    self.final_norm = ConditionalBatchNorm(ch, num_classes, use_sn)
    self.final_conv = _sn(nn.Conv2d(ch, colors, 3, padding=1), use_sn)

  def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    net = self.fc_noise(z).view(-1, self.ch, 4, 4)
    for block in self.blocks:
      net = block(net, y)
    net = self.final_conv(F.relu(self.final_norm(net, y)))
    return (torch.tanh(net) + 1.0) / 2.0


class Discriminator(nn.Module):
  """[B, colors, 32, 32], one-hot y -> (probs [B, 1], logits [B, 1], h [B, ch])."""

  def __init__(self, *, num_classes: int = 10, ch: int = 128, colors: int = 3,
               use_sn: bool = True):
    super().__init__()
    self.blocks = nn.ModuleList(
        DBlock(colors if i == 0 else ch, ch, i < NUM_D_DOWN_BLOCKS, use_sn)
        for i in range(NUM_D_BLOCKS))
    self.final_fc = _sn(nn.Linear(ch, 1), use_sn)
    self.embedding_fc = _sn(nn.Linear(num_classes, ch, bias=False), use_sn)

  def forward(self, x: torch.Tensor, y: torch.Tensor):
    for block in self.blocks:
      x = block(x)
    h = F.relu(x).mean(dim=(2, 3))
    logits = self.final_fc(h) + (self.embedding_fc(y) * h).sum(1, keepdim=True)
    return torch.sigmoid(logits), logits, h


def num_trainable(module: nn.Module) -> int:
  """Trainable parameters (spectral norm's u, v and BN statistics are buffers)."""
  return sum(p.numel() for p in module.parameters() if p.requires_grad)


class TorchGAN:
  """G, D, their Adam optimizers and the EMA of G; `step` = 1 D + 1 G update.

  Args: as the gin bindings train_speed.py gives the library (hinge loss,
    Adam(2e-4, beta1=0, beta2=0.999), EMA decay 0.9999 from step 40000);
    `device`: where the networks and the step's inputs live.
  """

  def __init__(self, *, z_dim: int = 128, num_classes: int = 10, g_ch: int = 256,
               d_ch: int = 128, g_sn: bool = False, d_sn: bool = True,
               lr: float = 2e-4, betas: tuple[float, float] = (0.0, 0.999),
               ema_decay: float = 0.9999, ema_start_step: int = 40000,
               seed: int = 0, device: Any = "cpu"):
    torch.manual_seed(seed)
    self.z_dim, self.num_classes, self.device = z_dim, num_classes, torch.device(device)
    self.generator = Generator(z_dim=z_dim, num_classes=num_classes, ch=g_ch,
                               use_sn=g_sn).to(self.device)
    self.discriminator = Discriminator(num_classes=num_classes, ch=d_ch,
                                       use_sn=d_sn).to(self.device)
    self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False)
    # foreach: the multi-tensor Adam, as fast as torch's CPU Adam gets.
    self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas,
                                  foreach=True)
    self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=lr,
                                  betas=betas, foreach=True)
    self.ema_decay, self.ema_start_step = ema_decay, ema_start_step
    self.global_step = 0
    self.generator.train()
    self.discriminator.train()

  def inputs(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """One step's latents and labels, drawn as the library draws them."""
    b = images.shape[0]
    z = torch.rand(2, b, self.z_dim, device=self.device) * 2.0 - 1.0
    sampled = torch.randint(0, self.num_classes, (2, b), device=self.device)
    one_hot = lambda t: F.one_hot(t, self.num_classes).float()
    return {"images": images, "y_real": one_hot(labels), "z": z,
            "y_fake": one_hot(sampled)}

  def step(self, inputs: dict[str, Any]) -> dict[str, float]:
    g, d = self.generator, self.discriminator
    real, y_real = inputs["images"], inputs["y_real"]
    z, y_fake = inputs["z"], inputs["y_fake"]
    n = real.shape[0]
    # D step: reals and fakes in one call, as ModularGAN.run_discriminator.
    with torch.no_grad():
      fake = g(z[0], y_fake[0])
    _, logits, _ = d(torch.cat([real, fake]), torch.cat([y_real, y_fake[0]]))
    d_loss = F.relu(1.0 - logits[:n]).mean() + F.relu(1.0 + logits[n:]).mean()
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()
    # G step: D (no batch norm) on the fakes only; no gradients for D's weights.
    d.requires_grad_(False)
    _, fake_logits, _ = d(g(z[1], y_fake[1]), y_fake[1])
    g_loss = -fake_logits.mean()
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    d.requires_grad_(True)
    self.global_step += 1
    self.update_ema()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

  @torch.no_grad()
  def update_ema(self) -> None:
    decay = self.ema_decay if self.global_step >= self.ema_start_step else 0.0
    ema = list(self.ema_generator.parameters())
    torch._foreach_lerp_(ema, list(self.generator.parameters()), 1.0 - decay)  # noqa: SLF001
    for e, w in zip(self.ema_generator.buffers(), self.generator.buffers()):
      e.copy_(w)


def time_step(*, batch_size: int, steps: int, repeats: int, g_ch: int = 256,
              d_ch: int = 128, z_dim: int = 128, num_classes: int = 10,
              g_sn: bool = False, threads: int | None = None,
              progress: Any = None) -> dict[str, Any]:
  """Median ms per step of `TorchGAN.step` over `repeats` runs of `steps`
  steps, after one warm-up run. Real batches are drawn once (uniform noise,
  like the library's fake data) and cycled."""
  if threads:
    torch.set_num_threads(threads)
  # A GPU where torch sees one (the library's step runs there too), else the CPU.
  device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
  gan = TorchGAN(z_dim=z_dim, num_classes=num_classes, g_ch=g_ch, d_ch=d_ch,
                 g_sn=g_sn, device=device)
  batches = [(torch.rand(batch_size, 3, 32, 32, device=device),
              torch.randint(0, num_classes, (batch_size,), device=device))
             for _ in range(4)]

  def run(num: int) -> float:
    start = time.perf_counter()
    for i in range(num):
      metrics = gan.step(gan.inputs(*batches[i % len(batches)]))
    float(metrics["d_loss"])  # waits for the device
    return time.perf_counter() - start

  times = []
  for r in range(repeats + 1):  # run 0 warms up
    t = run(steps)
    if r:
      times.append(t)
    if progress:
      progress(f"torch B={batch_size} {'warm-up' if not r else f'repeat {r}'}: "
               f"{1e3 * t / steps:.1f} ms/step")
  times.sort()
  ms = 1e3 * times[len(times) // 2] / steps
  return {"batch_size": batch_size, "ms_per_step": ms,
          "images_per_s": batch_size * 1e3 / ms, "threads": torch.get_num_threads(),
          "torch": torch.__version__, "device": str(device),
          "g_params": num_trainable(gan.generator),
          "d_params": num_trainable(gan.discriminator)}
