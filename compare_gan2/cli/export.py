"""`compare_gan2 export`: a run's generator and discriminator as a
SavedModel (compare_gan2/tools/hub.py).

  compare_gan2 export --model_dir RUN [--step N] --out /tmp/generator
"""

from __future__ import annotations

import argparse


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--model_dir", required=True, help="Run directory.")
  p.add_argument("--step", type=int, default=None,
                 help="Checkpoint step (default: the latest).")
  p.add_argument("--out", required=True, help="Directory to write (new or empty).")


def run(args: argparse.Namespace) -> str:
  from compare_gan2.tools import hub  # pylint: disable=g-import-not-at-top
  path = hub.export_generator(args.model_dir, args.out, step=args.step)
  print(path)
  return path
