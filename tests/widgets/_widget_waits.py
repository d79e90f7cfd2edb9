"""Waiting for live views in tests (imported by name: conftest modules of two folders would collide)."""

from __future__ import annotations

import time


def wait_idle(*views, timeout: float = 60.0) -> None:
    """Wait until every view drew everything its source sent (and the source ended)."""
    deadline = time.monotonic() + timeout
    while not all(v.feed.idle for v in views):
        assert time.monotonic() < deadline, "a live view did not catch up with its source"
        time.sleep(0.02)
    for v in views:
        assert v.feed.error is None, v.feed.error
        v.feed.flush()  # the final state, drawn synchronously
