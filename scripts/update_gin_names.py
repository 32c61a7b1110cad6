"""Rewrites compare_gan2/core/gin_names.py from the gin configurables that
compare_gan2 registers (run after adding or changing one):

  python scripts/update_gin_names.py
"""

import os

import compare_gan2
from compare_gan2.core import gin_check

PATH = os.path.join(os.path.dirname(compare_gan2.__file__), "core", "gin_names.py")


def main() -> None:
  compare_gan2.register_all()
  with open(PATH, "w") as f:
    f.write(gin_check.table_source(gin_check.registry_table()))
  print(f"Wrote {PATH}")


if __name__ == "__main__":
  main()
