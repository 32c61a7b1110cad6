"""Training and evaluation runs: the strategy, the Runner and its parts, the
schedules. The names below are the package's public face (their one path in
the docs); the parts' own names live in their modules."""

from compare_gan2.runner.checkpoints import CorruptCheckpointError
from compare_gan2.runner.errors import (CheckpointSaveError, IncompatibleCheckpointError,
                                        NaNLossError, ReadOnlyRunError, TrainingInterrupted)
from compare_gan2.runner.run_dir import TRAIN_DONE
from compare_gan2.runner.run_lock import RunLockedError
from compare_gan2.runner.schedules import SCHEDULES, evaluate_checkpoint, run_schedule
from compare_gan2.runner.settings import run_config
from compare_gan2.runner.strategy import make_strategy, split_cpu
from compare_gan2.runner.train import Runner
