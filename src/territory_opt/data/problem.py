"""The frozen :class:`Problem` that every solver consumes, and how to build it.

A Problem holds validated numpy arrays and id maps only: no DataFrames, no
file handles. It is built from validated tables by :func:`build_problem`, which
also performs the checks that span files (unknown reps, unknown accounts).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from territory_opt._errors import MAX_REPORTED_ISSUES, InputError, IssueCollector
from territory_opt._progress import step
from territory_opt.data.io import RawTable, frame_from_records, read_table
from territory_opt.data.schema import (
    EXCLUDED_SEPARATOR,
    AccountTable,
    CoordSystem,
    EdgeTable,
    PairTable,
    RepTable,
    validate_accounts,
    validate_adjacency,
    validate_pairs,
    validate_reps,
)

NO_INDEX = -1


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class PairData:
    """Allowed (account, rep) pairs with their cost and metric overrides.

    Attributes
    ----------
    account
        Account index of each pair.
    rep
        Rep index of each pair.
    cost
        Pair cost [objective units].
    metrics
        ``(pairs, metrics)`` values that override the account's metric for this
        rep; NaN means "use the account's value".
    """

    account: np.ndarray
    rep: np.ndarray
    cost: np.ndarray
    metrics: np.ndarray


@dataclass(frozen=True, eq=False)
class Problem:
    """A validated planning problem: accounts, reps and their relations as arrays.

    All arrays are read-only. Indices refer to positions in ``account_ids`` and
    ``rep_ids``; ``-1`` means "none".

    Attributes
    ----------
    account_ids, rep_ids
        Ids as strings, in input order.
    coord_system
        ``latlon`` (great-circle km) or ``xy`` (Euclidean, file units), or None
        when no locations were given.
    account_coords
        ``(n, 2)`` lat/lon [degrees] or x/y.
    rep_home
        ``(m, 2)`` home location, NaN for reps without a home.
    metric_names, metrics
        ``(n, k)`` non-negative metric values per account. NaN only for a
        metric that exists in the pair table alone.
    current_rep, locked_rep
        Rep index per account.
    excluded
        ``(e, 2)`` array of forbidden (account, rep) index pairs.
    account_segment, rep_segment, segment_names
        Segment codes; an account with a segment may only go to a rep of the
        same segment or to a rep without a segment.
    family
        Family code per account (accounts sharing a ``parent_id`` chain).
    rep_capacity
        FTE per rep; bands and quota scale with it.
    rep_min, rep_max
        ``(m, k)`` absolute bounds per rep and metric, NaN where unbounded.
    pairs
        Allowed pairs with cost and overrides, or None when every pair is allowed.
    adjacency
        ``(e, 2)`` account index pairs, or None.
    account_attrs, rep_attrs
        Text attributes (names, segments, CRM ids) for reports and exports.
    rep_start_date
        Start date per rep (NaT if unknown).
    geometry
        Shapely geometries of accounts/units when read from a spatial file.
    sources
        sha256 of every input file, by role.
    source_paths
        Absolute path of every input read from a file, by role.
    load_options
        The reading options used (metrics, column maps), to read the inputs again.
    """

    account_ids: np.ndarray
    rep_ids: np.ndarray
    coord_system: CoordSystem | None
    account_coords: np.ndarray | None
    rep_home: np.ndarray | None
    metric_names: tuple[str, ...]
    metrics: np.ndarray
    current_rep: np.ndarray
    locked_rep: np.ndarray
    excluded: np.ndarray
    account_segment: np.ndarray
    rep_segment: np.ndarray
    segment_names: tuple[str, ...]
    family: np.ndarray
    rep_capacity: np.ndarray
    rep_min: np.ndarray
    rep_max: np.ndarray
    pairs: PairData | None
    adjacency: np.ndarray | None
    account_attrs: Mapping[str, np.ndarray]
    rep_attrs: Mapping[str, np.ndarray]
    rep_start_date: np.ndarray
    geometry: np.ndarray | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    source_paths: Mapping[str, str] = field(default_factory=dict)
    load_options: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_accounts(self) -> int:
        """Number of accounts (or units)."""
        return len(self.account_ids)

    @property
    def n_reps(self) -> int:
        """Number of reps (seats)."""
        return len(self.rep_ids)

    @cached_property
    def account_index(self) -> Mapping[str, int]:
        """Map of account id to index."""
        return MappingProxyType({str(a): i for i, a in enumerate(self.account_ids)})

    @cached_property
    def rep_index(self) -> Mapping[str, int]:
        """Map of rep id to index."""
        return MappingProxyType({str(r): i for i, r in enumerate(self.rep_ids)})

    def metric(self, name: str) -> np.ndarray:
        """Return one metric column by name.

        Raises
        ------
        KeyError
            Naming the metrics that exist, when ``name`` is not one of them.
        """
        if name not in self.metric_names:
            valid = ", ".join(self.metric_names) or "(none)"
            msg = f"no metric named '{name}'; metrics are: {valid}"
            raise KeyError(msg)
        return self.metrics[:, self.metric_names.index(name)]

    def summary(self) -> dict[str, object]:
        """Return a JSON-ready summary used by ``territory-opt validate``."""
        metric_totals = {
            name: float(np.nansum(self.metrics[:, j])) for j, name in enumerate(self.metric_names)
        }
        return {
            "accounts": self.n_accounts,
            "reps": self.n_reps,
            "total_fte": float(self.rep_capacity.sum()),
            "locations": str(self.coord_system) if self.coord_system else "none",
            "reps_with_home": int(np.isfinite(self.rep_home[:, 0]).sum())
            if self.rep_home is not None
            else 0,
            "metrics": metric_totals,
            "segments": list(self.segment_names),
            "families": int(self.family.max() + 1) if self.n_accounts else 0,
            "accounts_in_families": int((self.family >= 0).sum()),
            "locked_accounts": int((self.locked_rep >= 0).sum()),
            "excluded_pairs": len(self.excluded),
            "accounts_with_current_rep": int((self.current_rep >= 0).sum()),
            "pairs": None if self.pairs is None else len(self.pairs.account),
            "adjacency_edges": None if self.adjacency is None else len(self.adjacency),
            "sources": dict(self.sources),
        }


def _lookup(
    keys: np.ndarray,
    index: pd.Index,
    rows: np.ndarray,
    collector: IssueCollector,
    *,
    column: str,
    what: str,
    where: str,
) -> np.ndarray:
    """Map id strings to positions in ``index`` (``""`` -> -1), reporting unknown ids."""
    codes = index.get_indexer(pd.Index(keys)).astype(np.int32)
    unknown = (codes < 0) & (keys != "")
    if unknown.any():
        known = [str(k) for k in index[:5000]]
        for pos in np.flatnonzero(unknown)[: MAX_REPORTED_ISSUES + 1]:
            close = difflib.get_close_matches(str(keys[pos]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            collector.add(
                f"unknown {what} '{keys[pos]}': not in {where}{hint}",
                row=int(rows[pos]),
                column=column,
            )
        # Beyond what is listed, only the count matters.
        collector.count += max(0, int(unknown.sum()) - MAX_REPORTED_ISSUES - 1)
    codes[codes < 0] = NO_INDEX
    return codes


def _families(ids: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Family code per account: connected components of the parent relation.

    Accounts sharing a ``parent_id`` are one family, and so is the parent
    account itself when it is in the table; chains (grand-parents) merge.
    Accounts with no parent and no children get -1.
    """
    n = len(ids)
    child = np.flatnonzero(parents != "")
    out = np.full(n, NO_INDEX, dtype=np.int32)
    if len(child) == 0:
        return out
    keys = parents[child]
    parent_node = pd.Index(ids).get_indexer(pd.Index(keys))
    external = parent_node < 0  # parent is not itself an account in the table
    ext_codes, ext_keys = pd.factorize(keys[external])
    parent_node[external] = n + ext_codes
    size = n + len(ext_keys)
    graph = coo_matrix((np.ones(len(child)), (child, parent_node)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    member = np.zeros(size, dtype=bool)
    member[child] = True
    member[parent_node] = True
    in_family = np.flatnonzero(member[:n])
    # Renumber so family codes are 0..F-1 in order of first appearance.
    _, first, inverse = np.unique(labels[in_family], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    out[in_family] = rank[inverse]
    return out


def build_problem(
    accounts: AccountTable,
    reps: RepTable,
    *,
    pairs: PairTable | None = None,
    adjacency: EdgeTable | None = None,
) -> Problem:
    """Check references across tables and assemble the frozen :class:`Problem`.

    Raises
    ------
    InputError
        Listing every reference to an unknown rep or account, conflicting
        lock/exclusion, bounds on unknown metrics and mixed coordinate systems.
    """
    acc_col = IssueCollector(accounts.file)
    rep_index = pd.Index(reps.ids)
    acc_index = pd.Index(accounts.ids)
    where_reps = f"{reps.file} (rep_id)"
    current = _lookup(
        accounts.text["current_rep"],
        rep_index,
        accounts.rows,
        acc_col,
        column="current_rep",
        what="rep",
        where=where_reps,
    )
    locked = _lookup(
        accounts.text["locked_rep"],
        rep_index,
        accounts.rows,
        acc_col,
        column="locked_rep",
        what="rep",
        where=where_reps,
    )
    excluded = _excluded(accounts, rep_index, locked, acc_col, where_reps)
    if accounts.coord_system and reps.coord_system and accounts.coord_system != reps.coord_system:
        acc_col.add(
            f"accounts use {accounts.coord_system} locations but {reps.file} gives "
            f"home_{'lat/home_lon' if reps.coord_system == 'latlon' else 'x/home_y'}; "
            "use one coordinate system in both files"
        )
    acc_col.raise_if_any()

    metric_names = list(accounts.metric_names)
    metrics = accounts.metrics
    pair_data = None
    if pairs is not None:
        pair_data, extra = _pair_data(pairs, acc_index, rep_index, accounts, reps)
        if extra:
            metric_names += extra
            metrics = np.column_stack([metrics, np.full((len(metrics), len(extra)), np.nan)])
    rep_min, rep_max = _rep_bounds(reps, metric_names)

    segment_names = sorted(set(accounts.text["segment"]) | set(reps.text["segment"]) - {""})
    edges = None
    if adjacency is not None:
        edges = edge_indices(adjacency, acc_index, accounts.file)

    sources = {"accounts": accounts.sha256, "reps": reps.sha256}
    if pairs is not None:
        sources["pairs"] = pairs.sha256
    if adjacency is not None:
        sources["adjacency"] = adjacency.sha256
    rep_attrs = {k: _frozen(v) for k, v in reps.text.items()}
    return Problem(
        account_ids=_frozen(accounts.ids),
        rep_ids=_frozen(reps.ids),
        coord_system=accounts.coord_system,
        account_coords=None if accounts.coords is None else _frozen(accounts.coords),
        rep_home=None if reps.home is None else _frozen(reps.home),
        metric_names=tuple(metric_names),
        metrics=_frozen(metrics),
        current_rep=_frozen(current),
        locked_rep=_frozen(locked),
        excluded=_frozen(excluded),
        account_segment=_frozen(_codes(accounts.text["segment"], segment_names)),
        rep_segment=_frozen(_codes(reps.text["segment"], segment_names)),
        segment_names=tuple(segment_names),
        family=_frozen(_families(accounts.ids, accounts.text["parent_id"])),
        rep_capacity=_frozen(reps.capacity),
        rep_min=_frozen(rep_min),
        rep_max=_frozen(rep_max),
        pairs=pair_data,
        adjacency=None if edges is None else _frozen(edges),
        account_attrs=MappingProxyType({k: _frozen(v) for k, v in accounts.text.items()}),
        rep_attrs=MappingProxyType(rep_attrs),
        rep_start_date=_frozen(reps.start_date),
        geometry=accounts.geometry,
        sources=MappingProxyType(sources),
    )


def _codes(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    return pd.Index(names).get_indexer(pd.Index(values)).astype(np.int32)


def _excluded(
    accounts: AccountTable,
    rep_index: pd.Index,
    locked: np.ndarray,
    collector: IssueCollector,
    where_reps: str,
) -> np.ndarray:
    cells = accounts.text["excluded_reps"]
    pairs: list[tuple[int, int]] = []
    for pos in np.flatnonzero(cells != ""):
        for rep in (r.strip() for r in str(cells[pos]).split(EXCLUDED_SEPARATOR)):
            if not rep:
                continue
            r = int(rep_index.get_indexer(pd.Index([rep]))[0])
            row = int(accounts.rows[pos])
            if r < 0:
                collector.add(
                    f"unknown rep '{rep}': not in {where_reps}", row=row, column="excluded_reps"
                )
            elif locked[pos] == r:
                collector.add(
                    f"account is locked to rep '{rep}' and also excludes it",
                    row=row,
                    column="excluded_reps",
                )
            else:
                pairs.append((int(pos), r))
    return np.array(sorted(set(pairs)), dtype=np.int32).reshape(-1, 2)


def _pair_data(
    pairs: PairTable,
    acc_index: pd.Index,
    rep_index: pd.Index,
    accounts: AccountTable,
    reps: RepTable,
) -> tuple[PairData, list[str]]:
    collector = IssueCollector(pairs.file)
    acc = _lookup(
        pairs.account_ids,
        acc_index,
        pairs.rows,
        collector,
        column="account_id",
        what="account",
        where=f"{accounts.file} (account_id)",
    )
    rep = _lookup(
        pairs.rep_ids,
        rep_index,
        pairs.rows,
        collector,
        column="rep_id",
        what="rep",
        where=f"{reps.file} (rep_id)",
    )
    extra = [m for m in pairs.metric_names if m not in accounts.metric_names]
    for j, name in enumerate(pairs.metric_names):
        if name in extra:
            for pos in np.flatnonzero(np.isnan(pairs.metrics[:, j])):
                collector.add(
                    f"missing value for pair-only metric '{name}'",
                    row=int(pairs.rows[pos]),
                    column=name,
                )
    collector.raise_if_any()
    all_names = list(accounts.metric_names) + extra
    values = np.full((len(acc), len(all_names)), np.nan)
    for j, name in enumerate(pairs.metric_names):
        values[:, all_names.index(name)] = pairs.metrics[:, j]
    order = np.lexsort((rep, acc))
    return PairData(
        account=_frozen(acc[order]),
        rep=_frozen(rep[order]),
        cost=_frozen(pairs.cost[order]),
        metrics=_frozen(values[order]),
    ), extra


def _rep_bounds(reps: RepTable, metric_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    m, k = len(reps.ids), len(metric_names)
    lo, hi = np.full((m, k), np.nan), np.full((m, k), np.nan)
    collector = IssueCollector(reps.file)
    for metric, (mins, maxs) in reps.bounds.items():
        if metric not in metric_names:
            valid = ", ".join(metric_names) or "(none)"
            collector.add(
                f"bound column names metric '{metric}', which is not an account "
                f"or pair metric; metrics are: {valid}",
                row=1,
                column=f"min_{metric}" if np.isfinite(mins).any() else f"max_{metric}",
            )
            continue
        j = list(metric_names).index(metric)
        lo[:, j], hi[:, j] = mins, maxs
    collector.raise_if_any()
    return lo, hi


def edge_indices(adjacency: EdgeTable, acc_index: pd.Index, accounts_file: str) -> np.ndarray:
    """Return the unit index pairs ``(low, high)`` of an edge list; unknown ids are errors."""
    collector = IssueCollector(adjacency.file)
    where = f"{accounts_file} (account_id)"
    a = _lookup(
        adjacency.unit_a,
        acc_index,
        adjacency.rows,
        collector,
        column="unit_a",
        what="unit",
        where=where,
    )
    b = _lookup(
        adjacency.unit_b,
        acc_index,
        adjacency.rows,
        collector,
        column="unit_b",
        what="unit",
        where=where,
    )
    collector.raise_if_any()
    # Undirected: store each edge once as (low, high); repeated edges mean the same.
    edges = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    return edges.astype(np.int32)


TableSource = str | Path | pd.DataFrame


def _raw(source: TableSource, role: str) -> RawTable:
    if isinstance(source, pd.DataFrame):
        return frame_from_records(role, source)
    return read_table(source)


def load_problem(
    accounts: TableSource,
    reps: TableSource,
    *,
    pairs: TableSource | None = None,
    adjacency: TableSource | None = None,
    metrics: Sequence[str] | None = None,
    account_columns: Mapping[str, str] | None = None,
    rep_columns: Mapping[str, str] | None = None,
) -> Problem:
    """Read, validate and assemble a :class:`Problem` from files or DataFrames.

    Parameters
    ----------
    accounts, reps
        Paths (CSV, XLSX, Parquet, GeoJSON, GeoPackage) or DataFrames. DataFrames
        are copied, never modified.
    pairs
        Optional pair table ``account_id, rep_id, cost[, <metric>...]``; pairs not
        listed are forbidden.
    adjacency
        Optional ``unit_a, unit_b`` edge list of account ids.
    metrics
        Metric columns of the accounts table; default: every mostly-numeric
        column that is not a known attribute.
    account_columns, rep_columns
        Map of contract name to the file's column name.

    Returns
    -------
    Problem

    Raises
    ------
    InputError
        Naming file, row, column and problem for every bad cell found.

    Examples
    --------
    >>> from territory_opt.data.demo import generate_demo
    >>> acc, reps = generate_demo(200, seed=1)
    >>> problem = load_problem(acc, reps)
    >>> problem.n_accounts, problem.n_reps
    (200, 4)
    """
    with step("Reading accounts"):
        account_table = validate_accounts(
            _raw(accounts, "accounts"), metrics=metrics, columns=account_columns
        )
    with step("Reading reps"):
        rep_table = validate_reps(_raw(reps, "reps"), columns=rep_columns)
    pair_table = None
    if pairs is not None:
        with step("Reading pair table"):
            pair_table = validate_pairs(_raw(pairs, "pairs"))
    edge_table = None
    if adjacency is not None:
        with step("Reading adjacency"):
            edge_table = validate_adjacency(_raw(adjacency, "adjacency"))
    with step("Checking references"):
        problem = build_problem(account_table, rep_table, pairs=pair_table, adjacency=edge_table)
    paths = {
        role: str(Path(src).resolve())
        for role, src in (
            ("accounts", accounts),
            ("reps", reps),
            ("pairs", pairs),
            ("adjacency", adjacency),
        )
        if isinstance(src, str | Path)
    }
    options = {
        "metrics": None if metrics is None else list(metrics),
        "account_columns": dict(account_columns or {}),
        "rep_columns": dict(rep_columns or {}),
    }
    return dataclasses.replace(
        problem, source_paths=MappingProxyType(paths), load_options=MappingProxyType(options)
    )


__all__ = ["NO_INDEX", "InputError", "PairData", "Problem", "build_problem", "load_problem"]
