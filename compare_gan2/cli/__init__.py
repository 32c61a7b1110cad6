"""The `compare_gan2` command (also `python -m compare_gan2`): one subcommand
per module of this package, `train` the default, so the original compare_gan
main.py's flag-only call works.

  compare_gan2 --model_dir /tmp/run                # = compare_gan2 train ...
  compare_gan2 train --model_dir DIR --gin_config resnet_cifar10.gin \
      --gin_bindings "options.training_steps = 1000" --schedule train_and_eval
  compare_gan2 eval --model_dir DIR [--schedule continuous_eval]
  compare_gan2 score --real digits --fake DIR_OF_PNGS
  compare_gan2 export --model_dir DIR --out GENERATOR
  compare_gan2 sample --generator GENERATOR --num 16 --out SAMPLES/
  compare_gan2 sweep --spec SPEC --out DIR --parallel 2
  compare_gan2 list [architecture|loss|...]

A subcommand's module has `add_flags(parser)` and `run(args)` (and may have
`check(parser, args)` for usage errors the flags cannot express); the
library does the work. A user error (bad config, missing data, unwritable
directory, full disk, unreadable checkpoint) ends the command with one line,
`compare_gan2: error: ...`, and exit code 1; COMPARE_GAN2_TRACEBACK=1 shows
the traceback instead. Nothing here imports TensorFlow until a command runs,
so `--help` is quick, and the gin flags (names of configurables, parameters,
references and configs) and output directories are checked before it loads.
Ctrl-C before training is one line and exit code 130.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import sys
from types import ModuleType
from typing import Any, Callable, Sequence

from compare_gan2.cli.common import ArgumentParser
from compare_gan2.core import console
from compare_gan2.core.console import error_message

DEFAULT_COMMAND = "train"


class Subcommand:
  """`compare_gan2 <name>`: the flags and `run` of `compare_gan2.cli.<module>`,
  summarised in --help."""

  def __init__(self, summary: str, module: str, *,
               errors: tuple[type[Exception], ...] = (), output_flag: str = "--out",
               needs_tensorflow: bool = True):
    self.summary = summary
    self.module = module  # imported when the command runs (or prints its --help)
    self.errors = errors  # user errors beyond console.USER_ERRORS
    self.output_flag = output_flag  # named in a disk-full message
    self.needs_tensorflow = needs_tensorflow

  def load(self) -> ModuleType:
    return importlib.import_module(f"compare_gan2.cli.{self.module}")


SUBCOMMANDS = {
    "train": Subcommand(
        "Train and/or evaluate one run configured by gin (the default command).",
        "train", output_flag="--model_dir"),
    "eval": Subcommand(
        "Evaluate an existing run's checkpoints (all kept, or as training writes them).",
        "evaluate", output_flag="--output_dir"),
    "score": Subcommand(
        "Score a folder of images against a dataset or another folder (FID, KID, ...).",
        "score", output_flag="--output"),
    "export": Subcommand(
        "Export a run's generator and discriminator as a SavedModel.",
        "export", errors=(ImportError,)),
    "sample": Subcommand(
        "Write samples (PNGs or .npz) from an exported generator or TF-Hub module.",
        "sample", errors=(ImportError,)),
    "sweep": Subcommand(
        "Run a grid of training runs from a TOML spec and summarise their scores.",
        "sweep", errors=(RuntimeError,), needs_tensorflow=False),
    "pretrain": Subcommand(
        "Train a rotation-prediction feature extractor (for infer-labels).",
        "pretrain"),
    "infer-labels": Subcommand(
        "Infer training labels (k-means or semi-supervised) into a label file.",
        "infer_labels"),
    "list": Subcommand(
        "List the registered parts (architectures, losses, metrics, ...) of a kind.",
        "list_parts", output_flag=""),
}


def _commands_help() -> str:
  width = max(len(name) for name in SUBCOMMANDS)
  lines = [f"  {name:<{width}}  {command.summary}" for name, command in SUBCOMMANDS.items()]
  return ("commands (compare_gan2 COMMAND --help shows a command's flags):\n"
          + "\n".join(lines) + f"\n\nWithout a command: {DEFAULT_COMMAND} (the flags "
          "above).\nSet COMPARE_GAN2_TRACEBACK=1 to see the traceback of an error.")


def build_parser(name: str | None = None) -> argparse.ArgumentParser:
  """The parser of subcommand `name`; None: the command without a
  subcommand (the default command's flags, and --help lists the commands)."""
  command = SUBCOMMANDS[name or DEFAULT_COMMAND]
  if name is None:
    p = ArgumentParser(
        prog="compare_gan2",
        usage="%(prog)s [train] --model_dir DIR [--gin_config FILE] [flags]\n"
              f"       %(prog)s {{{','.join(SUBCOMMANDS)}}} [flags]",
        description="Train and evaluate a GAN configured by gin, or run one of the "
                    "commands below.",
        epilog=_commands_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
  else:
    p = ArgumentParser(prog=f"compare_gan2 {name}", description=command.summary)
  command.load().add_flags(p)
  return p


def parse_args(argv: Sequence[str], name: str | None = None) -> argparse.Namespace:
  """The flags of subcommand `name` (None: the default command) in `argv`."""
  p = build_parser(name)
  args = p.parse_args(argv)
  check = getattr(SUBCOMMANDS[name or DEFAULT_COMMAND].load(), "check", None)
  if check:
    check(p, args)
  return args


def _run(name: str, command: Callable[[], Any], *,
         errors: tuple[type[Exception], ...] = (),
         output: tuple[str, str | None] | None = None) -> int:
  """Runs a command; a user error becomes one log line and exit code 1 (the
  traceback when COMPARE_GAN2_TRACEBACK is set), a bug keeps its traceback."""
  try:
    command()
  except Exception as e:  # pylint: disable=broad-except
    if (os.environ.get("COMPARE_GAN2_TRACEBACK")
        or not (isinstance(e, console.USER_ERRORS + errors)
                or console.tensorflow_user_error(e))):
      raise
    logging.getLogger("compare_gan2").error("%s: error: %s", name, error_message(e, output))
    # TF objects deleted at exit (a half-restored checkpoint) warn on stderr.
    logging.getLogger("tensorflow").setLevel(logging.CRITICAL)
    return 1
  return 0


def _start(command: Subcommand, args: argparse.Namespace) -> None:
  """The checks that need no TensorFlow (gin names, a config's name, the
  output directory: a module's `precheck`), then TensorFlow, then the command."""
  from compare_gan2.core import gin_check  # pylint: disable=g-import-not-at-top
  module = command.load()
  if hasattr(args, "gin_bindings"):
    gin_check.check_flags(getattr(args, "gin_config", []), args.gin_bindings)
  if hasattr(module, "precheck"):
    module.precheck(args)
  if command.needs_tensorflow:
    console.import_tensorflow_quietly()
  console.raise_if_interrupted()
  module.run(args)


def _interrupted(e: KeyboardInterrupt) -> int:
  signum = getattr(e, "signum", None)  # runner.TrainingInterrupted: saved, resumable
  if signum is None:  # e.g. while TensorFlow loads or the model is built
    print("compare_gan2: interrupted (SIGINT) outside training; nothing saved.",
          file=sys.stderr, flush=True)
    return 130
  print(f"compare_gan2: {e}", file=sys.stderr, flush=True)
  return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
  """The command line; returns the exit code (Ctrl-C at any point: one line,
  130)."""
  try:
    console.catch_interrupts()
    return _main(list(sys.argv[1:] if argv is None else argv))
  except KeyboardInterrupt as e:
    return _interrupted(e)


def _main(argv: list[str]) -> int:
  console.log_to_stdout()
  name = None  # the default command, called without its name
  if argv[:1] and argv[0] in SUBCOMMANDS:
    name, argv = argv[0], argv[1:]
  elif argv[:1] and not argv[0].startswith("-"):
    close = difflib.get_close_matches(argv[0], SUBCOMMANDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    ArgumentParser(prog="compare_gan2").error(
        f"unknown command '{argv[0]}'{hint}; the commands are {', '.join(SUBCOMMANDS)}")
  command = SUBCOMMANDS[name or DEFAULT_COMMAND]
  args = parse_args(argv, name)
  output_flag = command.output_flag
  output = (output_flag, getattr(args, output_flag.lstrip("-"), None)) if output_flag else None
  prog = "compare_gan2" if name is None else f"compare_gan2 {name}"
  return _run(prog, lambda: _start(command, args), errors=command.errors, output=output)
