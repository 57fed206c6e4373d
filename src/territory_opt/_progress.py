"""The one progress helper: library code reports steps, the CLI shows them.

Library code calls :func:`step` (a named phase) and :func:`track` (a loop with a
known length). Nothing is shown unless a reporter is installed with
:func:`use_reporter`; the CLI installs a rich reporter on stderr, tests install
none and stay silent.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")


class Reporter(Protocol):
    """Receives progress events."""

    def begin(self, label: str, total: int | None) -> None:
        """Start a step; ``total`` is its number of items when known."""

    def advance(self, n: int) -> None:
        """Count ``n`` more items of the current step as done."""

    def end(self, label: str, seconds: float) -> None:
        """End the step after ``seconds`` of wall time."""


_reporter: ContextVar[Reporter | None] = ContextVar("territory_opt_reporter", default=None)


@contextlib.contextmanager
def use_reporter(reporter: Reporter | None) -> Iterator[None]:
    """Install ``reporter`` for the duration of the ``with`` block."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


@contextlib.contextmanager
def step(label: str, total: int | None = None) -> Iterator[None]:
    """Report a named step of work (silent when no reporter is installed)."""
    reporter = _reporter.get()
    if reporter is None:
        yield
        return
    start = time.perf_counter()
    reporter.begin(label, total)
    try:
        yield
    finally:
        reporter.end(label, time.perf_counter() - start)


def advance(n: int = 1) -> None:
    """Mark ``n`` items of the current step as done."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter.advance(n)


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` while reporting progress."""
    with step(label, total):
        for item in items:
            yield item
            advance(1)
