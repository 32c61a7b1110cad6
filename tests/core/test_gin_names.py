"""The shipped table of gin configurables (gin_names.py, generated) is the
registrations' own."""

import json

from compare_gan2.core.gin_names import CONFIGURABLES
from test_gin_check import _python


def test_the_shipped_table_is_the_registrations():
  """gin_names.py is generated; a new or changed configurable without
  `python scripts/update_gin_names.py` fails here (fresh process: only
  compare_gan2's own registrations)."""
  code = ("import json, compare_gan2\nfrom compare_gan2.core import gin_check\n"
          "compare_gan2.register_all()\nprint(json.dumps(gin_check.registry_table()))")
  registered = {k: tuple(v) for k, v in json.loads(_python(code).splitlines()[-1]).items()}
  assert registered == CONFIGURABLES, "run: python scripts/update_gin_names.py"
