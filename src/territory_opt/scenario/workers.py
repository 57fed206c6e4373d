"""Where sweep points run: spawned local processes or a Dask cluster.

Workers build a point's plan folder in a temp folder and send its files back;
they never write to the sweep's output folder, so stopping them at any moment
leaves nothing half-written there. In local processes Ctrl-C is left to the
sweep process, which stops the workers with SIGTERM; each worker then removes
its temp folder and exits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import FrameType
from typing import Any

from territory_opt._errors import InfeasibleError, InputError
from territory_opt._progress import step
from territory_opt.scenario.load import LoadedScenario
from territory_opt.scenario.run import BuiltPlan, build_plan

#: ``dask`` value that starts a local Dask cluster instead of connecting to one.
LOCAL_DASK = "local"
#: How long to try reaching a Dask scheduler before giving up [s].
DASK_CONNECT_SECONDS = 10
#: Exit status of a worker stopped by SIGTERM (128 + 15, as a shell reports it).
_TERMINATED = 143

#: One point to run: its name, its scenario and the final folder of its plan.
Task = tuple[str, LoadedScenario, str]
#: What a runner yields for each finished point.
Finished = Generator[tuple[str, "PointOutcome"], None, None]


@dataclass(frozen=True)
class PointOutcome:
    """What a worker sends back: the built folder, or why the point failed."""

    built: BuiltPlan | None = None
    error_kind: str | None = None
    error: str | None = None


def compute_point(scenario: LoadedScenario, plan_dir: str) -> PointOutcome:
    """Build one point's plan folder in memory (runs in a worker; never raises for a bad point)."""
    try:
        built, _, _ = build_plan(scenario, plan_dir=plan_dir)
    except InputError as exc:
        return PointOutcome(error_kind="input", error=str(exc))
    except InfeasibleError as exc:
        return PointOutcome(error_kind="infeasible", error=str(exc))
    except Exception as exc:  # a bug or a solver crash: keep the traceback for the report
        detail = "".join(traceback.format_exception(exc)).rstrip()
        return PointOutcome(error_kind="error", error=f"{type(exc).__name__}: {exc}\n{detail}")
    return PointOutcome(built=built)


# ---------------------------------------------------------------- interruption
class _Stopped(BaseException):
    """Raised in a worker by SIGTERM, so that temp folders are removed on the way out."""


def _stop_worker(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal API
    raise _Stopped


def _worker_init() -> None:
    """Workers leave Ctrl-C to the sweep process, which stops them with SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _pool_task(scenario: LoadedScenario, plan_dir: str) -> PointOutcome:
    try:
        return compute_point(scenario, plan_dir)
    except _Stopped:
        os._exit(_TERMINATED)  # the temp folder is gone; leave without more work


def _workers(jobs: int, todo: int) -> int:
    return max(1, min(jobs if jobs > 0 else (os.cpu_count() or 1), todo))


def _failure(exc: BaseException) -> PointOutcome:
    return PointOutcome(error_kind="error", error=f"{type(exc).__name__}: {exc}")


def run_in_processes(tasks: Sequence[Task], *, jobs: int) -> Finished:
    """Run points in spawned local processes; yield ``(name, outcome)`` as each finishes.

    ``jobs`` workers (0: one per core), never more than there are points.
    Closing the generator before the end stops the workers.
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=_workers(jobs, len(tasks)), mp_context=context, initializer=_worker_init
    )
    futures: dict[Future[PointOutcome], str] = {
        pool.submit(_pool_task, scenario, plan_dir): name for name, scenario, plan_dir in tasks
    }
    done = False
    try:
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # a worker died (killed, out of memory)
                outcome = _failure(exc)
            yield futures[future], outcome
        done = True
    finally:
        if not done:
            # Stop the workers (SIGTERM: each removes its temp folder and exits). The
            # pool then reports the unfinished points as broken; none is written.
            stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
            if stop is not None:
                stop()
            else:
                for process in list(pool._processes.values()):
                    process.terminate()
        pool.shutdown(wait=True)


def import_dask() -> tuple[Any, Any, Any]:
    """Return Dask's ``Client``, ``LocalCluster`` and ``as_completed``, or say how to get them."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError.single(
            "--dask",
            "Dask is not installed; install the extra: pip install 'territory-opt[dask]'",
        ) from None
    return Client, LocalCluster, as_completed


def run_on_dask(tasks: Sequence[Task], *, jobs: int, address: str) -> Finished:
    """Run points on a Dask cluster; yield ``(name, outcome)`` as each finishes.

    ``address`` is a scheduler address (``tcp://host:8786``) or ``local`` for a
    local cluster of ``jobs`` worker processes (0: one per core).
    """
    client_type, cluster_type, dask_completed = import_dask()
    cluster = None
    with step("Starting Dask"):
        if address == LOCAL_DASK:
            cluster = cluster_type(
                n_workers=_workers(jobs, len(tasks)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = client_type(cluster)
        else:
            try:
                client = client_type(address, timeout=DASK_CONNECT_SECONDS)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError.single(
                    "--dask", f"cannot reach the Dask scheduler at '{address}': {exc}"
                ) from None
    futures = {
        client.submit(compute_point, scenario, plan_dir, pure=False): name
        for name, scenario, plan_dir in tasks
    }
    try:
        for future in dask_completed(list(futures)):
            try:
                outcome = future.result()
            except Exception as exc:  # a worker died or the task could not run
                outcome = _failure(exc)
            yield futures[future], outcome
    finally:
        client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()
