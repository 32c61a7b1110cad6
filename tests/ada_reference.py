"""NVlabs/stylegan2-ada-pytorch `training/augment.py` (AugmentPipe.forward,
the bgc ops) and `torch_utils/ops/upfirdn2d.py` (`_upfirdn2d_ref`),
transcribed as the reference of tests/augment/test_ada.py. The only change: every
torch.rand / torch.randn call reads the injected draw of the same name
instead, so both implementations see the same random numbers."""

import numpy as np
import torch

SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
        -0.048311742585633, 0.4910559419267466, 0.787641141030194, 0.3379294217276218,
        -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
        0.0017677118642428036, -0.007800708325034148]


def matrix(*rows):
  elems = [x for row in rows for x in row]
  ref = [x for x in elems if isinstance(x, torch.Tensor)]
  if not ref:
    return torch.as_tensor(np.asarray(rows), dtype=torch.float32)
  elems = [x if isinstance(x, torch.Tensor) else torch.full(ref[0].shape, float(x))
           for x in elems]
  return torch.stack(elems, dim=-1).reshape(ref[0].shape + (len(rows), -1))


def translate2d(tx, ty): return matrix([1, 0, tx], [0, 1, ty], [0, 0, 1])
def translate3d(tx, ty, tz): return matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])
def scale2d(sx, sy): return matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1])
def scale3d(sx, sy, sz): return matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])
def rotate2d(theta): return matrix([torch.cos(theta), torch.sin(-theta), 0],
                                   [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1])


def rotate3d(v, theta):
  vx = v[..., 0]; vy = v[..., 1]; vz = v[..., 2]
  s = torch.sin(theta); c = torch.cos(theta); cc = 1 - c
  return matrix([vx*vx*cc+c, vx*vy*cc-vz*s, vx*vz*cc+vy*s, 0],
                [vy*vx*cc+vz*s, vy*vy*cc+c, vy*vz*cc-vx*s, 0],
                [vz*vx*cc-vy*s, vz*vy*cc+vx*s, vz*vz*cc+c, 0],
                [0, 0, 0, 1])


def translate2d_inv(tx, ty): return translate2d(-tx, -ty)
def scale2d_inv(sx, sy): return scale2d(1 / sx, 1 / sy)
def rotate2d_inv(theta): return rotate2d(-theta)


def upfirdn2d_ref(x, f, up=1, down=1, padding=(0, 0, 0, 0), flip_filter=False, gain=1):
  batch_size, num_channels, in_height, in_width = x.shape
  upx = upy = up
  downx = downy = down
  padx0, padx1, pady0, pady1 = padding
  x = x.reshape([batch_size, num_channels, in_height, 1, in_width, 1])
  x = torch.nn.functional.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
  x = x.reshape([batch_size, num_channels, in_height * upy, in_width * upx])
  x = torch.nn.functional.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
  x = x[:, :, max(-pady0, 0): x.shape[2] - max(-pady1, 0), max(-padx0, 0): x.shape[3] - max(-padx1, 0)]
  f = f * (gain ** (f.ndim / 2))
  if not flip_filter:
    f = f.flip(list(range(f.ndim)))
  f = f[np.newaxis, np.newaxis].repeat([num_channels, 1] + [1] * f.ndim)
  x = torch.nn.functional.conv2d(input=x, weight=f.unsqueeze(2), groups=num_channels)
  x = torch.nn.functional.conv2d(input=x, weight=f.unsqueeze(3), groups=num_channels)
  return x[:, :, ::downy, ::downx]


def upsample2d(x, f, up=2):
  fw = f.shape[-1]
  p = [(fw + up - 1) // 2, (fw - up) // 2] * 2
  return upfirdn2d_ref(x, f, up=up, padding=p, gain=up * up)


def downsample2d(x, f, down=2, padding=0, flip_filter=False):
  fw = f.shape[-1]
  p = [padding + (fw - down + 1) // 2, padding + (fw - down) // 2] * 2
  return upfirdn2d_ref(x, f, down=down, padding=p, flip_filter=flip_filter)


def augment_pipe(images, p, d, xflip=0, rotate90=0, xint=0, xint_max=0.125, scale=0,
                 rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2,
                 xfrac_std=0.125, brightness=0, contrast=0, lumaflip=0, hue=0,
                 saturation=0, brightness_std=0.2, contrast_std=0.5, hue_max=1,
                 saturation_std=1):
  """AugmentPipe.forward for NCHW float64/32 `images`; d: the draws by name."""
  batch_size, num_channels, height, width = images.shape
  t_ = lambda k: torch.as_tensor(np.asarray(d[k]), dtype=torch.float32)
  Hz_geom = torch.as_tensor(SYM6, dtype=torch.float32)
  Hz_geom = Hz_geom / Hz_geom.sum()
  I_3 = torch.eye(3)
  G_inv = I_3
  if xflip > 0:
    i = torch.floor(t_("xflip_u") * 2)
    i = torch.where(t_("xflip_gate") < xflip * p, i, torch.zeros_like(i))
    G_inv = G_inv @ scale2d_inv(1 - 2 * i, 1)
  if rotate90 > 0:
    i = torch.floor(t_("rotate90_u") * 4)
    i = torch.where(t_("rotate90_gate") < rotate90 * p, i, torch.zeros_like(i))
    G_inv = G_inv @ rotate2d_inv(-np.pi / 2 * i)
  if xint > 0:
    t = (t_("xint_u") * 2 - 1) * xint_max
    t = torch.where(t_("xint_gate")[:, None] < xint * p, t, torch.zeros_like(t))
    G_inv = G_inv @ translate2d_inv(torch.round(t[:, 0] * width), torch.round(t[:, 1] * height))
  if scale > 0:
    s = torch.exp2(t_("scale_n") * scale_std)
    s = torch.where(t_("scale_gate") < scale * p, s, torch.ones_like(s))
    G_inv = G_inv @ scale2d_inv(s, s)
  p_rot = 1 - np.sqrt(np.clip(1 - rotate * p, 0, 1))
  if rotate > 0:
    theta = (t_("rotate_pre_u") * 2 - 1) * np.pi * rotate_max
    theta = torch.where(t_("rotate_pre_gate") < p_rot, theta, torch.zeros_like(theta))
    G_inv = G_inv @ rotate2d_inv(-theta)
  if aniso > 0:
    s = torch.exp2(t_("aniso_n") * aniso_std)
    s = torch.where(t_("aniso_gate") < aniso * p, s, torch.ones_like(s))
    G_inv = G_inv @ scale2d_inv(s, 1 / s)
  if rotate > 0:
    theta = (t_("rotate_post_u") * 2 - 1) * np.pi * rotate_max
    theta = torch.where(t_("rotate_post_gate") < p_rot, theta, torch.zeros_like(theta))
    G_inv = G_inv @ rotate2d_inv(-theta)
  if xfrac > 0:
    t = t_("xfrac_n") * xfrac_std
    t = torch.where(t_("xfrac_gate")[:, None] < xfrac * p, t, torch.zeros_like(t))
    G_inv = G_inv @ translate2d_inv(t[:, 0] * width, t[:, 1] * height)

  if G_inv is not I_3:
    cx = (width - 1) / 2
    cy = (height - 1) / 2
    cp = matrix([-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1])
    cp = G_inv @ cp.t()
    Hz_pad = Hz_geom.shape[0] // 4
    margin = cp[:, :2, :].permute(1, 0, 2).flatten(1)
    margin = torch.cat([-margin, margin]).max(dim=1).values
    margin = margin + torch.as_tensor([Hz_pad * 2 - cx, Hz_pad * 2 - cy] * 2)
    margin = margin.max(torch.as_tensor([0, 0] * 2, dtype=torch.float32))
    margin = margin.min(torch.as_tensor([width - 1, height - 1] * 2, dtype=torch.float32))
    mx0, my0, mx1, my1 = margin.ceil().to(torch.int32)
    images = torch.nn.functional.pad(input=images, pad=[mx0, mx1, my0, my1], mode='reflect')
    G_inv = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2) @ G_inv
    images = upsample2d(x=images, f=Hz_geom, up=2)
    G_inv = scale2d(2, 2) @ G_inv @ scale2d_inv(2, 2)
    G_inv = translate2d(-0.5, -0.5) @ G_inv @ translate2d_inv(-0.5, -0.5)
    shape = [batch_size, num_channels, (height + Hz_pad * 2) * 2, (width + Hz_pad * 2) * 2]
    G_inv = (scale2d(2 / images.shape[3], 2 / images.shape[2]) @ G_inv
             @ scale2d_inv(2 / shape[3], 2 / shape[2]))
    grid = torch.nn.functional.affine_grid(theta=G_inv[:, :2, :], size=shape, align_corners=False)
    images = torch.nn.functional.grid_sample(images, grid, mode='bilinear',
                                             padding_mode='zeros', align_corners=False)
    images = downsample2d(x=images, f=Hz_geom, down=2, padding=-Hz_pad * 2, flip_filter=True)

  I_4 = torch.eye(4)
  C = I_4
  if brightness > 0:
    b = t_("brightness_n") * brightness_std
    b = torch.where(t_("brightness_gate") < brightness * p, b, torch.zeros_like(b))
    C = translate3d(b, b, b) @ C
  if contrast > 0:
    c = torch.exp2(t_("contrast_n") * contrast_std)
    c = torch.where(t_("contrast_gate") < contrast * p, c, torch.ones_like(c))
    C = scale3d(c, c, c) @ C
  v = torch.as_tensor(np.asarray([1, 1, 1, 0]) / np.sqrt(3), dtype=torch.float32)
  if lumaflip > 0:
    i = torch.floor(t_("lumaflip_u")[:, None, None] * 2)
    i = torch.where(t_("lumaflip_gate")[:, None, None] < lumaflip * p, i, torch.zeros_like(i))
    C = (I_4 - 2 * v.ger(v) * i) @ C
  if hue > 0 and num_channels > 1:
    theta = (t_("hue_u") * 2 - 1) * np.pi * hue_max
    theta = torch.where(t_("hue_gate") < hue * p, theta, torch.zeros_like(theta))
    C = rotate3d(v, theta) @ C
  if saturation > 0 and num_channels > 1:
    s = torch.exp2(t_("saturation_n")[:, None, None] * saturation_std)
    s = torch.where(t_("saturation_gate")[:, None, None] < saturation * p, s, torch.ones_like(s))
    C = (v.ger(v) + (I_4 - v.ger(v)) * s) @ C
  if C is not I_4:
    images = images.reshape([batch_size, num_channels, height * width])
    if num_channels == 3:
      images = C[:, :3, :3] @ images + C[:, :3, 3:]
    elif num_channels == 1:
      C = C[:, :3, :].mean(dim=1, keepdims=True)
      images = images * C[:, :, :3].sum(dim=2, keepdims=True) + C[:, :, 3:]
    images = images.reshape([batch_size, num_channels, height, width])
  return images


def rt_controller(signs, batch_size, ada_interval=4, ada_target=0.6, ada_kimg=500, p=0.0):
  """training_loop.py's ADA heuristic: signs[i] are sign(D(real)) of batch
  iteration i (each batch_size values); p after every iteration."""
  trajectory, acc = [], []
  for batch_idx, s in enumerate(signs, start=1):
    acc.extend(np.asarray(s, np.float64).ravel())  # Collector: 'Loss/signs/real'
    if batch_idx % ada_interval == 0:
      rt = np.mean(acc)
      acc = []
      adjust = np.sign(rt - ada_target) * (batch_size * ada_interval) / (ada_kimg * 1000)
      p = max(p + adjust, 0.0)
    trajectory.append(p)
  return trajectory
