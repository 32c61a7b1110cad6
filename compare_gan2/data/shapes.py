"""`shapes`: procedurally generated convex polygons, an offline labelled
image dataset.

Each image is one filled convex polygon with 3 to 8 vertices in one colour on
a plain background of another; the label is `num_vertices - 3` (6 classes).
Vertices lie on a circle (so the polygon is convex) at angular gaps of at
least 0.7 * 360 / k degrees, so every vertex is a clear corner (interior
angle <= 180 - 0.7 * 360 / k); the polygon is then stretched along a random
axis (an affine map keeps convexity and corners) and placed at random inside
the frame. Edges are antialiased by the signed distance of the pixel centre to
the polygon (coverage = clip(0.5 - distance, 0, 1)).

Everything is drawn by numpy from `np.random.default_rng([data_seed, split])`:
the data depend on `shapes.data_seed`, not on `dataset.seed` (which orders the
data), so runs with different seeds see the same dataset.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from compare_gan2.core.checks import is_int
from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, ArrayDataset

MIN_VERTICES = 3
MAX_VERTICES = 8
NUM_CLASSES = MAX_VERTICES - MIN_VERTICES + 1
# Smallest angular gap between neighbouring vertices, as a fraction of the
# regular polygon's gap 2 pi / k.
_MIN_GAP_FRACTION = 0.7
_CHUNK = 256
_SPLIT_IDS = {"train": 0, "test": 1}


@dataclasses.dataclass(frozen=True)
class Shapes:
  """Generated polygons and their metadata.

  Attributes:
    images: uint8 [N, R, R, 3].
    labels: int32 [N]. num_vertices - 3.
    num_vertices: int32 [N]. In [3, 8].
    vertices: float32 [N, 8, 2]. (x, y) in pixels (x to the right, y down,
      pixel (i, j) covers [j, j+1] x [i, i+1]); rows past num_vertices are NaN.
    foreground / background: float32 [N, 3]. Colours in [0, 1].
  """
  images: np.ndarray
  labels: np.ndarray
  num_vertices: np.ndarray
  vertices: np.ndarray
  foreground: np.ndarray
  background: np.ndarray


def generate_shapes(num_examples: int, resolution: int = 32,
                    seed: int | list[int] = 0) -> Shapes:
  """Draws `num_examples` polygon images of size `resolution` (numpy).

  Args:
    num_examples: int. Number of images.
    resolution: int. Height and width, >= 8.
    seed: int or list of ints. Seed of `np.random.default_rng`.

  Returns:
    `Shapes` with the images and the polygon of each.
  """
  if resolution < 8:
    raise ValueError(f"shapes resolution must be >= 8. "
                     f"Received: resolution={resolution}")
  rng = np.random.default_rng(seed)
  n, kmax = num_examples, MAX_VERTICES
  k = rng.integers(MIN_VERTICES, MAX_VERTICES + 1, size=n)
  valid = np.arange(kmax)[None, :] < k[:, None]  # [N, 8]

  # Angular gaps: a minimum gap plus a Dirichlet share of the rest.
  share = rng.gamma(2.0, size=(n, kmax)) * valid
  share /= share.sum(axis=1, keepdims=True)
  min_gap = _MIN_GAP_FRACTION * 2 * np.pi / k
  gaps = (min_gap[:, None] + (2 * np.pi - k * min_gap)[:, None] * share) * valid
  angles = rng.uniform(0, 2 * np.pi, size=(n, 1)) + np.cumsum(gaps, axis=1) - gaps
  unit = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # [N, 8, 2]

  # Stretch by s along a random axis: R(t) diag(1, s) R(-t).
  stretch = rng.uniform(0.7, 1.0, size=n)
  theta = rng.uniform(0, np.pi, size=n)
  c, s = np.cos(theta), np.sin(theta)
  rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # [N,2,2]
  scale = np.zeros((n, 2, 2))
  scale[:, 0, 0], scale[:, 1, 1] = 1.0, stretch
  affine = rot @ scale @ np.transpose(rot, (0, 2, 1))
  # Diameter at most resolution - 2: the polygon fits within the margins.
  radius = rng.uniform(0.28, 0.5, size=n) * (resolution - 2)
  local = np.einsum("nij,nkj->nki", affine, unit) * radius[:, None, None]

  # Place the polygon inside the frame with a 1-pixel margin.
  lo = np.where(valid[..., None], local, np.inf).min(axis=1)
  hi = np.where(valid[..., None], local, -np.inf).max(axis=1)
  centre = rng.uniform(1.0 - lo, resolution - 1.0 - hi)
  vertices = local + centre[:, None, :]

  # One colour dark and one light, per channel, so shapes always stand out.
  dark = rng.uniform(0.0, 0.4, size=(n, 3))
  light = rng.uniform(0.6, 1.0, size=(n, 3))
  swap = rng.random(n) < 0.5
  foreground = np.where(swap[:, None], dark, light)
  background = np.where(swap[:, None], light, dark)

  images = np.empty((n, resolution, resolution, 3), np.uint8)
  fg = (255.0 * foreground).astype(np.float32)[:, :, None, None]
  bg = (255.0 * background).astype(np.float32)[:, :, None, None]
  for start in range(0, n, _CHUNK):  # chunks keep the float temporaries small
    part = slice(start, start + _CHUNK)
    coverage = _coverage(vertices[part], valid[part], resolution)  # [n, R, R]
    for c in range(3):  # per channel: numpy broadcasts slowly over a dim of 3
      images[part, ..., c] = np.rint(
          bg[part, c] + (fg[part, c] - bg[part, c]) * coverage)
  vertices = np.where(valid[..., None], vertices, np.nan)
  return Shapes(
      images=images,
      labels=(k - MIN_VERTICES).astype(np.int32),
      num_vertices=k.astype(np.int32),
      vertices=vertices.astype(np.float32),
      foreground=foreground.astype(np.float32),
      background=background.astype(np.float32))


def _coverage(vertices: np.ndarray, valid: np.ndarray,
              resolution: int) -> np.ndarray:
  """Antialiased coverage [n, R, R] of convex polygons (vertices in order)."""
  centres = np.arange(resolution, dtype=np.float32) + 0.5
  k = valid.sum(axis=1)
  # Edge i goes from vertex i to vertex (i + 1) mod k.
  nxt_index = (np.arange(MAX_VERTICES)[None, :] + 1) % k[:, None]
  edge = np.take_along_axis(vertices, nxt_index[..., None], axis=1) - vertices
  # Vertices run counter-clockwise in (x, y), so (dy, -dx) points outwards.
  normal = np.stack([edge[..., 1], -edge[..., 0]], axis=-1)
  normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
  offset = np.sum(normal * vertices, axis=-1)
  # Padding edges never bind: their distance is -inf.
  normal = np.where(valid[..., None], normal, 0.0).astype(np.float32)
  offset = np.where(valid, offset, np.inf).astype(np.float32)
  # Distance to an edge's line, a x + b y - c, is separable in rows and columns.
  along_x = normal[..., 0, None] * centres  # [n, 8, R]
  along_y = normal[..., 1, None] * centres - offset[..., None]
  # Signed distance to a convex polygon: the largest edge distance (exact
  # inside and beside the edges, which is all antialiasing needs).
  distance = along_y[:, 0, :, None] + along_x[:, 0, None, :]
  for e in range(1, MAX_VERTICES):
    np.maximum(distance, along_y[:, e, :, None] + along_x[:, e, None, :],
               out=distance)
  return np.clip(0.5 - distance, 0.0, 1.0, out=distance)


@functools.lru_cache(maxsize=4)
def _cached_shapes(num_examples: int, resolution: int, data_seed: int,
                   split_id: int) -> Shapes:
  return generate_shapes(num_examples, resolution, [data_seed, split_id])


class ShapesDataset(ArrayDataset):
  """Convex polygons; see the module docstring."""

  def __init__(self, *, resolution: int, num_train_examples: int,
               num_test_examples: int, data_seed: int, seed: int):
    name = "shapes" if resolution == 32 else f"shapes_{resolution}"
    super().__init__(name, resolution=resolution, colors=3,
                     num_classes=NUM_CLASSES, seed=seed,
                     split_sizes={"train": num_train_examples,
                                  "test": num_test_examples})
    self.data_seed = data_seed

  @property
  def fingerprint(self) -> str:
    sizes = "-".join(str(v) for v in self.split_sizes.values())
    return f"{super().fingerprint}-data_seed{self.data_seed}-n{sizes}"

  def shapes(self, split: str) -> Shapes:
    """The generated polygons of `split`, with their metadata."""
    split = self._check_split(split)
    return _cached_shapes(self.split_sizes[split], self.resolution,
                          self.data_seed, _SPLIT_IDS[split])

  def _arrays(self, split: str):
    data = self.shapes(split)
    return data.images, data.labels


@DATASETS.register("shapes")
def shapes(seed: int = DEFAULT_SEED, resolution: int = 32,
           num_train_examples: int = 10000, num_test_examples: int = 2000,
           data_seed: int = 0) -> ShapesDataset:
  """Coloured convex polygons, class = number of vertices - 3 (6 classes).

  Args:
    seed: int. Data-order seed (`dataset.seed`).
    resolution: int. Image size (`shapes.resolution`). Defaults to `32`.
    num_train_examples / num_test_examples: int. Split sizes. Defaults to
      `10000` and `2000`.
    data_seed: int. Seed of the drawing (`shapes.data_seed`). Defaults to `0`.
  """
  for key, value in (("num_train_examples", num_train_examples),
                     ("num_test_examples", num_test_examples)):
    if not is_int(value, 1):
      raise ValueError(f"`shapes.{key}` must be a positive integer. "
                       f"Received: {key}={value!r}")
  if not is_int(resolution, 8):
    raise ValueError("`shapes.resolution` must be an integer >= 8. "
                     f"Received: resolution={resolution!r}")
  return ShapesDataset(resolution=resolution,
                       num_train_examples=num_train_examples,
                       num_test_examples=num_test_examples,
                       data_seed=data_seed, seed=seed)


@DATASETS.register("shapes_64")
def shapes_64(seed: int = DEFAULT_SEED) -> ShapesDataset:
  """`shapes` at 64x64 (other `shapes.*` bindings apply)."""
  return shapes(seed=seed, resolution=64)

