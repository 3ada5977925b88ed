"""Fault injection for the crash tests. Off unless its environment variable is set.

`FOLLOWUPD_TEST_KILL_AFTER_APPEND=N` makes the process SIGKILL itself right after its N-th
APPEND of a draft, before the state file records it: the one window where a crash could make
a draft twice. Only the test suite and `benchmarks/chaos.py` set it; never set it in service.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "FOLLOWUPD_TEST_KILL_AFTER_APPEND"
_appends = 0


def after_append() -> None:
    """Called between a draft's APPEND and its state update."""
    global _appends  # noqa: PLW0603 - one counter per process is the point
    limit = os.environ.get(ENV)
    if not limit:
        return
    _appends += 1
    if _appends == int(limit):
        # Said on stderr first, so a test can prove the window was hit.
        sys.stderr.write("fault injection: SIGKILL between APPEND and the state update\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
