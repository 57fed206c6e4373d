"""Documentation: generated references are current, links resolve, notebooks are clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from territory_opt._docgen import generated_files, main, write_docs

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: Hand-written Markdown whose relative links must resolve.
MARKDOWN = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        REPO / "notebooks" / "README.md",
        REPO / "models" / "README.md",
        REPO / "scenarios" / "README.md",
        REPO / "bench" / "RESULTS.md",
    ]
)
#: ``[text](target)``; the target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_generated_references_are_up_to_date(tmp_path: Path) -> None:
    written = write_docs(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(generated_files())
    stale = [
        name
        for name in generated_files()
        if not (REPO / name).is_file()
        or (REPO / name).read_bytes() != (tmp_path / name).read_bytes()
    ]
    assert not stale, f"docs are stale: run `make docs` ({', '.join(stale)})"


def test_docgen_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", str(tmp_path)]) == 1
    assert "docs are stale: run `make docs`" in capsys.readouterr().err
    write_docs(tmp_path)
    assert main(["--check", str(tmp_path)]) == 0


def test_data_contract_examples_load(tmp_path: Path) -> None:
    from territory_opt import load_problem

    text = (REPO / "docs" / "data-contract.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"\*\*(\w+\.csv)\*\*[^`]*```csv\n(.*?)```", text, flags=re.DOTALL))
    assert set(blocks) == {"accounts.csv", "reps.csv", "pairs.csv", "adjacency.csv"}
    for name, body in blocks.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    problem = load_problem(
        tmp_path / "accounts.csv",
        tmp_path / "reps.csv",
        pairs=tmp_path / "pairs.csv",
        adjacency=tmp_path / "adjacency.csv",
    )
    summary = problem.summary()
    assert (summary["accounts"], summary["reps"], summary["pairs"]) == (5, 4, 8)
    assert summary["metrics"] == {"potential": 1255000.0, "workload": 230.0, "revenue_ly": 587000.0}


def test_scenario_reference_lists_every_key() -> None:
    from territory_opt.scenario.config import Quota, Scenario, Solver

    text = (REPO / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    for model in (Scenario, Quota, Solver):
        for name in model.model_fields:
            assert f"| `{name}` |" in text, name


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks hold no links
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file = target.split("#", 1)[0]
        if not (path.parent / file).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)} links to missing files: {broken}"


def test_readme_links_every_doc_and_notebook() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = set(LINK.findall(readme))
    wanted = [p.relative_to(REPO).as_posix() for p in [*(REPO / "docs").glob("*.md"), *NOTEBOOKS]]
    missing = [w for w in wanted if w not in links]
    assert not missing, f"README.md does not link {missing}"
    notebook_readme = (REPO / "notebooks" / "README.md").read_text(encoding="utf-8")
    unlisted = [p.name for p in NOTEBOOKS if f"]({p.name})" not in notebook_readme]
    assert not unlisted, f"notebooks/README.md does not list {unlisted}"


def test_notebooks_are_committed_without_outputs() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/"
    dirty = []
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        assert notebook["metadata"]["kernelspec"]["name"] == "python3", path.name
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"]):
                dirty.append(path.name)
                break
    assert not dirty, (
        f"clear the outputs of {dirty} before committing "
        "(in Jupyter: Edit > Clear Outputs of All Cells, then save)"
    )
