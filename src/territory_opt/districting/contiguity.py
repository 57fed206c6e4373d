r"""Connectivity of districts and the separator inequalities that enforce it.

For a district ``j`` whose units fall into several connected pieces, take a
piece ``C`` that does not hold the district's anchor ``b`` (its center, or a
unit of its largest piece). ``N(C)`` (the units bordering ``C``) holds no unit
of ``j``. Let ``R`` be the part of the graph reachable from ``b`` without
entering ``C`` or ``N(C)``; every path from ``C`` to ``b`` leaves ``C`` through
``S = N(C) ∩ N(R)``, so ``S`` is a minimal ``a``-``b`` separator for every
``a`` in ``C`` and

.. math:: x_{a j} + x_{b j} - \sum_{s \in S} x_{s j} \le 1

holds for every connected district (with a fixed center ``b``, ``x_{bj} = 1``
and the cut reads ``x_{aj} \le \sum_S x_{sj}``). See Validi, Buchanan and
Lykhovyd, "Imposing contiguity constraints in political districting models",
Operations Research 70(2), 2022.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Separator:
    """A piece of a district cut off from the district's anchor unit.

    ``separator`` separates every unit of ``piece`` from ``anchor``.
    """

    district: int
    piece: np.ndarray
    anchor: int
    separator: np.ndarray


def pieces(labels: np.ndarray, edges: np.ndarray, k: int) -> list[list[np.ndarray]]:
    """Return the connected pieces (unit index arrays, largest first) of each district."""
    n = len(labels)
    same = labels[edges[:, 0]] == labels[edges[:, 1]] if len(edges) else np.zeros(0, dtype=bool)
    e = edges[same]
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    out: list[list[np.ndarray]] = []
    for j in range(k):
        members = np.flatnonzero(labels == j)
        groups = [members[comp[members] == c] for c in np.unique(comp[members])]
        groups.sort(key=lambda g: (-len(g), int(g[0])))
        out.append(groups)
    return out


def is_contiguous(labels: np.ndarray, edges: np.ndarray, k: int) -> bool:
    """Whether every non-empty district is one connected piece."""
    return all(len(p) <= 1 for p in pieces(labels, edges, k))


def _reach(start: int, blocked: np.ndarray, nbrs: Sequence[np.ndarray]) -> np.ndarray:
    seen = blocked.copy()
    seen[start] = True
    order = [start]
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if not seen[v]:
                seen[v] = True
                order.append(int(v))
                queue.append(int(v))
    return np.array(order, dtype=np.int64)


def separators(
    labels: np.ndarray,
    edges: np.ndarray,
    nbrs: Sequence[np.ndarray],
    k: int,
    anchors: np.ndarray | None = None,
) -> Iterator[Separator]:
    """Yield a minimal separator for every piece cut off from its district's anchor.

    Parameters
    ----------
    labels
        District index per unit.
    edges, nbrs
        The unit graph as an edge array and as neighbour lists.
    k
        Number of districts.
    anchors
        Center unit per district; by default a unit of the district's largest piece.
    """
    n = len(labels)
    for j, groups in enumerate(pieces(labels, edges, k)):
        if len(groups) <= 1:
            continue
        anchor = int(anchors[j]) if anchors is not None else int(groups[0][0])
        for piece in groups:
            if anchor in set(piece.tolist()):
                continue
            inside = np.zeros(n, dtype=bool)
            inside[piece] = True
            border = np.zeros(n, dtype=bool)
            for u in piece:
                border[nbrs[u]] = True
            border &= ~inside
            reach = _reach(anchor, inside | border, nbrs)
            near_reach = np.zeros(n, dtype=bool)
            for u in reach:
                near_reach[nbrs[u]] = True
            sep = np.flatnonzero(border & near_reach)
            yield Separator(j, piece, anchor, sep)
