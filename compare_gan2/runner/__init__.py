"""Training and evaluation runs: strategy, Runner, schedules."""

from compare_gan2.metrics.evaluation import Evaluator, eval_options
from compare_gan2.runner.strategy import make_strategy, split_cpu
from compare_gan2.runner.checkpoints import CorruptCheckpointError
from compare_gan2.runner.run_lock import RunLockedError
from compare_gan2.runner.train import (TRAIN_DONE, CheckpointSaveError,
                                       IncompatibleCheckpointError,
                                       NaNLossError, ReadOnlyRunError, Runner,
                                       TrainingInterrupted, run_config)
from compare_gan2.runner.schedules import SCHEDULES, evaluate_checkpoint, run_schedule
from compare_gan2.runner import evaluate  # noqa: F401  (the old path, kept)
