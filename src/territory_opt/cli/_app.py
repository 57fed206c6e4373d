"""The typer app, its consoles, exit codes and the error policy shared by every command."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from territory_opt import __version__
from territory_opt._errors import InfeasibleError, InputError, TerritoryOptError
from territory_opt._progress import use_reporter

if TYPE_CHECKING:
    pass


EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3

app = typer.Typer(
    name="territory-opt",
    help="Sales territory and quota planning with proven bounds and reproducible plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
T = TypeVar("T")


class RichReporter:
    """Shows library progress steps on stderr."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.depth = 0

    def begin(self, label: str, total: int | None) -> None:  # noqa: ARG002 - protocol
        """Start a step."""
        self.depth += 1

    def advance(self, n: int) -> None:
        """Advance the current step (shown only as elapsed time here)."""

    def end(self, label: str, seconds: float) -> None:
        """Print the finished step with its wall time."""
        self.depth -= 1
        indent = "  " * self.depth
        self.console.print(f"[dim]{indent}{label} ... {seconds:.2f} s[/dim]")


def _guarded(action: Callable[[], T]) -> T:
    """Run ``action`` with progress shown, mapping errors to exit codes."""
    try:
        with use_reporter(RichReporter(err)):
            return action()
    except InputError as exc:
        # escape: messages may hold brackets ("territory-opt[dask]", "team.add[0]").
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    except InfeasibleError as exc:
        err.print(f"[bold red]infeasible:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_INFEASIBLE) from None
    except TerritoryOptError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: show the traceback so it can be reported
        err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"territory-opt {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Plan sales territories and quotas: balanced, explainable, CRM-ready."""


MetricOption = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="Metric column (repeatable); default: all numeric."),
]


def _parse_band(text: str) -> tuple[str, float]:
    """Parse ``potential=5%`` or ``workload=0.1`` into (metric, fraction)."""
    if "=" not in text:
        raise InputError.single("--balance", f"'{text}' is not METRIC=TOLERANCE, e.g. potential=5%")
    metric, _, value = text.partition("=")
    value = value.strip()
    try:
        tol = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        raise InputError.single(
            "--balance", f"'{value}' is not a tolerance such as 5% or 0.05"
        ) from None
    return metric.strip(), tol


MemoryLimitOption = Annotated[
    float | None,
    typer.Option(
        "--memory-limit",
        help="Refuse, before building any model, an instance estimated to need more "
        "memory than this [GB].",
    ),
]


#: Exit code of an interrupted sweep (128 + SIGINT, as shells report Ctrl-C).
EXIT_INTERRUPTED = 130
