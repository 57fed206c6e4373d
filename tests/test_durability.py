"""Durability: killed runs never leave a partial plan; Ctrl-C keeps the best plan so far.

- SIGKILL at seeded random moments of ``territory-opt align --force`` over a
  complete plan folder: the folder is always a complete plan (the old one or
  the new one), and the next run clears the temp folders a kill left behind.
- SIGINT (Ctrl-C) once a plan exists: the best plan so far is written with
  status ``time_limit`` and ``"interrupted": true``; before any plan exists:
  a message, exit 130 and nothing written.
- Every writer goes through the atomic helpers of ``territory_opt._atomic``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from territory_opt.data.demo import generate_demo, write_demo
from territory_opt.plan import read_plan
from territory_opt.testing import check_plan

BIN = Path(sys.executable).parent / "territory-opt"
SRC = Path(__file__).resolve().parents[1] / "src" / "territory_opt"
pytestmark = pytest.mark.skipif(not BIN.is_file(), reason="territory-opt is not installed")

#: Kills per test and the seed of their moments.
KILLS = 6
KILL_SEED = 20261125


def _book(folder: Path, n: int, m: int) -> tuple[Path, Path]:
    accounts, reps = generate_demo(n, m, seed=1)
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_demo(accounts, reps, folder, fmt="csv")
    return Path(paths[0]), Path(paths[1])


def _complete(plan_dir: Path) -> bool:
    """A complete plan folder: plan.json parses and every file it lists is there, intact."""
    try:
        meta = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    listed = meta.get("files_sha256") or {}
    if not {"assignments.csv", "territories.csv"} <= set(listed):
        return False
    for name, digest in listed.items():
        path = plan_dir / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return False
    return True


def _align(accounts: Path, reps: Path, out: Path, *extra: str) -> list[str]:
    return [str(BIN), "align", str(accounts), str(reps), "--out", str(out), *extra]


def test_sigkill_never_leaves_a_partial_plan(tmp_path: Path) -> None:
    accounts, reps = _book(tmp_path / "book", 300, 6)
    out = tmp_path / "plans" / "plan"
    command = _align(accounts, reps, out, "--time-limit", "0.5", "--force")
    start = time.perf_counter()
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    full = time.perf_counter() - start
    assert first.returncode == 0, first.stderr
    assert _complete(out)
    rng = np.random.default_rng(KILL_SEED)
    # Half the kills anywhere in the run, half near its end (solve done, files written).
    delays = np.concatenate(
        [rng.uniform(0.2, 1.0, KILLS // 2) * full, full - rng.uniform(0.0, 0.4, KILLS // 2)]
    )
    outcomes = []
    for delay in delays:
        before = (out / "plan.json").read_bytes()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(delay, 0.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _complete(out), f"partial plan folder after a kill at {delay:.2f} s"
        outcomes.append("old" if (out / "plan.json").read_bytes() == before else "new")
        visible = [p.name for p in out.parent.iterdir() if not p.name.startswith(".")]
        assert visible == ["plan"], visible
    last = subprocess.run(command, capture_output=True, text=True, check=False)
    assert last.returncode == 0, last.stderr
    assert _complete(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["plan"], "stale temp folders remain"
    assert len(outcomes) == KILLS


@pytest.fixture(scope="module")
def big_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 10,000-account demo book with 50 seats (its first plan takes ~10 s to find)."""
    return _book(tmp_path_factory.mktemp("book10k"), 10_000, 50)


def _interrupt_when(command: list[str], marker: str, timeout: float = 120.0) -> tuple[int, str]:
    """Run ``command``, send SIGINT once ``marker`` shows on stderr; return exit code and stderr."""
    lines = []
    sent = False
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if not sent and marker in line:
                proc.send_signal(signal.SIGINT)
                sent = True
            if time.monotonic() > deadline:
                proc.kill()
                break
        code = proc.wait(timeout=60)
    assert sent, "".join(lines)
    return code, "".join(lines)


def test_ctrl_c_after_the_first_plan_writes_it(big_book: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    start = time.monotonic()
    code, stderr = _interrupt_when(
        _align(*big_book, out, "--time-limit", "600"), "Finding a plan (LP rounding and repair)"
    )
    assert code == 0, stderr
    assert time.monotonic() - start < 120, "Ctrl-C did not stop the solve"
    assert "interrupted" in stderr and "Traceback" not in stderr
    meta = json.loads((out / "plan.json").read_text())
    assert meta["status"] == "time_limit"
    assert meta["interrupted"] is True
    assert meta["wall_times"]["solve_seconds"] < 120
    plan = read_plan(out)
    assert plan.interrupted
    check_plan(plan)


def test_ctrl_c_before_any_plan_writes_nothing(big_book: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    code, stderr = _interrupt_when(
        _align(*big_book, out, "--time-limit", "600"), "Checking feasibility"
    )
    assert code == 130, stderr
    assert "no plan was found before Ctrl-C; nothing written" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_quota_leaves_the_plan_folder_unchanged(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from territory_opt.cli import app

    accounts, reps = _book(tmp_path / "book", 200, 4)
    out = tmp_path / "plan"
    runner = CliRunner()
    made = runner.invoke(app, ["align", str(accounts), str(reps), "--out", str(out)])
    assert made.exit_code == 0, made.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # Caps that cannot reach the target: quotas are infeasible, nothing may change.
    failed = runner.invoke(
        app, ["quota", str(out), "--target", "1000000", "--ceiling", "1", "--round", "1"]
    )
    assert failed.exit_code == 3, failed.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    done = runner.invoke(app, ["quota", str(out), "--target", "1000000"])
    assert done.exit_code == 0, done.output
    meta = json.loads((out / "plan.json").read_text())
    assert {"quotas.csv", "quota_rollups.csv"} <= set(meta["files_sha256"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "plan"]


#: Modules that write files directly, each only inside a folder that
#: ``atomic_folder``/``update_folder`` made (or a private temp folder), with why.
DIRECT_WRITERS = {
    "_atomic.py": "the atomic helpers themselves",
    "cli/plans.py": "demo writes validation.json into atomic_folder's temp folder",
    "districting/output.py": "write_district_plan writes into atomic_folder's temp folder",
    "plan.py": "write_plan writes into atomic_folder's temp folder",
    "sizing/output.py": "write_sizing writes into atomic_folder's temp folder",
    "export/writer.py": "write_export writes into atomic_folder's temp folder",
    "export/generic.py": "the GeoPackage is written in a TemporaryDirectory and read back",
    "scenario/run.py": "build_plan works in a TemporaryDirectory; write_files in atomic_folder",
    "scenario/config.py": "write_schema: a developer command that regenerates schema.json",
    "data/demo.py": "write_demo: callers pass atomic_folder's temp folder (the demo command)",
    "_docgen.py": "a developer command (make docs) that regenerates the reference pages",
}
RAW_WRITE = re.compile(
    r"\.write_(bytes|text)\(|\.to_(csv|excel|parquet|file)\(\s*(path|target|out|folder|tmp)"
    r"|open\([^)]*[\"'][wa]b?[\"']"
)


def test_every_writer_goes_through_the_atomic_helpers() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in DIRECT_WRITERS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_WRITE.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], "write through territory_opt._atomic:\n" + "\n".join(offenders)


def test_temp_folders_of_live_processes_are_kept(tmp_path: Path) -> None:
    from territory_opt._atomic import atomic_folder, clean_stale

    dead = tmp_path / ".plan.tmp-999999999-abc"
    alive = tmp_path / f".plan.tmp-{os.getppid()}-abc"
    other = tmp_path / ".other.tmp-999999999-abc"
    for folder in (dead, alive, other):
        folder.mkdir()
    assert clean_stale(tmp_path / "plan") == [dead]
    with atomic_folder(tmp_path / "plan") as tmp:
        (tmp / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "plan"])
