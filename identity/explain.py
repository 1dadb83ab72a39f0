"""Why are two identifiers the same customer? The chain of accepted links between them."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from identity.cluster import Edge
from identity.types import Identifier


def explain(a: Identifier, b: Identifier, edges: Iterable[Edge]) -> list[Edge] | None:
    """The shortest chain of accepted edges from ``a`` to ``b``, in walking order.

    Each edge names its rule (the identifier-type pair) and the source records that evidence it.
    Returns ``[]`` when ``a == b`` and ``None`` when they are not connected. Deterministic: among
    shortest chains, neighbours are explored in identifier order.
    """
    if a == b:
        return []
    neighbours: dict[Identifier, list[tuple[Identifier, Edge]]] = {}
    for edge in edges:
        neighbours.setdefault(edge.a, []).append((edge.b, edge))
        neighbours.setdefault(edge.b, []).append((edge.a, edge))
    if a not in neighbours or b not in neighbours:
        return None
    for adjacent in neighbours.values():
        adjacent.sort(key=lambda pair: pair[0])
    came_from: dict[Identifier, tuple[Identifier, Edge] | None] = {a: None}
    queue = deque([a])
    while queue:
        node = queue.popleft()
        if node == b:
            break
        for nxt, edge in neighbours[node]:
            if nxt not in came_from:
                came_from[nxt] = (node, edge)
                queue.append(nxt)
    if b not in came_from:
        return None
    chain: list[Edge] = []
    node = b
    while (step := came_from[node]) is not None:
        node, edge = step
        chain.append(edge)
    chain.reverse()
    return chain
