"""A small hand-made book for the export tests, planned with the real pipeline.

Four reps in two teams and two segments, nine accounts placed next to one rep's
home each, so that a travel-only alignment gives each account its nearest rep.
Last year's owners (``current_rep``) differ for some accounts, so the plan moves
them. Names carry the cases a load file must survive: commas, quotes, a line
break, and cells that start like spreadsheet formulas (``= + - @``).

CRM ids have the shape of the target: Salesforce ids (``001...``, ``005...``),
HubSpot numbers, or Dataverse GUIDs. ``make_plan`` writes the inputs and a real
plan folder (alignment + quotas) into a folder; ``previous=True`` writes last
year's plan, with a fifth rep (R5) who has left since.
"""

from __future__ import annotations

import json
from pathlib import Path

from territory_opt.alignment import AlignmentSpec, align
from territory_opt.data import load_problem
from territory_opt.plan import refresh_plan_hashes, write_plan
from territory_opt.quota import QuotaSettings, set_quotas, write_quotas

#: rep_id, name, email, home lat, home lon, segment, manager
REPS = [
    ("R1", "Rita Ortiz", "rita@example.com", 35.0, -97.0, "smb", "M1"),
    ("R2", "Raj Patel", "raj@example.com", 36.0, -96.0, "smb", "M1"),
    ("R-4", "=Eve Mallory", "eve@example.com", 35.0, -94.0, "ent", "M2"),
    ("R3", 'Ann "Annie" Lee', "ann@example.com", 36.5, -94.5, "ent", "M2"),
]
LEAVER = ("R5", "Leo Varga", "leo@example.com", 36.0, -97.0, "smb", "M1")
#: account_id, name, lat, lon, segment, current owner, owner last year's plan had
ACCOUNTS = [
    ("A1", "Alpha, Inc.", 35.02, -97.01, "smb", "R1"),
    ("A2", 'Beta "B" Co', 35.98, -96.02, "smb", "R1"),
    ("A3", '=HYPERLINK("http://example.com","x")', 36.01, -95.98, "smb", "R2"),
    ("A4", "+1 Foods", 35.01, -94.02, "ent", "R3"),
    ("A5", "-Minus Labs", 36.49, -94.51, "ent", "R3"),
    ("A6", "@Home Supply", 35.03, -93.98, "ent", "R-4"),
    ("A7", "Line\nBreak Ltd", 35.97, -96.99, "smb", "R2"),
    ("A8", "Gamma Foods", 36.02, -97.02, "smb", "R2"),
    ("A9", "Delta Dental", 36.52, -94.49, "ent", "R-4"),
]
TARGETS = ("generic", "salesforce", "salesforce-owner", "hubspot", "dynamics")


def account_crm_id(target: str, n: int) -> str:
    """CRM id of account number ``n`` in the shape the target expects."""
    if target == "hubspot":
        return str(9000 + n)
    if target == "dynamics":
        return f"00000000-0000-4000-8000-{n:012x}"
    return f"001000000000A{n:02d}"


def user_crm_id(target: str, n: int) -> str:
    """CRM user id of rep number ``n``."""
    if target == "dynamics":
        return f"00000000-0000-4000-9000-{n:012x}"
    return f"005000000000U{n:02d}"


def _csv(value: object) -> str:
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(_csv(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _accounts_geojson(path: Path, target: str, owners: list[str]) -> Path:
    features = []
    for n, (acc, name, lat, lon, seg, _) in enumerate(ACCOUNTS, start=1):
        d = 0.01
        ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "account_id": acc,
                    "name": name,
                    "potential": 100 * n,
                    "segment": seg,
                    "current_rep": owners[n - 1],
                    "crm_account_id": account_crm_id(target, n),
                },
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def write_inputs(folder: Path, target: str, *, previous: bool = False) -> tuple[Path, Path]:
    """Write ``accounts`` and ``reps`` for a target; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    reps = [*REPS, LEAVER] if previous else list(REPS)
    owners = [a[5] for a in ACCOUNTS]
    if previous:  # two years ago: R5 held A7 and A8
        owners = [("R5" if a[0] in ("A7", "A8") else a[5]) for a in ACCOUNTS]
    rep_rows = []
    for n, (rep, name, email, lat, lon, seg, manager) in enumerate(reps, start=1):
        rep_rows.append([rep, name, email, lat, lon, seg, manager, user_crm_id(target, n), 100 + n])
    reps_path = _write(
        folder / "reps.csv",
        [
            "rep_id",
            "name",
            "email",
            "home_lat",
            "home_lon",
            "segment",
            "manager_id",
            "crm_user_id",
            "hubspot_owner_id",
        ],
        rep_rows,
    )
    if target == "generic":
        return _accounts_geojson(folder / "accounts.geojson", target, owners), reps_path
    acc_rows = [
        [acc, name, lat, lon, 100 * n, seg, owners[n - 1], account_crm_id(target, n)]
        for n, (acc, name, lat, lon, seg, _) in enumerate(ACCOUNTS, start=1)
    ]
    accounts_path = _write(
        folder / "accounts.csv",
        [
            "account_id",
            "name",
            "lat",
            "lon",
            "potential",
            "segment",
            "current_rep",
            "crm_account_id",
        ],
        acc_rows,
    )
    return accounts_path, reps_path


def make_plan(folder: Path, target: str, *, previous: bool = False, quotas: bool = True) -> Path:
    """Write the inputs and a plan folder ``folder/plan``; return the plan folder."""
    accounts, reps = write_inputs(folder, target, previous=previous)
    problem = load_problem(accounts, reps)
    plan = align(problem, AlignmentSpec(), time_limit=10, seed=0)
    plan.raise_if_not_ok()
    plan_dir = write_plan(plan, folder / "plan")
    if quotas:
        target_total = 12_000.0 if previous else 16_000.0
        settings = QuotaSettings(target=target_total, seasonality=(1, 1, 1, 1), seed=0)
        write_quotas(set_quotas(plan, settings), plan_dir)
        refresh_plan_hashes(plan_dir)
    return plan_dir
