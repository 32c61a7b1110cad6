"""The `compare_gan2` command (also `python -m compare_gan2`): the flags of
the original compare_gan main.py, plus --strategy and --num_cpu_devices.

  compare_gan2 --model_dir /tmp/run                # the quickstart config
  compare_gan2 --model_dir DIR --gin_config resnet_cifar10.gin \
      --gin_bindings "options.training_steps = 1000" --schedule train_and_eval
  compare_gan2 score --real digits --fake DIR_OF_PNGS     # see score.py
  compare_gan2 export --model_dir DIR --out GENERATOR      # see sample.py
  compare_gan2 sample --generator GENERATOR --num 16 --out SAMPLES/
  compare_gan2 sweep --spec SPEC --out DIR --parallel 2    # see sweep.py

A user error (bad config, missing data, unwritable directory, full disk,
unreadable checkpoint) ends the command with one line, `compare_gan2: error:
...`, and exit code 1; COMPARE_GAN2_TRACEBACK=1 shows the traceback instead.
This module imports no TensorFlow until a command runs, so `--help` is quick.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import logging
import os
import re
import sys
import tempfile
from typing import Any, Callable, NoReturn, Sequence

# Before TensorFlow loads. Level 3 drops TF's C++ log lines, which look like
# errors but are not (cuInit failing on a machine without a GPU, oneDNN
# notes, grappler's remapper skipping a fusion); a user's own setting wins.
_TF_LOG_LEVEL_FROM_USER = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
QUICKSTART = "quickstart.gin"

# The choices of --schedule and --strategy, written out so that parsing the
# flags (and --help) needs no TensorFlow; test_cli checks them against
# runner.evaluate.SCHEDULES and runner.strategy.STRATEGIES.
SCHEDULES = ("train", "continuous_eval", "eval_after_train", "train_and_eval")
STRATEGIES = ("default", "auto", "mirrored", "multi_worker", "tpu")

# Errors a user fixes (config, data, paths, disk): one line, exit code 1.
_USER_ERRORS = (ValueError, KeyError, OSError, FloatingPointError, MemoryError)


class Subcommand:
  """`compare_gan2 <name>`: `module.function(argv)`, summarised in --help."""

  def __init__(self, summary: str, target: str, *,
               errors: tuple[type[Exception], ...] = (), output_flag: str = "--out",
               needs_tensorflow: bool = True):
    self.summary = summary
    self.target = target  # "module:function", imported when the command runs
    self.errors = errors  # user errors beyond _USER_ERRORS
    self.output_flag = output_flag  # named in a disk-full message
    self.needs_tensorflow = needs_tensorflow

  def load(self) -> Callable[[Sequence[str]], Any]:
    module, function = self.target.split(":")
    return getattr(__import__(module, fromlist=[function]), function)


SUBCOMMANDS = {
    "score": Subcommand(
        "Score a folder of images against a dataset or another folder (FID, KID, ...).",
        "compare_gan2.score:main", output_flag="--output"),
    "export": Subcommand(
        "Export a run's generator and discriminator as a SavedModel.",
        "compare_gan2.sample:export_main", errors=(ImportError,)),
    "sample": Subcommand(
        "Write samples (PNGs or .npz) from an exported generator or TF-Hub module.",
        "compare_gan2.sample:sample_main", errors=(ImportError,)),
    "sweep": Subcommand(
        "Run a grid of training runs from a TOML spec and summarise their scores.",
        "compare_gan2.sweep:main", errors=(RuntimeError,), needs_tensorflow=False),
    "pretrain": Subcommand(
        "Train a rotation-prediction feature extractor (for infer-labels).",
        "compare_gan2.labels.pretrain:main"),
    "infer-labels": Subcommand(
        "Infer training labels (k-means or semi-supervised) into a label file.",
        "compare_gan2.labels.infer:main"),
}


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


class ArgumentParser(argparse.ArgumentParser):
  """argparse with its usage errors on one line (argparse prints the whole
  usage first)."""

  def error(self, message: str) -> NoReturn:
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _commands_help() -> str:
  width = max(len(name) for name in SUBCOMMANDS)
  lines = [f"  {name:<{width}}  {command.summary}" for name, command in SUBCOMMANDS.items()]
  return ("commands (compare_gan2 COMMAND --help shows a command's flags):\n"
          + "\n".join(lines) + "\n\nWithout a command: train and/or evaluate one run "
          "(the flags above).\nSet COMPARE_GAN2_TRACEBACK=1 to see the traceback of an error.")


def build_parser() -> argparse.ArgumentParser:
  """The flags of a training / evaluation run (no command), all defined here."""
  p = ArgumentParser(
      prog="compare_gan2",
      usage="%(prog)s --model_dir DIR [--gin_config FILE] [flags]\n"
            f"       %(prog)s {{{','.join(SUBCOMMANDS)}}} [flags]",
      description="Train and evaluate a GAN configured by gin, or run one of the "
                  "commands below.",
      epilog=_commands_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
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
  p.add_argument("--strategy", default="default", choices=STRATEGIES,
                 help="auto: a TPU with --tpu or where one is announced ($TPU_NAME, "
                      "$COLAB_TPU_ADDR, /dev/accel*), mirrored over several GPUs, "
                      "else default.")
  p.add_argument("--tpu", default=None,
                 help="TPU name, grpc://HOST:PORT or local (--strategy tpu; default: "
                      "$TPU_NAME, else grpc://$COLAB_TPU_ADDR, else local).")
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
  return p


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  return build_parser().parse_args(argv)


class _StdoutHandler(logging.StreamHandler):
  """Writes to whatever sys.stdout is at the time (pytest swaps it)."""

  def __init__(self):
    super().__init__(sys.stdout)

  @property
  def stream(self):
    return sys.stdout

  @stream.setter
  def stream(self, value):
    del value


def _log_to_stdout() -> None:
  """compare_gan2's progress lines on stdout, without TF's own INFO chatter."""
  logger = logging.getLogger("compare_gan2")
  if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False


# Lines TensorFlow's shared libraries print while they load, before any log
# level applies; harmless, and they look like errors.
_TF_LOAD_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\]"
    r"|To enable the following instructions:")


def _import_tensorflow_quietly() -> None:
  """Imports TensorFlow with its load-time banner filtered out of stderr
  (other lines pass). Skipped when the user set TF_CPP_MIN_LOG_LEVEL."""
  if "tensorflow" in sys.modules or _TF_LOG_LEVEL_FROM_USER:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode(errors="replace").splitlines(keepends=True)
      sys.stderr.write("".join(l for l in lines if not _TF_LOAD_CHATTER.match(l)))
      sys.stderr.flush()


# --- Errors ---------------------------------------------------------------------------

_GIN_LOCATION = re.compile(r'\n\s*In file "([^"]*)", line (\d+)\n\s*([^\n]*)')
_GIN_CALL = re.compile(r"\n\s*In call to configurable '([^']*)' \(<[^\n]*?>\)")
_TF_DECORATION = re.compile(r"\{\{function_node [^}]*\}\}|\[Op:[^\]]*\]( name: \S*)?")
_CHECKPOINT_FILE = re.compile(r"checkpoint|\.ckpt|TensorBundle|TensorSliceReader|sstable")


def one_line(text: str) -> str:
  """An error message on one line: gin's location and call notes become
  parentheses, TF's op decorations go, the other lines are joined."""
  text = _GIN_CALL.sub(lambda m: f" (in configurable '{m[1]}')", text)
  text = _GIN_LOCATION.sub(lambda m: f" (in {m[1]}, line {m[2]}: {m[3].strip()})", text)
  text = _TF_DECORATION.sub(" ", text)
  return re.sub(r"\s+", " ", text).strip()


def _tensorflow_user_error(e: BaseException) -> bool:
  """A TF error a user fixes: an unreadable or missing file (checkpoints),
  no permission, a full disk. Other TF errors keep their traceback."""
  tf = sys.modules.get("tensorflow")
  if tf is None or not isinstance(e, tf.errors.OpError):
    return False
  if isinstance(e, (tf.errors.DataLossError, tf.errors.NotFoundError,
                    tf.errors.PermissionDeniedError)):
    return True
  return bool(_CHECKPOINT_FILE.search(e.message)) or "No space left" in e.message


def error_message(e: BaseException, output: tuple[str, str | None] | None = None) -> str:
  """`Type: message` on one line; a disk-full error that names no file
  names the command's output (`output` = (flag, path))."""
  tf = sys.modules.get("tensorflow")
  if tf is not None and isinstance(e, tf.errors.OpError):
    text = e.message
  elif isinstance(e, KeyError) and type(e).__str__ is KeyError.__str__ and e.args:
    text = str(e.args[0])  # KeyError's str() is the repr of its argument
  else:
    text = str(e)
  text = one_line(text) or repr(e)
  disk_full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
               or "No space left" in text)
  if disk_full and output and output[1] and output[1] not in text:
    text += f" (while writing {output[0]} '{output[1]}')"
  return f"{type(e).__name__}: {text}"


def _run(name: str, command: Callable[[], Any], *,
         errors: tuple[type[Exception], ...] = (),
         output: tuple[str, str | None] | None = None) -> int:
  """Runs a command; a user error becomes one log line and exit code 1 (the
  traceback when COMPARE_GAN2_TRACEBACK is set), a bug keeps its traceback."""
  try:
    command()
  except Exception as e:  # pylint: disable=broad-except
    if (os.environ.get("COMPARE_GAN2_TRACEBACK")
        or not (isinstance(e, _USER_ERRORS + errors) or _tensorflow_user_error(e))):
      raise
    logging.getLogger("compare_gan2").error("%s: error: %s", name, error_message(e, output))
    # TF objects deleted at exit (a half-restored checkpoint) warn on stderr.
    logging.getLogger("tensorflow").setLevel(logging.CRITICAL)
    return 1
  return 0


def _flag_value(argv: Sequence[str], flag: str) -> str | None:
  for i, arg in enumerate(argv):
    if arg == flag and i + 1 < len(argv):
      return argv[i + 1]
    if arg.startswith(flag + "="):
      return arg[len(flag) + 1:]
  return None


def check_output_dir(flag: str, path: str) -> None:
  """Raises (one-line message) if the local directory `path` is a file or
  cannot be created; remote paths (gs://...) are left to TensorFlow."""
  if "://" in path:
    return
  path = os.path.abspath(os.path.expanduser(path))
  if os.path.exists(path) and not os.path.isdir(path):
    raise NotADirectoryError(f"{flag} '{path}' is a file, not a directory.")
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise NotADirectoryError(f"{flag} '{path}' cannot be created: '{existing}' is a "
                             "file, not a directory.")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise PermissionError(f"{flag} '{path}' cannot be " + (
        "written" if existing == path else "created") + f": no write permission in "
        f"'{existing}'.")


def check_fake_data_flag(model_dir: str, fake_data: bool) -> None:
  """Refuses to continue a run on other data than its checkpoints saw:
  run.json records --data_fake_dataset."""
  from compare_gan2.runner.train import RUN_INFO  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(model_dir, RUN_INFO)
  if not tf.io.gfile.exists(path):
    return
  with tf.io.gfile.GFile(path) as f:
    saved = json.load(f).get("fake_data")
  if saved is None or saved == fake_data or not tf.train.latest_checkpoint(model_dir):
    return
  was, fix = ("random (fake)", "pass") if saved else ("real", "drop")
  raise ValueError(f"{model_dir} holds checkpoints trained on {was} data (run.json); "
                   f"{fix} --data_fake_dataset to continue it, or use a new --model_dir.")


# --- Commands -------------------------------------------------------------------------

def _train(args: argparse.Namespace) -> None:
  check_output_dir("--model_dir", args.model_dir)
  _import_tensorflow_quietly()
  from compare_gan2.runner import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  if args.num_cpu_devices:
    strategy_lib.split_cpu(args.num_cpu_devices)  # before any TF op
  from compare_gan2 import config  # pylint: disable=g-import-not-at-top
  from compare_gan2.runner import Runner, run_schedule  # pylint: disable=g-import-not-at-top
  configs = [resolve_config(c) for c in (args.gin_config or [QUICKSTART])]
  config.parse(configs, args.gin_bindings)
  check_fake_data_flag(args.model_dir, args.data_fake_dataset)
  strategy = strategy_lib.make_strategy(args.strategy, tpu=args.tpu)
  runner = Runner(args.model_dir, strategy=strategy, fake_data=args.data_fake_dataset,
                  tfds_data_dir=args.tfds_data_dir, restart=args.restart)
  run_schedule(runner, args.schedule, score_filename=args.score_filename,
               num_eval_averaging_runs=args.num_eval_averaging_runs,
               eval_every_steps=args.eval_every_steps, poll_seconds=args.eval_poll_seconds,
               output_dir=args.output_dir)
  logging.getLogger("compare_gan2").info("Done: %s", args.model_dir)


def _subcommand(name: str, argv: Sequence[str]) -> int:
  command = SUBCOMMANDS[name]
  if command.needs_tensorflow and not {"-h", "--help"} & set(argv):
    _import_tensorflow_quietly()
  return _run(f"compare_gan2 {name}", lambda: command.load()(argv), errors=command.errors,
              output=(command.output_flag, _flag_value(argv, command.output_flag)))


def main(argv: Sequence[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  _log_to_stdout()
  if argv[:1] and argv[0] in SUBCOMMANDS:
    return _subcommand(argv[0], argv[1:])
  if argv[:1] and not argv[0].startswith("-"):
    close = difflib.get_close_matches(argv[0], SUBCOMMANDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    build_parser().error(f"unknown command '{argv[0]}'{hint}; the commands are "
                         f"{', '.join(SUBCOMMANDS)}")
  args = parse_args(argv)
  if args.restart and args.schedule == "continuous_eval":
    build_parser().error("--restart trains from step 0; continuous_eval does not "
                         "train. Pass it to the training command.")
  try:
    return _run("compare_gan2", lambda: _train(args), output=("--model_dir", args.model_dir))
  except KeyboardInterrupt as e:
    signum = getattr(e, "signum", None)  # runner.TrainingInterrupted: saved, resumable
    if signum is None:
      print("compare_gan2: interrupted (SIGINT) outside training; nothing saved.",
            file=sys.stderr, flush=True)
      return 130
    print(f"compare_gan2: {e}", file=sys.stderr, flush=True)
    return 128 + signum


if __name__ == "__main__":
  sys.exit(main())
