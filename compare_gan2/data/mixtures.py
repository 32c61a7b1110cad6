"""Mixtures of 2-D Gaussians (`mog_ring`, `mog_grid`): the toy data of mode
collapse studies, for `mlp_arch`.

Contract (the exception to [0, 1] images): an example is a point (x, y) stored
as an "image" float32 [1, 1, 2] (resolution 1, colors 2) with unbounded
values; its label is the id of the mixture component that drew it. Components
are equally likely. The points are drawn by numpy from
`np.random.default_rng([data_seed, split])`, so they depend on
`<name>.data_seed`, not on `dataset.seed` (which orders them).
"""

from __future__ import annotations

import functools

import numpy as np

from compare_gan2.core.checks import is_int, is_number
from compare_gan2.core.registry import DATASETS
from compare_gan2.data.base import DEFAULT_SEED, ArrayDataset

_SPLIT_IDS = {"train": 0, "test": 1}


def ring_means(num_components: int = 8, radius: float = 2.0) -> np.ndarray:
  """[K, 2] float32: K points evenly spaced on a circle, the first at (r, 0)."""
  angles = 2 * np.pi * np.arange(num_components) / num_components
  return (radius * np.stack([np.cos(angles), np.sin(angles)], -1)).astype(
      np.float32)


def grid_means(size: int = 5, spacing: float = 2.0) -> np.ndarray:
  """[size^2, 2] float32: a centred size x size grid, row-major in (x, y)."""
  axis = (np.arange(size) - (size - 1) / 2) * spacing
  xs, ys = np.meshgrid(axis, axis, indexing="ij")
  return np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)


RING_MEANS = ring_means()
RING_STDDEV = 0.02
GRID_MEANS = grid_means()
GRID_STDDEV = 0.05


def sample_mixture(means: np.ndarray, stddev: float, num_examples: int,
                   seed: int | list[int] = 0) -> tuple[np.ndarray, np.ndarray]:
  """Draws points of an isotropic mixture with equally likely components.

  Returns:
    (points float32 [N, 2], component ids int32 [N]).
  """
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, len(means), size=num_examples)
  noise = rng.normal(0.0, stddev, size=(num_examples, 2))
  return ((means[labels] + noise).astype(np.float32), labels.astype(np.int32))


def assign_modes(points: np.ndarray, means: np.ndarray,
                 max_distance: float) -> np.ndarray:
  """Nearest component of each point, or -1 if farther than `max_distance`.

  With `max_distance = 3 * stddev` this is the usual "high quality sample"
  test; the number of distinct ids >= 0 is the number of modes covered.
  """
  points = np.asarray(points, np.float64).reshape(-1, 2)
  distances = np.linalg.norm(points[:, None, :] - means[None], axis=-1)
  nearest = distances.argmin(axis=1)
  return np.where(distances.min(axis=1) <= max_distance, nearest, -1)


def _means(kind: str, radius: float) -> np.ndarray:
  return ring_means(radius=radius) if kind == "ring" else GRID_MEANS


@functools.lru_cache(maxsize=8)
def _cached_mixture(kind: str, stddev: float, num_examples: int,
                    data_seed: int, split_id: int, radius: float = 2.0):
  return sample_mixture(_means(kind, radius), stddev, num_examples,
                        [data_seed, split_id])


class MixtureDataset(ArrayDataset):
  """2-D points of a Gaussian mixture; see the module docstring.

  Attributes:
    means: float32 [K, 2]. Component means (label k is drawn around means[k]).
    stddev: float. Standard deviation of every component (per axis).
  """

  value_range = None  # Unbounded points.

  def __init__(self, name: str, kind: str, *, stddev: float,
               num_train_examples: int, num_test_examples: int,
               data_seed: int, seed: int, radius: float = 2.0):
    self.radius = float(radius)
    self.means = _means(kind, self.radius)
    super().__init__(name, resolution=1, colors=2,
                     num_classes=len(self.means), seed=seed,
                     split_sizes={"train": num_train_examples,
                                  "test": num_test_examples})
    self.kind = kind
    self.stddev = float(stddev)
    self.data_seed = data_seed

  @property
  def fingerprint(self) -> str:
    sizes = "-".join(str(v) for v in self.split_sizes.values())
    # The default radius keeps the fingerprint (cached real features) it had.
    radius = f"-r{self.radius:g}" if self.kind == "ring" and self.radius != 2.0 else ""
    return (f"{self.name}{radius}-std{self.stddev:g}-data_seed{self.data_seed}"
            f"-n{sizes}")

  def _arrays(self, split: str):
    points, labels = _cached_mixture(self.kind, self.stddev,
                                     self.split_sizes[split], self.data_seed,
                                     _SPLIT_IDS[split], self.radius)
    return points.reshape(-1, 1, 1, 2), labels


def _check_sizes(name: str, **sizes: int) -> None:
  for key, value in sizes.items():
    if not is_int(value, 1):
      raise ValueError(f"`{name}.{key}` must be a positive integer. "
                       f"Received: {key}={value!r}")


@DATASETS.register("mog_ring")
def mog_ring(seed: int = DEFAULT_SEED, num_train_examples: int = 50000,
             num_test_examples: int = 5000, stddev: float = RING_STDDEV,
             data_seed: int = 0, radius: float = 2.0) -> MixtureDataset:
  """8 Gaussians on a circle of radius 2 (std 0.02); labels = component.

  Args:
    seed: int. Data-order seed (`dataset.seed`).
    num_train_examples / num_test_examples: int. Split sizes.
    stddev: float. Component standard deviation (`mog_ring.stddev`).
    data_seed: int. Seed of the drawing (`mog_ring.data_seed`).
    radius: float. Radius of the circle (`mog_ring.radius`; PacGAN's ring
      has radius 1 and std 0.01).
  """
  _check_sizes("mog_ring", num_train_examples=num_train_examples,
               num_test_examples=num_test_examples)
  if not is_number(radius) or radius <= 0:
    raise ValueError(f"`mog_ring.radius` must be a positive number. Received: "
                     f"radius={radius!r}")
  return MixtureDataset("mog_ring", "ring", stddev=stddev,
                        num_train_examples=num_train_examples,
                        num_test_examples=num_test_examples,
                        data_seed=data_seed, seed=seed, radius=radius)


@DATASETS.register("mog_grid")
def mog_grid(seed: int = DEFAULT_SEED, num_train_examples: int = 50000,
             num_test_examples: int = 5000, stddev: float = GRID_STDDEV,
             data_seed: int = 0) -> MixtureDataset:
  """25 Gaussians on a 5x5 grid at -4, -2, 0, 2, 4 (std 0.05).

  Args: as `mog_ring` (gin `mog_grid.*`).
  """
  _check_sizes("mog_grid", num_train_examples=num_train_examples,
               num_test_examples=num_test_examples)
  return MixtureDataset("mog_grid", "grid", stddev=stddev,
                        num_train_examples=num_train_examples,
                        num_test_examples=num_test_examples,
                        data_seed=data_seed, seed=seed)
