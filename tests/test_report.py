"""The plan comparison report: KPIs, escaping, workbook, moved accounts, CLI, browser."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import load_problem
from territory_opt.alignment import AlignmentSpec, align
from territory_opt.cli import app
from territory_opt.data.demo import generate_demo, write_demo
from territory_opt.plan import read_plan, refresh_plan_hashes, write_plan
from territory_opt.quota import QuotaSettings, set_quotas, write_quotas
from territory_opt.report import (
    build_report,
    comparisons,
    kpi_table,
    load_plans,
    write_report,
)

runner = CliRunner()

HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_FORMULA = '=HYPERLINK("http://example.com/x","click me")'
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-account book with two hostile account names, two plans and quotas.

    The hostile accounts are locked to another rep of their segment, so they
    move in every plan and show up in the moved-accounts tables.
    """
    folder = tmp_path_factory.mktemp("report-book")
    accounts, reps = generate_demo(300, seed=5)
    accounts = accounts.copy()
    parents = set(accounts["parent_id"]) - {""}
    free = accounts.index[
        (accounts["parent_id"] == "")
        & ~accounts["account_id"].isin(parents)
        & (accounts["locked_rep"] == "")
        & (accounts["excluded_reps"] == "")
        & (accounts["current_rep"] != "")
    ]
    for pos, name in zip(free[:2], (HOSTILE_SCRIPT, HOSTILE_FORMULA), strict=True):
        same = (reps["segment"] == accounts.at[pos, "segment"]) & (
            reps["rep_id"] != accounts.at[pos, "current_rep"]
        )
        accounts.at[pos, "name"] = name
        accounts.at[pos, "locked_rep"] = reps.loc[same, "rep_id"].iloc[0]
    write_demo(accounts, reps, folder)
    problem = load_problem(folder / "accounts.csv", folder / "reps.csv")
    for name, preset in (("balanced", "balanced-travel"), ("low-disruption", "low-disruption")):
        plan = align(problem, AlignmentSpec.from_preset(preset), time_limit=10, seed=0)
        assert plan.assignment is not None, plan.status
        write_plan(plan, folder / name)
    plan = read_plan(folder / "balanced")
    target = round(float(accounts["revenue_ly"].sum()) * 1.1, -3)
    result = set_quotas(plan, QuotaSettings(target=target, method="blend", history_weight=0.4))
    write_quotas(result, folder / "balanced")
    refresh_plan_hashes(folder / "balanced")
    return folder


@pytest.fixture(scope="module")
def report(book: Path) -> tuple[Path, Path]:
    """The two-plan report and workbook."""
    page, xlsx = book / "report.html", book / "report.xlsx"
    write_report([book / "balanced", book / "low-disruption"], page, xlsx=xlsx)
    return page, xlsx


def _tables(book: Path, plan: str) -> pd.DataFrame:
    """Accounts joined with a plan's assignments, read straight from the CSV files."""
    accounts = pd.read_csv(book / "accounts.csv", dtype=str, keep_default_na=False)
    assignments = pd.read_csv(book / plan / "assignments.csv", dtype=str, keep_default_na=False)
    table = accounts.merge(assignments[["account_id", "rep_id"]], on="account_id")
    for column in ("potential", "workload", "revenue_ly"):
        table[column] = table[column].astype(float)
    return table


def _expected(book: Path, plan: str) -> dict[str, float]:
    """Balance and disruption KPIs recomputed by hand from the files."""
    table = _tables(book, plan)
    reps = pd.read_csv(book / "reps.csv", dtype=str, keep_default_na=False)
    reps["capacity"] = reps["capacity"].astype(float)
    moved = (table["current_rep"] != "") & (table["current_rep"] != table["rep_id"])
    out = {
        "moved.accounts": float(moved.sum()),
        "moved.potential": float(table.loc[moved, "potential"].sum()),
        "moved.potential_share": float(
            table.loc[moved, "potential"].sum()
            / table.loc[table["current_rep"] != "", "potential"].sum()
        ),
    }
    for metric in ("potential", "workload"):
        ratios = []
        for rep in reps.itertuples():
            pool = reps[reps["segment"] == rep.segment]
            total_pool = table.loc[table["segment"] == rep.segment, metric].sum()
            target = total_pool * rep.capacity / pool["capacity"].sum()
            ratios.append(table.loc[table["rep_id"] == rep.rep_id, metric].sum() / target)
        r = np.array(ratios)
        out[f"balance.{metric}.worst"] = float(np.abs(r - 1).max())
        out[f"balance.{metric}.spread"] = float(r.max() - r.min())
        out[f"balance.{metric}.max_min"] = float(r.max() / r.min())
        out[f"balance.{metric}.cv"] = float(r.std() / r.mean())
    return out


def test_kpis_match_an_independent_recomputation(book: Path) -> None:
    plans = load_plans([book / "balanced", book / "low-disruption"])
    kpis = kpi_table(plans).set_index("key")
    for name in ("balanced", "low-disruption"):
        for key, value in _expected(book, name).items():
            assert kpis.at[key, name] == pytest.approx(value, rel=1e-9), (name, key)
    # Quota fairness from quotas.csv: Gini by its pairwise definition, share at quota.
    quotas = pd.read_csv(book / "balanced" / "quotas.csv")
    ratio = quotas["quota_per_potential"].dropna().to_numpy()
    gini = np.abs(ratio[:, None] - ratio[None, :]).sum() / (2 * len(ratio) ** 2 * ratio.mean())
    assert kpis.at["quota.gini", "balanced"] == pytest.approx(gini)
    assert kpis.at["quota.spread", "balanced"] == pytest.approx(ratio.max() - ratio.min())
    assert kpis.at["quota.share_at_quota", "balanced"] == pytest.approx(
        quotas.loc[quotas["quota"] > 0, "p_attain"].mean()
    )
    assert kpis.at["quota.total", "balanced"] == pytest.approx(quotas["quota"].sum())
    assert np.isnan(kpis.at["quota.gini", "low-disruption"])  # no quotas.csv there
    meta = json.loads((book / "balanced" / "plan.json").read_text())
    assert kpis.at["plan.status", "balanced"] == meta["status"]
    assert kpis.at["solver.gap", "balanced"] == pytest.approx(meta["gap"])
    assert kpis.at["balance.potential.band", "balanced"] == pytest.approx(0.05)


def _page_data(page: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_user_strings_are_escaped(report: tuple[Path, Path]) -> None:
    page = report[0].read_text(encoding="utf-8")
    assert HOSTILE_SCRIPT not in page
    assert "alert(1)" in page  # the name is there, but only escaped
    # Our three script elements are the only ones; no string ends one early.
    assert page.count("<script") == 3
    assert page.lower().count("</script") == 3
    assert "<!--" not in page
    data = _page_data(page)
    moved = data["moved"][0]
    names = moved["values"][[c["key"] for c in moved["columns"]].index("name")]
    assert HOSTILE_SCRIPT in names  # the table script writes it with textContent
    assert HOSTILE_FORMULA in names
    # Plotly labels carry the HTML-escaped text (plotly decodes it for display).
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in t for t in data["map"]["text"])
    assert not any(HOSTILE_SCRIPT in t for t in data["map"]["text"])


def test_script_json_escapes_every_way_out_of_a_script() -> None:
    from territory_opt.report.html import script_json

    text = str(script_json({"a": "</script><!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_workbook_reads_back_with_the_plan_numbers(book: Path, report: tuple[Path, Path]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(report[1])
    assert wb.sheetnames == [
        "KPIs",
        "Balance vs disruption",
        "Territories",
        "Quotas",
        "Moved accounts",
    ]
    kpis = wb["KPIs"]
    header = [c.value for c in kpis[1]]
    assert header == ["group", "KPI", "key", "balanced", "low-disruption"]
    rows = {r[2].value: r for r in kpis.iter_rows(min_row=2)}
    for col, name in ((3, "balanced"), (4, "low-disruption")):
        for key, value in _expected(book, name).items():
            assert rows[key][col].value == pytest.approx(value, rel=1e-9), (name, key)
    assert rows["moved.potential_share"][3].number_format == "0.00%"
    assert rows["plan.status"][3].value in ("optimal", "feasible")
    assert kpis.freeze_panes == "D2"

    territories = pd.read_excel(report[1], sheet_name="Territories", dtype={"rep_id": str})
    table = _tables(book, "balanced")
    sums = table.groupby("rep_id")["potential"].sum()
    mine = territories[territories["plan"] == "balanced"].set_index("rep_id")["potential"]
    assert mine.sort_index().to_numpy() == pytest.approx(sums.sort_index().to_numpy())
    assert wb["Territories"].freeze_panes == "A2"

    moved = wb["Moved accounts"]
    head = [c.value for c in moved[1]]
    name_col = head.index("name")
    cells = {r[name_col].value: r[name_col] for r in moved.iter_rows(min_row=2)}
    assert cells[HOSTILE_FORMULA].data_type == "s"  # text, not a formula
    assert HOSTILE_SCRIPT in cells
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
    labels = [r[0].value for r in moved.iter_rows(min_row=2)]
    expected = sum(_expected(book, p)["moved.accounts"] for p in ("balanced", "low-disruption"))
    assert labels.count("current owners → balanced") + labels.count(
        "current owners → low-disruption"
    ) == int(expected)


def test_moved_table_between_two_plans(book: Path) -> None:
    plans = load_plans([book / "balanced", book / "low-disruption"])
    comps = comparisons(plans)
    assert [c.label for c in comps] == [
        "current owners → balanced",
        "current owners → low-disruption",
        "balanced → low-disruption",
    ]
    a = _tables(book, "balanced").set_index("account_id")
    b = _tables(book, "low-disruption").set_index("account_id")
    differ = a.index[a["rep_id"] != b.loc[a.index, "rep_id"]]
    table = comps[2].table.set_index("account_id")
    assert sorted(table.index) == sorted(differ)
    assert (table["from_rep"] == a.loc[table.index, "rep_id"]).all()
    assert (table["to_rep"] == b.loc[table.index, "rep_id"]).all()
    assert table["reason"].str.len().min() > 0
    back = table["to_rep"] == a.loc[table.index, "current_rep"]
    assert back.any()
    assert table.loc[back, "reason"].str.contains("back with its current rep").all()
    # Sorted by potential, largest first; metric values are the accounts' own.
    assert table["potential"].is_monotonic_decreasing
    assert (table["potential"] == a.loc[table.index, "potential"]).all()
    # The hostile accounts are locked away from their current rep.
    book_moves = comps[0].table.set_index("name")
    for name in (HOSTILE_SCRIPT, HOSTILE_FORMULA):
        assert book_moves.at[name, "reason"].startswith("locked to ")


def test_one_plan_alone_and_identical_bytes(book: Path, tmp_path: Path) -> None:
    first = write_report([book / "balanced"], tmp_path / "a.html", xlsx=tmp_path / "a.xlsx")
    again = write_report([book / "balanced"], tmp_path / "b.html", xlsx=tmp_path / "b.xlsx")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert first.html == again.html
    page = first.html.decode("utf-8")
    assert "<title>Plan report: balanced</title>" in page
    assert 'id="frontier"' not in page  # a frontier needs two plans or more
    assert 'id="kpi-table"' in page
    assert "https://" not in page.split('id="report-data"')[0]  # no external resource


def test_two_plans_have_a_frontier(report: tuple[Path, Path]) -> None:
    data = _page_data(report[0].read_text(encoding="utf-8"))
    frontier = data["frontier"]
    assert frontier["plans"] == ["balanced", "low-disruption"]
    assert any(frontier["efficient"])


def test_map_is_sampled_above_the_threshold(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import territory_opt.report.figures as figures

    monkeypatch.setattr(figures, "MAP_MAX_POINTS", 50)
    plans = load_plans([book / "balanced"])
    colour = {r: i for i, r in enumerate(figures.rep_order(plans))}
    sampled = figures.map_data(plans, colour)
    assert sampled is not None
    assert sampled["shown"] == 50 and sampled["total"] == 300
    assert sampled == figures.map_data(plans, colour)  # seeded: the same sample again
    page = build_report(plans, xlsx=False).html.decode("utf-8")
    assert "random sample of 50 of 300 accounts" in page


def test_a_plan_without_assignment_is_shown_with_its_diagnosis(book: Path) -> None:
    problem = load_problem(book / "accounts.csv", book / "reps.csv")
    spec = AlignmentSpec.from_preset("balanced-travel").with_(max_moved_accounts=0)
    plan = align(problem, spec, time_limit=10)
    assert plan.assignment is None and plan.diagnosis is not None
    write_plan(plan, book / "no-moves")
    plans = load_plans([book / "balanced", book / "no-moves"])
    kpis = kpi_table(plans).set_index("key")
    assert kpis.at["plan.status", "no-moves"] == "infeasible"
    assert np.isnan(kpis.at["moved.accounts", "no-moves"])
    assert np.isnan(kpis.at["travel.objective", "no-moves"])
    report = build_report(plans)
    page = report.html.decode("utf-8")
    assert "no-moves: no plan (infeasible)" in page
    assert html.escape(str(plan.diagnosis["summary"])) in page
    assert _page_data(page)["frontier"] is None  # one plan with accounts: no frontier
    assert [c.label for c in comparisons(plans)] == ["current owners → balanced"]


def test_territory_outlines_from_polygons(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    import territory_opt.report.figures as figures

    cells = [
        shapely.box(-97 + i * 0.1, 35 + j * 0.1, -96.9 + i * 0.1, 35.1 + j * 0.1)
        for i in range(4)
        for j in range(4)
    ]
    units = gpd.GeoDataFrame(
        {"account_id": [f"U{k:02d}" for k in range(16)], "potential": np.full(16, 10.0)},
        geometry=cells,
        crs="EPSG:4326",
    )
    units.to_file(tmp_path / "units.geojson", driver="GeoJSON")
    pd.DataFrame(
        {"rep_id": ["R1", "R2"], "home_lat": [35.05, 35.35], "home_lon": [-96.95, -96.65]}
    ).to_csv(tmp_path / "reps.csv", index=False)
    problem = load_problem(tmp_path / "units.geojson", tmp_path / "reps.csv")
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.0}, travel_metric=None
    )
    write_plan(align(problem, spec, time_limit=10), tmp_path / "plan")
    plans = load_plans([tmp_path / "plan"])
    colour = {r: i for i, r in enumerate(figures.rep_order(plans))}
    data = figures.map_data(plans, colour)
    assert data is not None
    outlines = data["plans"][0]["outlines"]
    assert outlines is not None
    rings = outlines["x"].count(None)
    assert rings >= 2  # one outline per territory at least
    xs = [x for x in outlines["x"] if x is not None]
    assert min(xs) == pytest.approx(-97.0) and max(xs) == pytest.approx(-96.6)


def test_cli_compare_exit_codes(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    plan = str(book / "balanced")
    ok = runner.invoke(
        app, ["compare", plan, "--out", str(out), "--xlsx", str(tmp_path / "r.xlsx")]
    )
    assert ok.exit_code == 0, ok.output
    assert out.is_file() and (tmp_path / "r.xlsx").is_file()
    again = runner.invoke(app, ["compare", plan, "--out", str(out)])
    assert again.exit_code == 2
    assert "pass --force" in again.stderr
    assert runner.invoke(app, ["compare", plan, "--out", str(out), "--force"]).exit_code == 0
    for args, message in (
        ([str(book)], "is not a plan folder"),
        ([str(tmp_path / "missing")], "is not a folder"),
        ([plan, plan], "is given twice"),
    ):
        result = runner.invoke(app, ["compare", *args, "--out", str(tmp_path / "x.html")])
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert "Traceback" not in result.output
    folder = runner.invoke(app, ["compare", plan, "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
    same = runner.invoke(app, ["compare", plan, "--out", str(out), "--xlsx", str(out), "--force"])
    assert same.exit_code == 2 and "same file" in same.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.xlsx"]  # no temp files


BROWSER_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    """Path of Debian's chromium; skip without it, except under CI where it must exist."""
    path = shutil.which("chromium")
    reason = ""
    if path is None:
        reason = "chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    assert path is not None
    return path


def test_report_renders_offline_in_chromium(book: Path, report: tuple[Path, Path]) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    expected = _expected(book, "balanced")
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
            page.goto(report[0].resolve().as_uri())
            page.wait_for_selector("body[data-report-ready=true]", timeout=60_000)

            # The KPI table, with the numbers recomputed from the files.
            cell = 'tr[data-key="moved.accounts"] td[data-plan="0"]'
            assert (
                float(page.get_attribute(cell, "data-value") or "nan") == expected["moved.accounts"]
            )
            assert page.inner_text(cell) == f"{int(expected['moved.accounts']):,}"
            worst = page.get_attribute(
                'tr[data-key="balance.potential.worst"] td[data-plan="0"]', "data-value"
            )
            assert float(worst or "nan") == pytest.approx(expected["balance.potential.worst"])

            # The map is drawn: one SVG point per account.
            points = page.locator("#map-chart .scatterlayer .trace:first-child .point")
            assert points.count() == 300
            assert page.locator("#frontier-chart svg.main-svg").count() > 0
            assert page.locator("#per-rep-charts .js-plotly-plot").count() == 3

            # Hovering the hostile account shows its name as plain text.
            page.evaluate(
                """() => {
                  const data = JSON.parse(document.getElementById("report-data").textContent);
                  const k = data.map.text.findIndex(t => t.includes("alert(1)"));
                  Plotly.Fx.hover("map-chart", [{curveNumber: 0, pointNumber: k}]);
                }"""
            )
            hover = "document.querySelector('#map-chart .hoverlayer')"
            assert HOSTILE_SCRIPT in page.evaluate(f"() => {hover}.textContent")
            assert page.evaluate(f"() => {hover}.querySelectorAll('script').length") == 0

            # The moved table filters, sorts, and shows hostile names as text.
            page.fill("#moved-filter", "alert(1)")
            rows = page.locator("#moved-table tbody tr")
            assert rows.count() == 1
            assert rows.first.locator("td").nth(1).inner_text() == HOSTILE_SCRIPT
            page.fill("#moved-filter", "")
            page.click("#moved-table thead th >> text=potential")
            first = page.inner_text("#moved-table tbody tr:first-child td:nth-child(7)")
            top = _tables(book, "balanced")
            moved = top[(top["current_rep"] != "") & (top["current_rep"] != top["rep_id"])]
            assert float(first.replace(",", "")) == moved["potential"].max()
            page.select_option("#moved-comparison", "2")
            assert "balanced → low-disruption" in page.inner_text("#moved-comparison")
            page.select_option("#map-plan", "1")
            assert points.count() == 300

            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert page.evaluate("window.__alerts") == []
        finally:
            browser.close()
    print(f"browser test: {time.perf_counter() - start:.1f} s")
    assert messages == []
    assert requests == []
