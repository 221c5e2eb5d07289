"""Point evaluation of finite-element functions in parallel.

:class:`PointEvaluator` locates a fixed set of points once (bounding-box tree + exact cell
collision) and then evaluates any function on the same mesh at them. Each point is evaluated by
exactly one rank, the lowest that holds a cell containing it, and the values are summed over
ranks, so every rank gets the same array whatever the partition. Points outside the mesh give
NaN, unless the points are named (``key``, the case key they come from, such as
``output.probes_um``): then a point that no rank finds is bad input, a
:class:`~fem.config.CaseError` raised on every rank together (the configuration refuses such
probes before meshing; this is the safety net).
"""

from __future__ import annotations

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np
from dolfinx import geometry, mesh

from fem.config import CaseError


# Points located at a time: the barycentric test holds ~200 bytes for each (point, candidate
# cell) pair, tens of candidates per point, so the 2.9 M points of the metrics of a 98-column
# patch took about 7 GB in one pass.
LOCATE_CHUNK = 50_000


def locate_in_tetrahedra(domain: mesh.Mesh, candidates, pts: np.ndarray,
                         tol: float = 1e-10) -> np.ndarray:
    """The first candidate cell that contains each point (-1 if none), affine tetrahedra.

    A vectorised barycentric test over all (point, candidate) pairs; it replaces the general
    GJK test of ``compute_colliding_cells``, which is exact for any cell but ~100x slower.
    """
    offsets, cand = candidates.offsets, candidates.array
    counts = np.diff(offsets)
    point_of = np.repeat(np.arange(pts.shape[0]), counts)
    cell_of = np.full(pts.shape[0], -1, dtype=np.int64)
    if cand.size == 0:
        return cell_of
    x = domain.geometry.x
    nodes = domain.geometry.dofmaps[0][cand]  # (pairs, 4)
    v0 = x[nodes[:, 0]]
    J = np.stack([x[nodes[:, i]] - v0 for i in (1, 2, 3)], axis=2)  # columns: edges
    lam = np.linalg.solve(J, (pts[point_of] - v0)[:, :, None])[:, :, 0]
    inside = (lam.min(axis=1) >= -tol) & (lam.sum(axis=1) <= 1.0 + tol)
    hits = np.flatnonzero(inside)
    # first hit per point: reverse so that earlier pairs overwrite later ones
    cell_of[point_of[hits[::-1]]] = cand[hits[::-1]]
    return cell_of


def owned_cell_tree(domain: mesh.Mesh) -> geometry.BoundingBoxTree:
    """The bounding-box tree of the owned cells of ``domain``, built once per mesh (3 s per
    million cells: the metrics, probes and healing samples all locate their points in it)."""
    tree = getattr(domain, "_owned_cell_tree", None)
    if tree is None:
        tdim = domain.topology.dim
        n_owned = domain.topology.index_map(tdim).size_local
        tree = geometry.bb_tree(domain, tdim, entities=np.arange(n_owned, dtype=np.int32),
                                padding=1e-12)
        domain._owned_cell_tree = tree
    return tree


class PointEvaluator:
    """Evaluate functions at fixed points (coordinates in metres, shape ``(n, 3)``)."""

    def __init__(self, domain: mesh.Mesh, points: np.ndarray, key: str | None = None):
        self.comm = domain.comm
        pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
        self.n = pts.shape[0]
        tree = owned_cell_tree(domain)
        cell_of = np.full(self.n, -1, dtype=np.int64)
        for lo in range(0, self.n, LOCATE_CHUNK):  # the pairs of a chunk: ~10 MB per 1000
            chunk = pts[lo:lo + LOCATE_CHUNK]
            cell_of[lo:lo + LOCATE_CHUNK] = locate_in_tetrahedra(
                domain, geometry.compute_collisions_points(tree, chunk), chunk)
        found = np.flatnonzero(cell_of >= 0)
        claim = np.full(self.n, self.comm.size, dtype=np.int32)
        claim[found] = self.comm.rank
        owner = np.empty_like(claim)
        self.comm.Allreduce(claim, owner, op=MPI.MIN)
        mine = found[owner[found] == self.comm.rank]
        self.local_index = mine
        self.local_points = pts[mine]
        self.local_cells = cell_of[mine].astype(np.int32)
        self.missing = owner == self.comm.size
        if key is not None and self.missing.any():  # the same on every rank (Allreduce)
            i = int(np.flatnonzero(self.missing)[0])
            point = "[" + ", ".join(f"{c * 1e6:g}" for c in pts[i]) + "]"
            raise CaseError(f"{key}[{i}] = {point}: not inside the mesh (found on none of "
                            f"the {self.comm.size} rank(s)); allowed: points inside the "
                            "tissue, outside the craters (um)")

    def __call__(self, u: dfem.Function) -> np.ndarray:
        """Values of ``u`` at the points, shape ``(n,)`` or ``(n, value_size)``, on every rank."""
        vs = int(np.prod(u.function_space.value_shape)) if u.function_space.value_shape else 1
        local = np.zeros((self.n, vs))
        if self.local_index.size:
            local[self.local_index] = u.eval(self.local_points, self.local_cells).reshape(-1, vs)
        out = np.empty_like(local)
        self.comm.Allreduce(local, out, op=MPI.SUM)
        out[self.missing] = np.nan
        return out[:, 0] if vs == 1 else out
