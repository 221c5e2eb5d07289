"""The Pareto front of a trade-off: what a plan's chart marks and its tests check."""

from __future__ import annotations


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated when the first value is minimised and the second
    maximised, sorted by the first value."""
    out = []
    for i, (a, b) in enumerate(points):
        if not any((a2 <= a and b2 >= b) and (a2 < a or b2 > b) for a2, b2 in points):
            out.append(i)
    return sorted(out, key=lambda i: points[i][0])
