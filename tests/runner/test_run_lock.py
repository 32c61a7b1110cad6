"""The run lock: it names its holder, refuses a second one, and a killed holder's
lock blocks nothing."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from compare_gan2.runner import RunLockedError
from compare_gan2.runner import run_lock


def test_lock_names_its_holder_and_a_second_holder_is_refused(tmp_path):
  held = run_lock.RunLock.acquire(str(tmp_path))
  info = run_lock.holder(str(tmp_path))
  assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
  # Another process cannot take it while this one holds it.
  code = ("import sys\nfrom compare_gan2.runner import run_lock\n"
          "try:\n  run_lock.RunLock.acquire(sys.argv[1])\n"
          "except run_lock.RunLockedError as e:\n  print(e)\n  sys.exit(3)\n")
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 3, result.stderr
  line = result.stdout.strip()
  assert f"pid {os.getpid()}" in line and socket.gethostname() in line, line
  assert "one trainer per run directory" in line
  held.release()
  assert run_lock.holder(str(tmp_path)) is None
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stdout + result.stderr


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
  code = ("import sys, time\nfrom compare_gan2.runner import run_lock\n"
          "run_lock.RunLock.acquire(sys.argv[1])\nprint('held', flush=True)\n"
          "time.sleep(600)\n")
  proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                          stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "held"
  with pytest.raises(RunLockedError, match=f"pid {proc.pid}"):
    run_lock.RunLock.acquire(str(tmp_path))
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=60)
  assert run_lock.holder(str(tmp_path))["pid"] == proc.pid  # the file stays ...
  run_lock.RunLock.acquire(str(tmp_path)).release()  # ... and blocks nothing
