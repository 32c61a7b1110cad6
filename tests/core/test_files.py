"""File helpers: whether a directory is writable."""

from compare_gan2.core import files


def test_writable_sees_permissions(tmp_path):
  assert files.writable(str(tmp_path))
  assert not files.writable(str(tmp_path / "missing"))
