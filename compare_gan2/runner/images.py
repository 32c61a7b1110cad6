"""Pictures of samples: image grids as PNG, and scatter plots for 2-D data."""

from __future__ import annotations

import math
import os

import numpy as np


def image_grid(images: np.ndarray, columns: int | None = None,
               padding: int = 1) -> np.ndarray:
  """[N, H, W, C] in [0, 1] -> one uint8 image [rows*(H+p)+p, cols*(W+p)+p, C]
  (C = 3 for grey inputs), with a white border between images."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid needs [N, H, W, C]. Received: {images.shape}")
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  n, h, w, c = images.shape
  columns = columns or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / columns))
  grid = np.ones([rows * (h + padding) + padding,
                  columns * (w + padding) + padding, c], np.float32)
  for i, image in enumerate(images):
    top = padding + (i // columns) * (h + padding)
    left = padding + (i % columns) * (w + padding)
    grid[top:top + h, left:left + w] = image
  return (np.clip(grid, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(array: np.ndarray, path: str) -> str:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  tmp = path + ".tmp.png"
  Image.fromarray(array).save(tmp)
  os.replace(tmp, path)  # never leave a half-written picture
  return path


def figure(width: float, height: float, columns: int = 1, dpi: int = 100,
           rows: int = 1):
  """(figure, axes in reading order) drawn off-screen by Agg, without pyplot:
  choosing pyplot's backend here would stop a notebook's inline plots."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(width, height), dpi=dpi)
  FigureCanvasAgg(fig)
  return fig, [fig.add_subplot(rows, columns, i + 1) for i in range(rows * columns)]


def figure_rgb(fig) -> np.ndarray:
  """The figure as a uint8 RGB array."""
  fig.canvas.draw()
  return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def scatter_plot(fake: np.ndarray, real: np.ndarray | None = None,
                 title: str = "") -> np.ndarray:
  """2-D points [N, 2] (fakes, and reals in grey) -> uint8 RGB image."""
  fig, (ax,) = figure(4, 4)
  if real is not None:
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="real")
  ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:blue", label="generated")
  ax.set_aspect("equal")
  ax.legend(loc="upper right", fontsize=7)
  ax.set_title(title, fontsize=9)
  return figure_rgb(fig)


def sample_picture(samples: np.ndarray, real: np.ndarray | None = None,
                   title: str = "", min_size: int = 64) -> np.ndarray:
  """A grid for images, a scatter plot for 2-D points ([N, 1, 1, 2]).
  Images smaller than `min_size` are enlarged (nearest) to be seen."""
  if samples.shape[1:] == (1, 1, 2):
    return scatter_plot(samples.reshape(-1, 2),
                        None if real is None else real.reshape(-1, 2), title)
  scale = max(1, -(-min_size // samples.shape[1]))
  samples = samples.repeat(scale, axis=1).repeat(scale, axis=2)
  return image_grid(samples)


def metric_curves(rows: list[dict[str, object]], names: list[str]) -> np.ndarray:
  """One panel per score: mean over the averaging runs vs step, +- std."""
  rows = sorted(rows, key=lambda r: int(r["step"]))
  steps = [int(r["step"]) for r in rows]
  fig, axes = figure(3.2 * len(names), 2.8, len(names))
  for ax, name in zip(axes, names):
    mean = np.array([float(r[name]) for r in rows])
    std = np.array([float(r.get(f"{name}_std") or 0.0) for r in rows])
    ax.plot(steps, mean, marker="o", ms=3)
    ax.fill_between(steps, mean - std, mean + std, alpha=0.3)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
  fig.tight_layout()
  return figure_rgb(fig)
