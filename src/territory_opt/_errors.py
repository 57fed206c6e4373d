"""Errors raised by territory-opt.

One module holds every error class so that callers (and the CLI) have one
failure policy: user mistakes are :class:`InputError` (exit code 2), proven
infeasibility is :class:`InfeasibleError` (exit code 3), and anything else is a
bug or a solver failure (exit code 1).
"""

from __future__ import annotations

from dataclasses import dataclass

#: At most this many problems are listed per error; the rest are counted.
#: 50 lines fit on one terminal screen and are enough to see a pattern.
MAX_REPORTED_ISSUES = 50


class TerritoryOptError(Exception):
    """Base class of every error territory-opt raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem found in an input file.

    Attributes
    ----------
    file
        The file name as the user gave it (or a logical name such as ``accounts``).
    row
        The row as a spreadsheet shows it (header = row 1, first record = row 2),
        or ``None`` when the problem concerns the whole file or a column.
    column
        The column name, or ``None`` when the problem concerns a whole row/file.
    problem
        What is wrong and, where possible, how to fix it.
    """

    file: str
    row: int | None
    column: str | None
    problem: str

    def __str__(self) -> str:
        """Render as ``file, row R, column 'c': problem``."""
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.problem}"


class InputError(TerritoryOptError, ValueError):
    """Bad input: names the file, row, column and the problem of each issue.

    Parameters
    ----------
    issues
        The problems found. All problems of a file are collected before raising;
        at most :data:`MAX_REPORTED_ISSUES` are listed in the message.
    total
        The total number of problems found, when more were found than are kept.
    """

    def __init__(self, issues: list[Issue] | Issue, *, total: int | None = None) -> None:
        self.issues: tuple[Issue, ...] = (issues,) if isinstance(issues, Issue) else tuple(issues)
        self.total = max(total or 0, len(self.issues))
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.issues[:MAX_REPORTED_ISSUES]
        lines = [str(i) for i in shown]
        if self.total > len(shown):
            lines.append(f"... and {self.total - len(shown)} more problem(s) not shown")
        head = "1 problem found" if self.total == 1 else f"{self.total} problems found"
        return head + " in the input:\n  " + "\n  ".join(lines)

    @classmethod
    def single(
        cls, file: str, problem: str, *, row: int | None = None, column: str | None = None
    ) -> InputError:
        """Build an error holding a single issue."""
        return cls(Issue(file, row, column, problem))


class IssueCollector:
    """Collects issues while a file is validated, then raises them all at once.

    Parameters
    ----------
    file
        File name used in every issue added through :meth:`add`.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []
        self.count = 0

    def add(self, problem: str, *, row: int | None = None, column: str | None = None) -> None:
        """Record one problem (only the first few hundred are kept in memory)."""
        self.count += 1
        if len(self.issues) < MAX_REPORTED_ISSUES:
            self.issues.append(Issue(self.file, row, column, problem))

    def raise_if_any(self) -> None:
        """Raise :class:`InputError` if any problem was recorded."""
        if self.count:
            raise InputError(self.issues, total=self.count)


class InfeasibleError(TerritoryOptError):
    """The request has no solution; ``diagnosis`` says what to relax."""

    def __init__(self, message: str, *, diagnosis: dict[str, object] | None = None) -> None:
        self.diagnosis = diagnosis or {}
        super().__init__(message)


class SolverError(TerritoryOptError):
    """A solver failed for a reason other than bad input or infeasibility."""
