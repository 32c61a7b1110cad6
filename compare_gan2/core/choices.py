"""The choices of the run flags, without TensorFlow: the command line
parses them (and prints --help) before TensorFlow loads, and the runner
checks its arguments against the same tuples."""

# The schedules of the original runner (runner.schedules.run_schedule).
SCHEDULES = ("train", "continuous_eval", "eval_after_train", "train_and_eval")
# The distribution strategies (runner.strategy.make_strategy).
STRATEGIES = ("default", "auto", "mirrored", "multi_worker", "tpu")
# The label-inference methods (labels.infer.infer_labels).
LABEL_METHODS = ("kmeans", "semi_supervised")
