"""Old home of the evaluation: the protocol (`eval_options`, `Evaluator`) is
now `compare_gan2.metrics.evaluation`, the schedules and scores rows
`compare_gan2.runner.schedules`; every public name is re-exported here."""

from compare_gan2.metrics.evaluation import (EvalOptions, Evaluator,  # noqa: F401
                                             NaNSamplesError, eval_options)
from compare_gan2.runner.schedules import (SCHEDULES, checkpoint_step,  # noqa: F401
                                           continuous_eval, eval_after_train,
                                           evaluate_checkpoint,
                                           export_scored_generator,
                                           run_schedule, scored_steps,
                                           train_and_eval, write_row)
