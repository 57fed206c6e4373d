"""Ctrl-C during a solve: stop early and keep the best plan found so far.

The CLI wraps a solve in :func:`stop_on_sigint`. The first SIGINT then only
sets a flag, which the alignment pipeline treats as "the time limit is
reached": its clock reports no time left, heuristic loops stop at their next
check (:func:`expired`), and running HiGHS solves are stopped through HiGHS's
interrupt callbacks (:func:`watch_highs`). The plan found so far is returned
with status ``time_limit`` and ``interrupted`` set. A second SIGINT raises
:class:`KeyboardInterrupt` as usual (abort, nothing written).

Library callers that never arm the handler are unaffected: without it the
flag is never set, and no callback is attached to HiGHS.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

_requested = threading.Event()
_armed = threading.Event()

#: Printed on stderr at the first Ctrl-C (from the handler, so plain bytes).
NOTICE = (
    b"\ninterrupted: stopping the solve and keeping the best plan found so far "
    b"(press Ctrl-C again to abort without writing)\n"
)


def requested() -> bool:
    """Return True once Ctrl-C was pressed during an armed solve."""
    return _requested.is_set()


def armed() -> bool:
    """Return True while :func:`stop_on_sigint` is active."""
    return _armed.is_set()


def request() -> None:
    """Ask the running solve to stop as if its time limit were reached."""
    _requested.set()


def expired(deadline: float) -> bool:
    """Return True once ``deadline`` (``time.perf_counter()``) passed or Ctrl-C was pressed."""
    return _requested.is_set() or time.perf_counter() > deadline


@contextlib.contextmanager
def stop_on_sigint() -> Iterator[None]:
    """Make the first SIGINT stop the solve gracefully (see the module notes).

    Outside the main thread (where signal handlers cannot be installed) this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal API
        if _requested.is_set():
            raise KeyboardInterrupt
        _requested.set()
        with contextlib.suppress(OSError):
            os.write(2, NOTICE)

    previous = signal.signal(signal.SIGINT, handler)
    _armed.set()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _armed.clear()
        _requested.clear()


def _stop_highs(event: Any) -> None:
    """HiGHS interrupt callback: stop the solve once Ctrl-C was pressed."""
    if _requested.is_set():
        event.interrupt()


def watch_highs(highs: Any) -> None:
    """Let Ctrl-C stop a HiGHS solve (simplex, interior point and MIP).

    Only attached while :func:`stop_on_sigint` is active: the callbacks run
    Python code during the solve, which is also what lets the signal handler
    run while HiGHS works.
    """
    if not _armed.is_set():
        return
    for event in (highs.cbSimplexInterrupt, highs.cbIpmInterrupt, highs.cbMipInterrupt):
        event.subscribe(_stop_highs)
