"""Convert published districting graph formats into a unit table and an edge list.

The tables are then written as files and read through the normal input path
(:func:`~territory_opt.districting.load_units`), so nothing bypasses validation.

- networkx ``adjacency_data`` JSON, the format GerryChain and many redistricting
  datasets use (node attributes become columns; ``C_X``/``C_Y`` become ``lon``/``lat``);
- commercial territory design ``.dat`` files (Rios-Mercado style): ``n``, then
  ``id x y w1 w2 w3 0`` per unit, ``m``, then ``u v`` per edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from territory_opt._errors import InputError


def graph_json_tables(
    path: str | Path, *, id_attr: str = "GEOID10", columns: tuple[str, ...] = ("TOTPOP",)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units (account_id, name, lat, lon, columns...) and edges of a networkx JSON graph."""
    path = Path(path)
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
        nodes = graph["nodes"]
        index = {node["id"]: str(node.get(id_attr, node["id"])) for node in nodes}
        units = pd.DataFrame(
            {
                "account_id": [index[node["id"]] for node in nodes],
                "name": [str(node.get("NAME10", index[node["id"]])) for node in nodes],
                "lat": [float(node["C_Y"]) for node in nodes],
                "lon": [float(node["C_X"]) for node in nodes],
                **{c: [node[c] for node in nodes] for c in columns},
            }
        )
        if "adjacency" in graph:
            pairs = [
                (index[nodes[i]["id"]], index[nbr["id"]])
                for i, nbrs in enumerate(graph["adjacency"])
                for nbr in nbrs
            ]
        else:
            pairs = [(index[e["source"]], index[e["target"]]) for e in graph["links"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError.single(
            path.name, f"is not a networkx adjacency JSON graph: {exc}"
        ) from None
    edges = pd.DataFrame(sorted({tuple(sorted(p)) for p in pairs}), columns=["unit_a", "unit_b"])
    return units, edges


def ctdp_tables(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units (account_id, x, y, w1, w2, w3) and edges of a territory design ``.dat`` file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        n = int(lines[0])
        rows = [line.split() for line in lines[1 : 1 + n]]
        m = int(lines[1 + n])
        edges = [line.split()[:2] for line in lines[2 + n : 2 + n + m]]
        units = pd.DataFrame(
            {
                "account_id": [r[0] for r in rows],
                "x": [float(r[1]) for r in rows],
                "y": [float(r[2]) for r in rows],
                **{f"w{q}": [float(r[2 + q]) for r in rows] for q in (1, 2, 3)},
            }
        )
    except (IndexError, ValueError) as exc:
        raise InputError.single(path.name, f"is not a territory design .dat file: {exc}") from None
    return units, pd.DataFrame(edges, columns=["unit_a", "unit_b"])
