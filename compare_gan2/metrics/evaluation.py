"""The evaluation protocol: the `eval.*` options, and the `Evaluator` that
scores generated images against a dataset's real split.

The real side's features are computed once per dataset, split, extractor,
resize and sample count and cached in `eval.cache_dir`/reference. The
Evaluator knows nothing of runs: the schedules (`compare_gan2.runner.
schedules`) hand it a run's samples, and `compare_gan2 score` folders of
images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Callable

import gin
import numpy as np
import tensorflow as tf

from compare_gan2.metrics import extractors as extractors_lib
from compare_gan2.metrics import scores as scores_lib


class NaNSamplesError(FloatingPointError):
  """The generator produced NaN or infinite values."""


@gin.configurable("eval", module="compare_gan2.metrics.evaluation")
@dataclasses.dataclass(frozen=True)
class EvalOptions:
  """Evaluation settings (`eval.*`), configured by gin and checked once
  here; `eval_options()` (this class) builds them.

  Args:
    num_samples: int. Generated (and real) images per averaging run.
    batch_size: int. Generation batch; defaults to `options.batch_size`.
    metrics: names from `compare_gan2.metrics.scores.METRICS`. Those that
      score the run's discriminator ("d_overfit") are computed once per
      checkpoint on fixed reals, the others on every averaging run's samples.
    feature_extractor: "auto", "inception", "classifier" or "pixels".
    resize: Inception input resize: "tfgan" (TF-GAN's legacy bilinear, as the
      original scored), "tf" (tf.image.resize bilinear, no antialias) or
      "clean" (antialiased).
    inception_weights: path of the Inception weights, or "hub:[handle]" for
      the TF-Hub module (see README).
    cache_dir: where weights and real-data features are cached (`~` expanded).
    split: real split to compare with; defaults to the dataset's eval split.
    export_generator: bool. Also export each scored checkpoint's generator as
      a SavedModel, `<model_dir>/generators/step_<N>` (see hub.py), as the
      original exported a TF-Hub module per evaluation.
  """
  num_samples: int = 1000
  batch_size: int | None = None
  metrics: tuple[str, ...] = ("fid", "kid")
  feature_extractor: str = "auto"
  resize: str = "tfgan"
  inception_weights: str | None = None
  cache_dir: str = "~/.cache/compare_gan2"
  split: str | None = None
  export_generator: bool = True

  def __post_init__(self) -> None:
    if self.num_samples < 2:
      raise ValueError(f"`eval.num_samples` must be >= 2. Received: {self.num_samples}")
    for name in self.metrics:
      scores_lib.METRICS.get(name)  # unknown names fail here, with suggestions
    object.__setattr__(self, "metrics", tuple(self.metrics))
    object.__setattr__(self, "cache_dir", os.path.expanduser(self.cache_dir))


# `eval_options()`: the evaluation settings from gin (the gin name `eval`).
eval_options = EvalOptions


class Evaluator:
  """Scores generated images against a dataset; built once per run.

  Args:
    dataset: an `ImageDataset` (the real side).
    opts: `EvalOptions`; default `eval_options()` (gin's `eval.*`).
    strategy: with a one-host MirroredStrategy, feature extraction splits
      batches over its replicas.
  """

  def __init__(self, dataset: Any, opts: EvalOptions | None = None,
               strategy: tf.distribute.Strategy | None = None):
    self.dataset = dataset
    self.opts = opts or eval_options()
    options = dict(resize=self.opts.resize, weights=self.opts.inception_weights,
                   cache_dir=self.opts.cache_dir)
    # Feature extraction splits batches over one host's replicas only.
    if isinstance(strategy, tf.distribute.MirroredStrategy):
      options["strategy"] = strategy
    self.extractor_name, self.extract = extractors_lib.make_extractor(
        self.opts.feature_extractor, dataset, **options)
    self._real: scores_lib.SampleSet | None = None
    self._train_reals: tuple[np.ndarray, np.ndarray] | None = None
    if self.discriminator_metrics:
      check_heldout_split(dataset, self.opts)

  @property
  def sample_metrics(self) -> tuple[str, ...]:
    """The metrics of `eval.metrics` that score generated samples."""
    return tuple(n for n in self.opts.metrics
                 if not scores_lib.scores_discriminator(n))

  @property
  def discriminator_metrics(self) -> tuple[str, ...]:
    """The metrics of `eval.metrics` that score the run's discriminator."""
    return discriminator_metrics(self.opts)

  @property
  def split(self) -> str:
    """The real split compared with."""
    return self.opts.split or self.dataset.eval_split

  def protocol(self) -> dict[str, Any]:
    """What a score depends on besides the samples and `extractor_name`, for
    its scores row: generated and real sample counts, Inception resize
    (used by the "inception" extractor only), real split."""
    return {"eval.num_samples": self.opts.num_samples,
            "eval.num_real_samples": len(self.real().features),
            "eval.resize": self.opts.resize, "eval.split": self.split}

  def sample_set(self, images: np.ndarray, labels: np.ndarray | None = None
                 ) -> scores_lib.SampleSet:
    out = self.extract(images)
    return scores_lib.SampleSet(images, out["features"], out.get("logits"), labels)

  def real(self) -> scores_lib.SampleSet:
    """The first `num_samples` images of the real split, features cached."""
    if self._real is None:
      split = self.split
      num = min(self.opts.num_samples, self.dataset.num_examples(split))
      batches = self.dataset.eval_input_fn(split, batch_size=num, drop_remainder=False)
      images, labels = (t.numpy() for t in next(iter(batches)))
      key = "-".join([self.dataset.fingerprint, split, self.extractor_name,
                      self.opts.resize, str(num)])
      path = os.path.join(self.opts.cache_dir, "reference",
                          hashlib.sha1(key.encode()).hexdigest()[:16] + ".npz")
      if os.path.exists(path):
        cached = np.load(path)
        logits = cached["logits"] if "logits" in cached else None
        self._real = scores_lib.SampleSet(images, cached["features"], logits, labels)
      else:
        self._real = self.sample_set(images, labels)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        arrays = {"features": self._real.features}
        if self._real.logits is not None:
          arrays["logits"] = self._real.logits
        tmp = f"{path}.tmp{os.getpid()}.npz"  # processes may share the cache
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return self._real

  def score(self, images: np.ndarray, labels: np.ndarray | None = None
            ) -> dict[str, float]:
    """{score name: value} of every metric of `eval.metrics`; images
    [N, H, W, C] in [0, 1], labels [N] (the requested classes) or None."""
    if not np.isfinite(images).all():
      raise NaNSamplesError("The generator produced NaN/inf samples.")
    return scores_lib.compute(self.sample_metrics, self.real(),
                              self.sample_set(images, labels))

  def train_reals(self) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, H, W, C], labels [N]): the first N = min(num_samples,
    training examples) reals training samples from (the training subset and
    label source; no random flips or crops), in a fixed order."""
    if self._train_reals is None:
      split = self.dataset.train_split
      num = min(self.opts.num_samples, self.dataset.num_train_examples)
      batches = self.dataset.unaugmented_input_fn(split, batch_size=num)
      self._train_reals = tuple(t.numpy() for t in next(iter(batches)))
    return self._train_reals

  def score_discriminator(self, logits_fn: Callable[[np.ndarray, np.ndarray],
                                                    np.ndarray]
                          ) -> dict[str, float]:
    """{score name: value} of the discriminator metrics of `eval.metrics`.

    logits_fn(images [N, H, W, C], labels [N]) -> D's logits [N] is called on
    the fixed training reals (`train_reals`) and the held-out reals (the
    first N of the evaluation split, those FID compares with); the images
    and D are deterministic, so one call per checkpoint suffices."""
    real = self.real()
    sets = []
    for images, labels in (self.train_reals(), (real.images, real.labels)):
      logits = np.asarray(logits_fn(images, labels), np.float64).reshape(-1, 1)
      sets.append(scores_lib.SampleSet(images, logits, logits, labels))
    return scores_lib.compute(self.discriminator_metrics, *sets)


def discriminator_metrics(opts: EvalOptions) -> tuple[str, ...]:
  """The metrics of `opts.metrics` that score the run's discriminator."""
  return tuple(n for n in opts.metrics if scores_lib.scores_discriminator(n))


def check_heldout_split(dataset: Any, opts: EvalOptions) -> None:
  """Raises ValueError when `opts` names a discriminator metric and the
  evaluation split of `dataset` is its training split (nothing held out)."""
  names = discriminator_metrics(opts)
  split = opts.split or dataset.eval_split
  if names and split == dataset.train_split:
    raise ValueError(
        f"Metric '{names[0]}' compares D on its training reals with held-out "
        f"reals, but the evaluation split of dataset '{dataset.name}' is its "
        f"training split '{split}' (splits: {list(dataset.splits)}; "
        f"eval.split={opts.split!r}). Use a dataset with a held-out split or "
        "set eval.split to one.")
