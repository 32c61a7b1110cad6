"""The `compare_gan2` command (also `python -m compare_gan2`): the flags of
the original compare_gan main.py, plus --strategy and --num_cpu_devices.

  compare_gan2 --model_dir /tmp/run                # the quickstart config
  compare_gan2 --model_dir DIR --gin_config resnet_cifar10.gin \
      --gin_bindings "options.training_steps = 1000" --schedule train_and_eval
  compare_gan2 score --real digits --fake DIR_OF_PNGS     # see score.py
  compare_gan2 export --model_dir DIR --out GENERATOR      # see sample.py
  compare_gan2 sample --generator GENERATOR --num 16 --out SAMPLES/
  compare_gan2 sweep --spec SPEC --out DIR --parallel 2    # see sweep.py
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable, Sequence

# Before TensorFlow loads: its C++ start-up chatter hides the progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
QUICKSTART = "quickstart.gin"


def resolve_config(path: str) -> str:
  """A gin file path, or the name of a config shipped in compare_gan2/configs
  ("resnet_cifar10" or "resnet_cifar10.gin")."""
  if os.path.exists(path):
    return path
  name = path if path.endswith(".gin") else path + ".gin"
  shipped = os.path.join(CONFIG_DIR, os.path.normpath(name))
  if os.path.exists(shipped):
    return shipped
  available = sorted(os.path.relpath(os.path.join(d, f), CONFIG_DIR)[:-4]
                     for d, _, files in os.walk(CONFIG_DIR) for f in files
                     if f.endswith(".gin") and not f.endswith("_base.gin"))
  raise FileNotFoundError(f"No gin config '{path}': not a file, and not one of "
                          f"the shipped configs: {', '.join(available)}.")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  from compare_gan2.runner.evaluate import SCHEDULES  # light: no TF work
  from compare_gan2.runner.strategy import STRATEGIES
  p = argparse.ArgumentParser(
      prog="compare_gan2", description="Train and evaluate a GAN configured by gin.")
  p.add_argument("--model_dir", required=True, help="Run directory.")
  p.add_argument("--gin_config", action="append", default=[],
                 help="Gin file, or a shipped config name (repeatable). "
                      f"Default: {QUICKSTART}.")
  p.add_argument("--gin_bindings", action="append", default=[],
                 help='Gin binding, e.g. "options.batch_size = 32" (repeatable).')
  p.add_argument("--schedule", default="train", choices=SCHEDULES)
  p.add_argument("--score_filename", default="scores.csv")
  p.add_argument("--num_eval_averaging_runs", type=int, default=3)
  p.add_argument("--eval_every_steps", type=int, default=5000)
  p.add_argument("--tfds_data_dir", default=None,
                 help="Directory of prepared tfds datasets.")
  p.add_argument("--data_fake_dataset", action=argparse.BooleanOptionalAction,
                 default=False, help="Random data of the dataset's shape.")
  p.add_argument("--strategy", default="default", choices=STRATEGIES)
  p.add_argument("--tpu", default=None, help="TPU name or address (--strategy tpu).")
  p.add_argument("--num_cpu_devices", type=int, default=None,
                 help="Split the CPU into N logical devices (try mirrored "
                      "training without GPUs).")
  p.add_argument("--eval_poll_seconds", type=float, default=10.0,
                 help="continuous_eval: seconds between looks for checkpoints.")
  p.add_argument("--restart", action="store_true",
                 help="Train from step 0 although --model_dir holds a run (its "
                      "contents move to restarted-<time>/ inside it). Without "
                      "it, training resumes from the newest good checkpoint.")
  p.add_argument("--output_dir", default=None,
                 help="Evaluation schedules: write scores.csv, generators/ and "
                      "eval scalars here instead of --model_dir (needed when "
                      "--model_dir is read-only).")
  return p.parse_args(argv)


def _log_to_stdout() -> None:
  """compare_gan2's progress lines on stdout, without TF's own INFO chatter."""
  logger = logging.getLogger("compare_gan2")
  if not logger.handlers:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  _log_to_stdout()
  if argv[:1] == ["score"]:
    return _score(argv[1:])
  if argv[:1] in (["pretrain"], ["infer-labels"]):
    return _label_command(argv[0], argv[1:])
  if argv[:1] in (["export"], ["sample"]):
    return _generator_command(argv[0], argv[1:])
  if argv[:1] == ["sweep"]:
    from compare_gan2 import sweep
    return _run_subcommand("sweep", sweep.main, argv[1:], _USER_ERRORS + (RuntimeError,))
  args = parse_args(argv)
  if args.restart and args.schedule == "continuous_eval":
    logging.getLogger("compare_gan2").error(
        "compare_gan2: error: --restart trains from step 0; continuous_eval "
        "does not train. Pass it to the training command.")
    return 2
  from compare_gan2.runner import strategy as strategy_lib
  if args.num_cpu_devices:
    strategy_lib.split_cpu(args.num_cpu_devices)  # before any TF op
  from compare_gan2 import config
  from compare_gan2.runner import Runner, TrainingInterrupted, run_schedule
  logger = logging.getLogger("compare_gan2")
  try:
    configs = [resolve_config(c) for c in (args.gin_config or [QUICKSTART])]
    config.parse(configs, args.gin_bindings)
    strategy = strategy_lib.make_strategy(args.strategy, tpu=args.tpu)
    runner = Runner(args.model_dir, strategy=strategy,
                    fake_data=args.data_fake_dataset,
                    tfds_data_dir=args.tfds_data_dir, restart=args.restart)
    run_schedule(runner, args.schedule, score_filename=args.score_filename,
                 num_eval_averaging_runs=args.num_eval_averaging_runs,
                 eval_every_steps=args.eval_every_steps,
                 poll_seconds=args.eval_poll_seconds, output_dir=args.output_dir)
  except TrainingInterrupted as e:  # SIGINT/SIGTERM: saved, resumable
    print(f"compare_gan2: {e}", file=sys.stderr, flush=True)
    return 128 + e.signum
  except KeyboardInterrupt:  # outside the training loop: nothing to save
    print("compare_gan2: interrupted (SIGINT) outside training; nothing saved.",
          file=sys.stderr, flush=True)
    return 130
  except (ValueError, KeyError, FileNotFoundError, FloatingPointError) as e:
    # Configuration and data errors: the message says it all. Set
    # COMPARE_GAN2_TRACEBACK=1 for the full trace.
    if os.environ.get("COMPARE_GAN2_TRACEBACK"):
      raise
    logger.error("compare_gan2: error: %s: %s", type(e).__name__, e)
    return 1
  logger.info("Done: %s", args.model_dir)
  return 0


def _run_subcommand(name: str, command: Callable[[Sequence[str]], Any],
                    argv: Sequence[str], errors: tuple[type[Exception], ...]) -> int:
  """Runs `compare_gan2 <name>`; the user errors `errors` become one log line
  and exit code 1 (the traceback with COMPARE_GAN2_TRACEBACK set)."""
  try:
    command(argv)
  except errors as e:
    if os.environ.get("COMPARE_GAN2_TRACEBACK"):
      raise
    logging.getLogger("compare_gan2").error("compare_gan2 %s: error: %s: %s", name,
                                            type(e).__name__, e)
    return 1
  return 0


_USER_ERRORS = (ValueError, KeyError, FileNotFoundError)


def _score(argv: Sequence[str]) -> int:
  from compare_gan2 import score
  return _run_subcommand("score", score.main, argv, _USER_ERRORS + (FloatingPointError,))


def _generator_command(name: str, argv: Sequence[str]) -> int:
  """`export` and `sample` (compare_gan2/sample.py)."""
  from compare_gan2 import sample
  command = sample.export_main if name == "export" else sample.sample_main
  return _run_subcommand(name, command, argv,
                         _USER_ERRORS + (FileExistsError, ImportError))


def _label_command(name: str, argv: Sequence[str]) -> int:
  """`pretrain` and `infer-labels`: the label-inference pipeline."""
  if name == "pretrain":
    from compare_gan2.labels import pretrain as command
  else:
    from compare_gan2.labels import infer as command
  return _run_subcommand(name, command.main, argv, _USER_ERRORS + (FloatingPointError,))


if __name__ == "__main__":
  sys.exit(main())
