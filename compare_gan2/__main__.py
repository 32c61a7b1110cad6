"""`python -m compare_gan2`: the command-line runner."""

import sys

from compare_gan2.cli import main

sys.exit(main())
