"""The demo generator: deterministic, realistic, and valid under the data contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.data.demo import write_demo


def test_same_seed_same_book() -> None:
    a1, r1 = generate_demo(3000, seed=11)
    a2, r2 = generate_demo(3000, seed=11)
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(r1, r2)


def test_different_seed_different_book() -> None:
    a1, _ = generate_demo(500, seed=1)
    a2, _ = generate_demo(500, seed=2)
    assert not a1["potential"].equals(a2["potential"])


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_written_files_are_byte_identical(tmp_path: Path, fmt: str) -> None:
    digests = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        paths = write_demo(*generate_demo(300, seed=5), folder, fmt=fmt)
        if fmt == "xlsx":  # xlsx zips carry timestamps; compare the content instead
            digests.append([pd.read_excel(p).to_json() for p in paths])
        else:
            digests.append([p.read_bytes() for p in paths])
    assert digests[0] == digests[1]


def test_book_is_realistic(demo_book: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, reps = demo_book
    problem = load_problem(accounts, reps)
    potential = problem.metric("potential")
    # Heavy tail: the top 5 % of accounts hold far more than 5 % of the potential.
    top = np.sort(potential)[-len(potential) // 20 :].sum() / potential.sum()
    assert top > 0.2
    # Workload grows with potential.
    assert np.corrcoef(np.log(potential), problem.metric("workload"))[0, 1] > 0.5
    # A part-time rep and an open seat with no book yet.
    assert 0.5 in reps["capacity"].tolist()
    open_seats = reps.index[reps["rep_id"].str.startswith("OPEN")]
    assert len(open_seats) == 1
    assert (problem.current_rep != open_seats[0]).all()
    assert set(problem.segment_names) == {"commercial", "enterprise"}
    assert (problem.family >= 0).sum() > 0
    assert (problem.locked_rep >= 0).sum() > 0
    assert (problem.current_rep >= 0).all()
    # Last year's book is unbalanced: per-rep potential varies by more than +-30 %.
    per_rep = np.bincount(problem.current_rep, weights=potential, minlength=problem.n_reps)
    active = per_rep[per_rep > 0]
    assert active.max() / active.mean() > 1.3
    # Families share segment and owner; locked accounts stay with their owner.
    for fam in np.unique(problem.family[problem.family >= 0]):
        members = problem.family == fam
        assert len(set(problem.current_rep[members])) == 1
        assert len(set(problem.account_segment[members])) == 1
    locked = problem.locked_rep >= 0
    assert (problem.locked_rep[locked] == problem.current_rep[locked]).all()


@pytest.mark.parametrize("n", [100, 20_000])
def test_sizes(n: int) -> None:
    accounts, reps = generate_demo(n, seed=0)
    assert len(accounts) == n
    assert accounts["account_id"].is_unique
    assert load_problem(accounts, reps).n_accounts == n


def test_size_limits() -> None:
    with pytest.raises(ValueError, match="between 100 and 1,000,000"):
        generate_demo(50)
    with pytest.raises(ValueError, match="at least 3"):
        generate_demo(200, 2)
