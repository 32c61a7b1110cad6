"""`python -m compare_gan2.cli`: the same as `python -m compare_gan2`."""

import sys

from compare_gan2.cli import main

sys.exit(main())
