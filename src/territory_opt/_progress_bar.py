"""A progress reporter that draws bars: for long loops shown by the CLI (``size``).

Steps with a known length (:func:`territory_opt._progress.track`) become rich
progress bars; the steps inside them only update the bar's description, so a
loop of many solves shows one moving bar instead of hundreds of lines. Steps
outside any bar are printed with their wall time, as the CLI's default
reporter does.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class BarReporter:
    """Shows ``track`` loops as progress bars on a console (stderr in the CLI)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.stack: list[tuple[str, TaskID | None]] = []

    def _bar(self) -> tuple[str, TaskID] | None:
        for label, task in reversed(self.stack):
            if task is not None:
                return label, task
        return None

    def begin(self, label: str, total: int | None) -> None:
        """Start a step: a new bar when its length is known, else a note on the current bar."""
        if total is None:
            bar = self._bar()
            if bar is not None and self.progress is not None:
                self.progress.update(bar[1], description=f"{bar[0]} [dim]· {label}[/dim]")
            self.stack.append((label, None))
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.progress.start()
        self.stack.append((label, self.progress.add_task(label, total=total)))

    def advance(self, n: int) -> None:
        """Advance the innermost bar."""
        bar = self._bar()
        if bar is not None and self.progress is not None:
            self.progress.advance(bar[1], n)

    def end(self, label: str, seconds: float) -> None:
        """End a step; a finished bar is replaced by one line with its wall time."""
        _, task = self.stack.pop()
        bar = self._bar()
        if task is None:
            if bar is None:
                indent = "  " * len(self.stack)
                self.console.print(f"[dim]{indent}{label} ... {seconds:.2f} s[/dim]")
            elif self.progress is not None:
                self.progress.update(bar[1], description=bar[0])
            return
        assert self.progress is not None
        self.progress.remove_task(task)
        self.console.print(f"[dim]{'  ' * len(self.stack)}{label} ... {seconds:.2f} s[/dim]")
        if bar is None:
            self.progress.stop()
            self.progress = None
