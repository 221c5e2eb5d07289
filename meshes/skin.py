"""Layered skin block with one MTZ column, built with gmsh (OpenCASCADE kernel).

Geometry and conventions (SI, metres):

* the block is ``[-L/2, L/2]^2`` laterally, L the cell side set by the treatment density;
* ``z`` points up, the skin surface is ``z = 0`` and tissue is ``z < 0`` (depth = ``-z``);
* the column axis is ``x = y = 0``; the column is a cylinder of radius ``column_radius`` from the
  surface to ``column_depth``, fragmented with the layers so every layer is split into a part
  inside and a part outside the column.

Cell tags: ``1 + i`` for the part of layer ``i`` outside the column, ``COLUMN_OFFSET + 1 + i``
for the part inside. Facet tags: :data:`TOP`, :data:`BOTTOM`, :data:`SIDES`.
Each has a physical group whose name is the layer name (``column_<layer>`` inside the column)
or ``top``, ``bottom``, ``sides``.

gmsh runs on rank 0 only; :func:`to_dolfinx` distributes the mesh with
``dolfinx.io.gmsh.model_to_mesh``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mpi4py import MPI

import numpy as np

log = logging.getLogger(__name__)

TOP, BOTTOM, SIDES = 1, 2, 3
COLUMN_OFFSET = 100


@dataclass(frozen=True)
class SkinGeometry:
    """What the mesh builder needs to know (metres)."""

    layer_names: tuple[str, ...]
    thicknesses: tuple[float, ...]
    cell_side: float
    column_radius: float
    column_depth: float
    column_size: float  # element size in the column
    surface_size: float  # element size through the stratum corneum and epidermis
    far_size: float  # element size far from the column
    growth: float = 0.4  # element size increase per unit distance (smooth transition)
    surface_layers: int = 2  # the top layers resolved with surface_size

    @property
    def depth(self) -> float:
        """Total thickness of the block."""
        return float(sum(self.thicknesses))


def layer_tag(i: int, in_column: bool) -> int:
    """Cell tag of layer ``i`` (0 = top) inside or outside the column."""
    return (COLUMN_OFFSET if in_column else 0) + 1 + i


def geometry_from_case(case) -> SkinGeometry:
    """Mesh parameters of a :class:`fem.config.Case`."""
    return SkinGeometry(
        layer_names=tuple(layer.name for layer in case.layers),
        thicknesses=tuple(layer.thickness for layer in case.layers),
        cell_side=case.cell_side,
        column_radius=case.column_radius,
        column_depth=case.column_depth,
        column_size=case.column_size,
        surface_size=case.surface_size,
        far_size=case.far_size,
    )


def build_skin_block(model, geo: SkinGeometry):
    """Add the layered block with one column to a gmsh model and mesh it (in place).

    Args:
        model: ``gmsh.model`` (on rank 0).
        geo: geometry and element sizes.

    Returns:
        The same model, meshed, with physical groups.
    """
    occ = model.occ
    L = geo.cell_side
    boxes, z = [], 0.0
    for t in geo.thicknesses:
        boxes.append(occ.addBox(-L / 2, -L / 2, z - t, L, L, t))
        z -= t
    cyl = occ.addCylinder(0, 0, 0, 0, 0, -geo.column_depth, geo.column_radius)
    occ.fragment([(3, b) for b in boxes], [(3, cyl)])
    occ.synchronize()

    # Identify the fragments by their bounding boxes: layer from the centre depth, column
    # parts from their lateral extent.
    interfaces = np.concatenate([[0.0], -np.cumsum(geo.thicknesses)])
    groups: dict[int, list[int]] = {}
    for _, tag in model.getEntities(3):
        x0, _, z0, x1, _, z1 = model.getBoundingBox(3, tag)
        zc = 0.5 * (z0 + z1)
        i = int(np.searchsorted(-interfaces, -zc)) - 1
        in_column = (x1 - x0) < 0.5 * (geo.cell_side + 2 * geo.column_radius)
        groups.setdefault(layer_tag(i, in_column), []).append(tag)
    for tag, entities in sorted(groups.items()):
        i = (tag - 1) % COLUMN_OFFSET
        name = geo.layer_names[i]
        model.addPhysicalGroup(3, entities, tag, name=f"column_{name}" if tag > COLUMN_OFFSET else name)

    eps = 0.1 * min(geo.thicknesses)  # OCC pads bounding boxes by ~1e-7 m
    big = 2 * L

    def surfaces_in(xmin, ymin, zmin, xmax, ymax, zmax):
        return [t for _, t in model.getEntitiesInBoundingBox(xmin, ymin, zmin, xmax, ymax, zmax, 2)]

    top = surfaces_in(-big, -big, -eps, big, big, eps)
    bottom = surfaces_in(-big, -big, -geo.depth - eps, big, big, -geo.depth + eps)
    sides = []
    for s in (-1, 1):
        sides += surfaces_in(s * L / 2 - eps, -big, -big - geo.depth, s * L / 2 + eps, big, big)
        sides += surfaces_in(-big, s * L / 2 - eps, -big - geo.depth, big, s * L / 2 + eps, big)
    model.addPhysicalGroup(2, top, TOP, name="top")
    model.addPhysicalGroup(2, bottom, BOTTOM, name="bottom")
    model.addPhysicalGroup(2, sorted(set(sides)), SIDES, name="sides")

    # Element size: fine in the column region, resolved through the top layers, growing
    # linearly with distance from both up to the far-field size.
    surf_depth = float(sum(geo.thicknesses[: geo.surface_layers]))
    g = geo.growth
    h_col = min(geo.column_size, 0.5 * geo.column_radius)  # >= ~12 segments round the column
    column = (
        f"{h_col} + {g}*(Max(Sqrt(x*x+y*y) - {geo.column_radius}, 0)"
        f" + Max(-z - {geo.column_depth}, 0))"
    )
    surface = f"{geo.surface_size} + {g}*Max(-z - {surf_depth}, 0)"
    field = model.mesh.field.add("MathEval")
    model.mesh.field.setString(field, "F", f"Min({geo.far_size}, Min({column}, {surface}))")
    model.mesh.field.setAsBackgroundMesh(field)
    import gmsh

    for opt in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{opt}", 0)
    gmsh.option.setNumber("Mesh.Optimize", 1)
    # MeshAdapt for the surfaces: frontal-Delaunay and Delaunay leave a vertex on the
    # cylinder seam at some sizes (medium and fine meshes), which no 3D algorithm recovers
    # from; MeshAdapt meshed every resolution and spot tried (coarse to fine, 60-200 um).
    gmsh.option.setNumber("Mesh.Algorithm", 1)
    for algorithm in (10, 1):  # HXT (fast), then classic Delaunay
        gmsh.option.setNumber("Mesh.Algorithm3D", algorithm)
        try:
            model.mesh.generate(3)
        except Exception as e:  # gmsh raises plain Exceptions
            log.warning("gmsh 3D algorithm %d failed: %s", algorithm, e)
            model.mesh.clear()
            continue
        if _num_cells(model) > 0 and _min_quality(model) > 0:
            return model
        model.mesh.clear()
    raise MeshError(f"gmsh could not mesh the skin block ({geo})")


class MeshError(RuntimeError):
    """gmsh failed to mesh the geometry (a numerical failure, exit status 1)."""


def _num_cells(model) -> int:
    _, elems, _ = model.mesh.getElements(3)
    return sum(len(e) for e in elems)


def _min_quality(model) -> float:
    _, elems, _ = model.mesh.getElements(3)
    return min(float(model.mesh.getElementQualities(e, "minSICN").min()) for e in elems)


def quality_summary(model) -> dict:
    """Element count per physical group and element quality (gmsh minSICN), on rank 0."""
    summary: dict = {"regions": {}}
    all_q = []
    for dim, tag in model.getPhysicalGroups(3):
        name = model.getPhysicalName(dim, tag)
        n, qs = 0, []
        for entity in model.getEntitiesForPhysicalGroup(dim, tag):
            _, elems, _ = model.mesh.getElements(dim, entity)
            if elems:
                n += len(elems[0])
                qs.append(model.mesh.getElementQualities(elems[0], "minSICN"))
        q = np.concatenate(qs) if qs else np.zeros(1)
        all_q.append(q)
        summary["regions"][name] = {"cells": n, "min_quality": float(q.min())}
    q = np.concatenate(all_q)
    summary.update(cells=int(q.size), min_quality=float(q.min()), mean_quality=float(q.mean()))
    return summary


def to_dolfinx(geo: SkinGeometry, comm: MPI.Comm = MPI.COMM_WORLD):
    """Build the block on rank 0 and distribute it.

    Returns:
        ``(mesh_data, summary)``: the ``dolfinx.io.gmsh.MeshData`` (mesh, cell_tags,
        facet_tags, physical_groups) and the quality summary (on every rank).
    """
    import gmsh
    from dolfinx.io.gmsh import model_to_mesh

    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)  # deterministic meshes (regression tests)
    summary = None
    try:
        if comm.rank == 0:
            gmsh.model.add("skin")
            build_skin_block(gmsh.model, geo)
            summary = quality_summary(gmsh.model)
        summary = comm.bcast(summary, root=0)
        data = model_to_mesh(gmsh.model, comm, 0, gdim=3)
    finally:
        if comm.rank == 0:
            gmsh.model.remove()
        gmsh.finalize()
    return data, summary
