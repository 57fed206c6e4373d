"""The comparison report of a sizing folder: the "Headcount sizing" section and sheet."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt.cli import app
from territory_opt.report import sizing as report_sizing
from territory_opt.report import write_report
from territory_opt.sizing import size_team, write_sizing
from tests.test_report import ARTIFACTS, BROWSER_ARGS, HOSTILE_SCRIPT, _chromium, _page_data
from tests.test_sizing import SPEC, request, tiny_book

runner = CliRunner()


def _sizing_folder(folder: Path, *, n_sites: int = 4, n_range: tuple[int, int] = (2, 6)) -> Path:
    """A tiny exact sizing run (two reps today, sizes 2..6) with a hostile site id."""
    accounts, reps, sites = tiny_book(4, n_sites=n_sites)
    sites.loc[0, "site_id"] = HOSTILE_SCRIPT
    result = size_team(accounts, reps, request(n_range=n_range), candidates=sites, spec=SPEC)
    return write_sizing(result, folder)


@pytest.fixture(scope="module")
def sizing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sizing_folder(tmp_path_factory.mktemp("report-sizing") / "sizing")


@pytest.fixture(scope="module")
def sizing_report(sizing_dir: Path) -> tuple[Path, Path]:
    out = sizing_dir.parent
    page, book = out / "report.html", out / "report.xlsx"
    result = runner.invoke(
        app, ["compare", str(sizing_dir), "--out", str(page), "--xlsx", str(book)]
    )
    assert result.exit_code == 0, result.output
    return page, book


def _curve(sizing_dir: Path) -> pd.DataFrame:
    return pd.read_csv(sizing_dir / "sizing.csv", keep_default_na=False, na_values=[""])


def _number(value: str) -> float:
    return float(value) if value else math.nan


def test_section_table_matches_sizing_csv(
    sizing_dir: Path, sizing_report: tuple[Path, Path]
) -> None:
    curve = _curve(sizing_dir)
    page = sizing_report[0].read_text(encoding="utf-8")
    assert '<section id="sizing">' in page and "Headcount sizing" in page
    # Every plan folder of the run is compared, in team-size order.
    planned = [p for p in curve["plan"] if isinstance(p, str) and p]
    assert planned == ["n004", "n005", "n006"]
    assert re.findall(r'<span class="plan-chip">([^<]*)</span>', page) == planned
    # The table: one row per size with the numbers of sizing.csv (full precision).
    section = page[page.index('<section id="sizing">') : page.index('<section id="kpis">')]
    rows = re.findall(r'<tr data-n="(\d+)"[^>]*>(.*?)</tr>', section, flags=re.S)
    assert [int(n) for n, _ in rows] == list(curve["n_reps"])
    for (_, body), record in zip(rows, curve.to_dict(orient="records"), strict=True):
        cells = dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', body))
        for key in (
            "n_reps",
            "new_hires",
            "removed",
            "objective",
            "lower_bound",
            "gap",
            "deviation_potential",
            "travel",
        ):
            expected = float(record[key])
            if math.isnan(expected):
                assert cells[key] == "", (record["n_reps"], key)
            else:
                assert _number(cells[key]) == pytest.approx(expected, rel=1e-9), key
        assert cells["feasible"] == record["feasible"] and cells["proof"] == record["proof"]
        marks = {m for m in ("minimum", "knee") if record[m]}
        assert set(filter(None, cells["mark"].split("; "))) == marks
    assert curve["minimum"].sum() == 1
    minimum = int(curve.loc[curve["minimum"], "n_reps"].iloc[0])
    assert f"Minimum headcount: {minimum} reps" in section
    # The hostile site id is in the table, escaped.
    assert HOSTILE_SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert page.count("<script") == 3
    # The chart data: objective and bound per size, minimum and knee.
    chart = _page_data(page)["sizing"]
    assert chart["n"] == list(curve["n_reps"])
    for got, want in zip(chart["objective"], curve["objective"], strict=True):
        assert (got is None and math.isnan(want)) or got == pytest.approx(want, rel=1e-9)
    assert chart["minimum"] == minimum
    knee = curve.loc[curve["knee"], "n_reps"]
    assert chart["knee"] == (int(knee.iloc[0]) if len(knee) else None)


def test_workbook_has_the_sizing_sheet(sizing_dir: Path, sizing_report: tuple[Path, Path]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(sizing_report[1])
    assert wb.sheetnames[:2] == ["Sizing", "KPIs"]
    sheet = wb["Sizing"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    curve = _curve(sizing_dir)
    for k, record in enumerate(curve.to_dict(orient="records"), start=2):
        row = dict(zip(header, sheet[k], strict=True))
        for key in (
            "n_reps",
            "new_hires",
            "objective",
            "lower_bound",
            "gap",
            "deviation_potential",
        ):
            expected = float(record[key])
            value = row[key].value
            if math.isnan(expected):
                assert value is None, (k, key)
            else:
                assert value == pytest.approx(expected, rel=1e-9), (k, key)
        assert row["feasible"].value == record["feasible"]
        assert row["proof"].value == record["proof"]
    first_plan = next(k for k, p in enumerate(curve["plan"], start=2) if isinstance(p, str) and p)
    cells = dict(zip(header, sheet[first_plan], strict=True))
    assert cells["gap"].number_format == "0.00%"
    assert cells["deviation_potential"].number_format == "0.00%"
    assert cells["objective"].number_format == "#,##0.00"
    assert cells["n_reps"].number_format == "#,##0"
    # The hostile site id is text, not a formula.
    col = header.index("hire_sites") + 1
    hire_sites = [sheet.cell(r, col).value for r in range(2, len(curve) + 2)]
    assert any(HOSTILE_SCRIPT in (v or "") for v in hire_sites)


def test_same_sizing_folder_gives_identical_files(sizing_dir: Path, tmp_path: Path) -> None:
    outs = []
    for run in ("a", "b"):
        report = write_report([sizing_dir], tmp_path / f"{run}.html", xlsx=tmp_path / f"{run}.xlsx")
        assert report.sizing is not None
        outs.append(
            ((tmp_path / f"{run}.html").read_bytes(), (tmp_path / f"{run}.xlsx").read_bytes())
        )
    assert outs[0] == outs[1]


def test_long_runs_compare_minimum_knee_and_largest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _sizing_folder(tmp_path / "sizing", n_sites=6, n_range=(4, 8))
    curve = _curve(folder)
    planned = [p for p in curve["plan"] if isinstance(p, str) and p]
    assert len(planned) >= 4
    monkeypatch.setattr(report_sizing, "SIZING_MAX_PLANS", 3)
    report = write_report([folder], tmp_path / "r.html")
    expected = {
        int(curve.loc[curve["minimum"], "n_reps"].iloc[0]),
        int(curve.loc[curve["plan"] == planned[-1], "n_reps"].iloc[0]),
    } | {int(n) for n in curve.loc[curve["knee"], "n_reps"]}
    assert [rp.name for rp in report.plans] == [f"n{n:03d}" for n in sorted(expected)]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "the minimum, the knee and the largest team size are compared" in page


def test_sizing_folder_errors(sizing_dir: Path, tmp_path: Path) -> None:
    twice = runner.invoke(
        app, ["compare", str(sizing_dir), str(sizing_dir), "--out", str(tmp_path / "x.html")]
    )
    assert twice.exit_code == 2 and "second sizing folder" in twice.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sizing.csv").write_text("n_reps,feasible\n3,no\n", encoding="utf-8")
    bad = runner.invoke(app, ["compare", str(broken), "--out", str(tmp_path / "x.html")])
    assert bad.exit_code == 2 and "required column" in bad.stderr
    assert "Traceback" not in bad.output
    assert not (tmp_path / "x.html").exists()


def test_sizing_report_renders_in_chromium(sizing_report: tuple[Path, Path]) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    messages: list[str] = []
    requests: list[str] = []
    start = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script("window.__alerts = []; window.alert = m => __alerts.push(m);")
            page.on(
                "console",
                lambda m: messages.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: messages.append(f"page error: {e}"))

            def block(route) -> None:  # type: ignore[no-untyped-def]
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    requests.append(route.request.url)
                    route.abort()

            page.route("**/*", block)
            page.goto(sizing_report[0].resolve().as_uri())
            page.wait_for_selector("body[data-report-ready=true]", timeout=60_000)
            assert page.locator("#sizing-chart svg.main-svg").count() > 0
            # objective line, lower bound, minimum and knee marks
            assert page.locator("#sizing-chart .scatterlayer .trace").count() >= 3
            assert page.locator("#sizing-table tbody tr").count() == 5
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-sizing.png"), full_page=True)
            assert page.evaluate("window.__alerts") == []
        finally:
            browser.close()
    print(f"browser test: {time.perf_counter() - start:.1f} s")
    assert messages == []
    assert requests == []
