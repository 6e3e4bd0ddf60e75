"""Loaded by every Python process of a `make test-faketime` run (the suite script
puts this folder on PYTHONPATH), and only then.

libfaketime 0.9.10 (Debian 12) moves the wall clock and, with
FAKETIME_DONT_FAKE_MONOTONIC=1, leaves the monotonic clock real so that timed
waits (locks, Events, queues) last what they say. But it still shifts the
absolute deadline Python's time.sleep() hands to clock_nanosleep(), which then
fails with EINVAL. select() waits the same time without an absolute deadline.
"""

import os
import select
import time

if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":
    _monotonic = time.monotonic

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = _monotonic() + seconds
        while (left := deadline - _monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
