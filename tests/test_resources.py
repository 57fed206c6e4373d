"""Resource limits: memory estimates, --memory-limit, and instances too large for a backend."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from territory_opt import InputError, generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, align
from territory_opt.alignment.resources import PAIR_LIMITS, check_resources, estimate_memory
from territory_opt.cli import app
from territory_opt.data.demo import write_demo

runner = CliRunner()
SPEC = AlignmentSpec.from_preset("balanced-travel")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """5,100 accounts × 100 seats = 510,000 pairs (above the cpsat and pulp limits)."""
    folder = tmp_path_factory.mktemp("book")
    accounts, reps = write_demo(*generate_demo(5100, 100, seed=2), folder, fmt="csv")
    return Path(accounts), Path(reps)


def test_estimate_grows_with_pairs_and_depends_on_the_backend() -> None:
    small = load_problem(*generate_demo(200, 4, seed=0))
    large = load_problem(*generate_demo(2000, 40, seed=0))
    for backend in ("highs", "highs-mip", "cpsat", "pulp"):
        assert (
            estimate_memory(large, SPEC, backend).bytes
            > estimate_memory(small, SPEC, backend).bytes
        )
    by_backend = {b: estimate_memory(large, SPEC, b).bytes for b in PAIR_LIMITS} | {
        "highs": estimate_memory(large, SPEC, "highs").bytes
    }
    assert by_backend["highs"] < by_backend["highs-mip"] < by_backend["pulp"] < by_backend["cpsat"]
    estimate = estimate_memory(large, SPEC, "highs")
    assert estimate.pairs == 80_000 and estimate.loads == 2
    # More limited quantities, more memory.
    more = SPEC.with_(max_moved_accounts=10, max_accounts=100)
    assert estimate_memory(large, more, "cpsat").bytes > estimate_memory(large, SPEC, "cpsat").bytes


def test_memory_limit_refuses_before_any_model_is_built(
    book: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    start = time.perf_counter()
    result = runner.invoke(
        app, ["align", *map(str, book), "--out", str(out), "--memory-limit", "0.1"]
    )
    assert result.exit_code == 2, result.output
    assert time.perf_counter() - start < 10
    flat = " ".join(result.stderr.split())
    assert "column 'memory_limit'" in flat
    assert "510,000 pairs needs an estimated 0.42 GB with the highs backend" in flat
    assert "above --memory-limit 0.1 GB" in flat
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("backend", ["cpsat", "pulp"])
def test_too_large_for_the_backend_points_to_highs(
    book: tuple[Path, Path], backend: str, tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    result = runner.invoke(app, ["align", *map(str, book), "--out", str(out), "--backend", backend])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.stderr.split())
    assert f"510,000 pairs is too large for the {backend} backend" in flat
    assert f"at most {PAIR_LIMITS[backend]:,} pairs" in flat
    assert "use --backend highs" in flat
    assert not out.exists()


def test_memory_limit_advises_highs_when_it_would_fit() -> None:
    problem = load_problem(*generate_demo(2000, 40, seed=0))
    with pytest.raises(InputError, match="use --backend highs, which needs far less memory"):
        check_resources(problem, SPEC, "cpsat", memory_limit=0.5)
    assert check_resources(problem, SPEC, "highs", memory_limit=0.5).gb < 0.5
    with pytest.raises(InputError, match="memory limit must be a number of gigabytes > 0"):
        align(problem, SPEC, memory_limit=-1.0)


def test_run_honours_the_memory_limit(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("inputs: {demo: {accounts: 2000, reps: 40}}\n")
    result = runner.invoke(
        app, ["run", str(scenario), "--out", str(tmp_path / "p"), "--memory-limit", "0.2"]
    )
    assert result.exit_code == 2, result.output
    assert "above --memory-limit 0.2 GB" in " ".join(result.stderr.split())
    assert not (tmp_path / "p").exists()
