"""Rewrites docs/parts.md from the registries (run after adding, renaming or
re-documenting a part):

  python scripts/update_parts_doc.py
"""

import os

from compare_gan2.cli import list_parts

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "docs", "parts.md")


def main() -> None:
  with open(PATH, "w") as f:
    f.write(list_parts.parts_page())
  print(f"Wrote {PATH}")


if __name__ == "__main__":
  main()
