"""Training and evaluation runs: strategy, Runner, schedules."""

from compare_gan2.runner.evaluate import (SCHEDULES, Evaluator, evaluate_checkpoint,
                                          eval_options, run_schedule)
from compare_gan2.runner.strategy import make_strategy, split_cpu
from compare_gan2.runner.checkpoints import CorruptCheckpointError
from compare_gan2.runner.train import (TRAIN_DONE, CheckpointSaveError,
                                       IncompatibleCheckpointError,
                                       NaNLossError, ReadOnlyRunError, Runner,
                                       TrainingInterrupted, run_config)
