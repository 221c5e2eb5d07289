"""Layered skin block with MTZ columns (and ablation craters), built with gmsh (OpenCASCADE).

Geometry and conventions (SI, metres):

* the block spans the layout's ``extent`` laterally (:mod:`meshes.patterns`: one column, a
  unit or quarter cell, or a patch of many columns) and the layer stack in depth;
* ``z`` points up, the skin surface is ``z = 0`` and tissue is ``z < 0`` (depth = ``-z``);
* each column is a cylinder of radius ``column_radius`` about its axis from the surface to
  ``column_depth`` (a quarter cylinder on the corner of a quarter cell): the refined region
  that holds the injury. All columns are fragmented with the layers in one boolean operation,
  so every layer is split into a part inside the columns and a part outside;
* an ablative column has a crater cut out of the tissue: a solid of revolution about the column
  axis whose profile (blow-off, cone or paraboloid) is a polyline; its wall is a boundary of
  the block.

Cell tags: ``1 + i`` for the part of layer ``i`` outside the columns, ``COLUMN_OFFSET + 1 + i``
for the part inside. Facet tags: :data:`TOP`, :data:`BOTTOM`, :data:`SIDES`, :data:`WALL`
(crater walls). Each has a physical group whose name is the layer name (``column_<layer>``
inside the columns) or ``top``, ``bottom``, ``sides``, ``crater_wall``.

Element sizes come from gmsh fields: the column size in and near each column, a finer size on
crater walls, the surface size through the stratum corneum and epidermis (and, where a source
is absorbed within microns of the whole surface, a finer ``top_size`` down to ``top_depth``),
all growing linearly with distance (rate ``growth``) to the far-field size.

The builders are pure: they take a gmsh model and a :class:`SkinGeometry` and return the
meshed model; nothing here imports DOLFINx or the solver. :mod:`fem.run.mesh` runs them on
rank 0, distributes the mesh with ``dolfinx.io.gmsh.model_to_mesh`` and keeps built meshes in
a cache keyed by the geometry.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

TOP, BOTTOM, SIDES, WALL = 1, 2, 3, 4
COLUMN_OFFSET = 100
COLUMN_SLABS = 4  # slabs of a column graded in depth (SkinGeometry.column_slabs)


@dataclass(frozen=True)
class SkinGeometry:
    """What the mesh builder needs to know (metres). Hashable: it keys the mesh cache."""

    layer_names: tuple[str, ...]
    thicknesses: tuple[float, ...]
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax of the block
    centres: tuple[tuple[float, float], ...]  # column axes
    column_radius: float  # refined column region
    column_depth: float
    column_size: float  # element size in the column (at the surface)
    surface_size: float  # element size through the stratum corneum and epidermis, near columns
    far_size: float  # element size far from the columns
    quarter: bool = False  # quarter cell: one quarter column on the corner x = y = 0
    crater_profile: tuple[tuple[float, float], ...] = ()  # (r, depth) from axis to mouth
    wall_size: float = 0.0  # element size on crater walls
    # element size over the whole top of the block down to top_depth, for a source absorbed
    # near the surface everywhere (a full field of a strongly absorbed wavelength); 0: none
    top_size: float = 0.0
    top_depth: float = 0.0
    growth: float = 0.4  # element size increase per unit distance (smooth transition)
    surface_layers: int = 2  # the top layers resolved with surface_size
    # element size at the bottom of the column (graded in depth from column_element at the
    # surface, :attr:`column_slabs`); 0: the column size all the way down
    column_bottom_size: float = 0.0
    # element size of the top layers away from the columns (their boundary conditions are
    # uniform there); 0: surface_size everywhere
    surface_far_size: float = 0.0

    @property
    def depth(self) -> float:
        """Total thickness of the block."""
        return float(sum(self.thicknesses))

    @property
    def area(self) -> float:
        """Area of the top of the block (crater mouths included)."""
        x0, x1, y0, y1 = self.extent
        return (x1 - x0) * (y1 - y0)

    @property
    def column_element(self) -> float:
        """Element size in the columns: >= ~12 segments round a column."""
        return min(self.column_size, 0.5 * self.column_radius)

    @property
    def column_slabs(self) -> tuple[tuple[float, float, float], ...]:
        """The refined column as ``(top depth, bottom depth, element size)`` slabs: the size
        grows linearly in depth from :attr:`column_element` in the top slab to
        ``column_bottom_size`` in the bottom one (one slab when it is not graded)."""
        h0, d = self.column_element, self.column_depth
        h1 = min(max(self.column_bottom_size, h0), 0.5 * self.column_radius)  # >= 12 round
        if h1 <= h0 * (1 + 1e-9):
            return ((0.0, d, h0),)
        n = COLUMN_SLABS
        return tuple((d * k / n, d * (k + 1) / n, h0 + (h1 - h0) * k / (n - 1))
                     for k in range(n))

    @property
    def conforming_columns(self) -> bool:
        """Whether the columns are geometric cylinders that the mesh conforms to.

        They are unless two columns overlap or come closer than one column element (random
        passes): OCC booleans of nearly tangent cylinders make sliver faces and tiny edges that
        break the fragment or the mesh. Such columns are refined by the size field alone and
        their cells tagged by centroid (:func:`fem.run.mesh.tag_columns_by_centroid`).
        """
        c = np.asarray(self.centres)
        if len(c) < 2:
            return True
        d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d2, np.inf)
        return bool(np.sqrt(d2.min()) >= 2 * self.column_radius + self.column_element)

    @property
    def crater_shape(self) -> str:
        """"none" or "profile" (a crater of revolution)."""
        return "profile" if self.crater_profile else "none"

    @property
    def crater_depth(self) -> float:
        """Depth of the crater on its axis."""
        return self.crater_profile[0][1] if self.crater_profile else 0.0

    @property
    def crater_radius(self) -> float:
        """Radius of the crater mouth."""
        return self.crater_profile[-1][0] if self.crater_profile else 0.0


def layer_tag(i: int, in_column: bool) -> int:
    """Cell tag of layer ``i`` (0 = top) inside or outside the column."""
    return (COLUMN_OFFSET if in_column else 0) + 1 + i


def _crater_tool(occ, geo: SkinGeometry, cx: float, cy: float, angle: float) -> int:
    """A solid of revolution about the column axis that removes the crater: its profile (a
    polyline, so the OCC booleans work on cones and planes and stay fast), extended along the
    last chord to a little above the surface so that no face of it lies in z = 0."""
    prof = geo.crater_profile
    (r0, d0), (r1, d1) = prof[-2], prof[-1]
    lift = 0.25 * geo.crater_depth
    r_top = r1 + (r1 - r0) / max(d0 - d1, 1e-30) * lift
    if len(prof) == 2:  # a cone: the OCC primitive (more robust in unions than a revolution)
        return occ.addCone(cx, cy, lift, 0, 0, -(d0 + lift), r_top, 0.0, angle=angle)
    pts = [(r, -d) for r, d in prof] + [(r_top, lift), (0.0, lift)]
    p = [occ.addPoint(cx + r, cy, z) for r, z in pts]
    lines = [occ.addLine(a, b) for a, b in zip(p, p[1:] + p[:1])]
    face = occ.addPlaneSurface([occ.addCurveLoop(lines)])
    out = occ.revolve([(2, face)], cx, cy, 0, 0, 0, 1, angle)
    occ.remove([(2, face)], recursive=True)
    return next(t for dim, t in out if dim == 3)


def _first_quadrant(occ, geo: SkinGeometry, tag: int, cx: float, cy: float):
    """``(3, tag)``; in a quarter cell, the quarter solid turned into the quadrant x, y >= c.

    OCC opens partial solids of revolution from an axis that depends on the primitive, so
    the solid is turned by quarter turns until its bounding box lies in the quadrant.
    """
    if geo.quarter:
        for _ in range(4):
            x0, y0 = occ.getBoundingBox(3, tag)[:2]
            if x0 > cx - 1e-6 and y0 > cy - 1e-6:
                break
            occ.rotate([(3, tag)], cx, cy, 0, 0, 0, 1, -0.5 * math.pi)
        else:
            raise MeshError("could not place the quarter column in the quarter cell")
    return (3, tag)


def build_skin_block(model, geo: SkinGeometry):
    """Add the layered block with its columns (and craters) to a gmsh model and mesh it.

    All columns are fragmented with the layers in one boolean operation, so the cost grows
    with the number of columns, not with its square.

    Args:
        model: ``gmsh.model`` (on rank 0).
        geo: geometry and element sizes.

    Returns:
        The same model, meshed, with physical groups.
    """
    import gmsh

    gmsh.option.setNumber("Geometry.OCCBoundsUseStl", 1)  # tight boxes of curved faces
    occ = model.occ
    x0, x1, y0, y1 = geo.extent
    boxes, z = [], 0.0
    for t in geo.thicknesses:
        boxes.append((3, occ.addBox(x0, y0, z - t, x1 - x0, y1 - y0, t)))
        z -= t
    angle = 0.5 * math.pi if geo.quarter else 2 * math.pi
    columns = [_first_quadrant(occ, geo, occ.addCylinder(
        cx, cy, 0, 0, 0, -geo.column_depth, geo.column_radius, angle=angle), cx, cy)
        for cx, cy in geo.centres] if geo.conforming_columns else []
    if geo.crater_shape != "none":
        craters = [_first_quadrant(occ, geo, _crater_tool(occ, geo, cx, cy, angle), cx, cy)
                   for cx, cy in geo.centres]
        if not geo.conforming_columns:  # overlapping craters: one tool, their union
            craters = occ.fuse(craters[:1], craters[1:])[0]
        # Cut the craters out of the layers and the columns first, then fragment once.
        cut = [occ.cut([b], craters, removeTool=False)[0] for b in boxes]
        columns = [e for c in columns for e in occ.cut([c], craters, removeTool=False)[0]]
        occ.remove(craters, recursive=True)
    else:
        cut = [[b] for b in boxes]
    layer_parts = [e for parts in cut for e in parts]
    layer_index = [i for i, parts in enumerate(cut) for _ in parts]
    _, pieces = occ.fragment(layer_parts, columns)
    occ.synchronize()

    # Each output volume lies in exactly one layer; it is a column part when it also came out
    # of a column (maps: layer parts first, then columns).
    layer_of = {t: layer_index[k] for k, m in enumerate(pieces[: len(layer_parts)]) for _, t in m}
    in_column = {t for m in pieces[len(layer_parts):] for _, t in m}
    groups: dict[int, list[int]] = {}
    for tag, i in sorted(layer_of.items()):
        groups.setdefault(layer_tag(i, tag in in_column), []).append(tag)
    for tag, entities in sorted(groups.items()):
        name = geo.layer_names[(tag - 1) % COLUMN_OFFSET]
        model.addPhysicalGroup(3, entities, tag, name=f"column_{name}" if tag > COLUMN_OFFSET else name)
    _tag_boundary(model, geo)
    return _generate(model, geo)


def _tag_boundary(model, geo: SkinGeometry) -> None:
    """Physical groups of the outer surfaces: top, bottom, sides, crater walls."""
    x0, x1, y0, y1 = geo.extent
    tol = 1e-6  # m: OCC pads bounding boxes (~1e-7 m); every feature is > 5 um
    outer = [s for _, s in model.getEntities(2) if len(model.getAdjacencies(2, s)[0]) == 1]
    kinds: dict[int, list[int]] = {TOP: [], BOTTOM: [], SIDES: [], WALL: []}
    for s in outer:
        bx0, by0, bz0, bx1, by1, bz1 = model.getBoundingBox(2, abs(s))
        if bz1 - bz0 < tol and abs(bz1) < tol:
            kinds[TOP].append(abs(s))
        elif bz1 - bz0 < tol and abs(bz0 + geo.depth) < tol:
            kinds[BOTTOM].append(abs(s))
        elif (bx1 - bx0 < tol and min(abs(bx0 - x0), abs(bx1 - x1)) < tol) or (
                by1 - by0 < tol and min(abs(by0 - y0), abs(by1 - y1)) < tol):
            kinds[SIDES].append(abs(s))
        else:
            kinds[WALL].append(abs(s))
    if kinds[WALL] and geo.crater_shape == "none":
        raise MeshError(f"unexpected outer surfaces {kinds[WALL]} in a block without craters")
    for tag, name in ((TOP, "top"), (BOTTOM, "bottom"), (SIDES, "sides"), (WALL, "crater_wall")):
        if kinds[tag]:
            model.addPhysicalGroup(2, sorted(set(kinds[tag])), tag, name=name)


def _size_field(model, geo: SkinGeometry, surface_scale: float = 1.0) -> None:
    """Element size: fine in the columns and on crater walls, resolved through the top layers,
    growing linearly (rate ``growth``) with distance up to the far-field size.

    gmsh Box fields (a box with a linear transition layer) combined with a Min field,
    evaluated in compiled code, cheap per column: the top layers at ``surface_far_size`` over
    the whole block; per column, boxes of half-width ``column_radius``: the top layers at
    ``surface_size`` and the column's slabs (:attr:`SkinGeometry.column_slabs`, the element
    size graded in depth).
    """
    field = model.mesh.field
    for f in field.list():
        field.remove(f)
    g, far = geo.growth, geo.far_size
    surf_depth = float(sum(geo.thicknesses[: geo.surface_layers]))
    x0, x1, y0, y1 = geo.extent
    big = 2.0 * max(x1 - x0, y1 - y0, geo.depth)

    def box(size, xa, xb, ya, yb, za, zb):
        f = field.add("Box")
        for key, value in (("VIn", size), ("VOut", far), ("XMin", xa), ("XMax", xb),
                           ("YMin", ya), ("YMax", yb), ("ZMin", za), ("ZMax", zb),
                           ("Thickness", max(far - size, 0.0) / g)):
            field.setNumber(f, key, value)
        return f

    r = geo.column_radius
    h_surf = surface_scale * geo.surface_size
    h_away = max(surface_scale * geo.surface_far_size, h_surf)
    fields = [box(h_away, x0 - big, x1 + big, y0 - big, y1 + big, -surf_depth, big)]
    if h_away > h_surf:  # the top layers resolved finely over the columns only
        fields += [box(h_surf, cx - r, cx + r, cy - r, cy + r, -surf_depth, big)
                   for cx, cy in geo.centres]
    fields += [box(h, cx - r, cx + r, cy - r, cy + r, -bottom, big if top == 0.0 else -top)
               for cx, cy in geo.centres for top, bottom, h in geo.column_slabs]
    if geo.top_size > 0.0:
        fields.append(box(surface_scale * geo.top_size, x0 - big, x1 + big, y0 - big, y1 + big,
                          -geo.top_depth, big))
    if geo.crater_shape != "none":
        R, dc = geo.crater_radius, geo.crater_depth
        fields += [box(surface_scale * geo.wall_size, cx - R, cx + R, cy - R, cy + R, -dc, big)
                   for cx, cy in geo.centres]
    fmin = field.add("Min")
    field.setNumbers(fmin, "FieldsList", fields)
    field.setAsBackgroundMesh(fmin)


MIN_QUALITY = 0.05  # minSICN below this is a sliver: refused (see _generate)


def _generate(model, geo: SkinGeometry):
    """Mesh in 3D and keep the mesh only if it has no sliver (minSICN >= :data:`MIN_QUALITY`).

    Thin layers (the stratum corneum is 10-20 um thick) meshed with elements about their
    thickness give, now and then, a flat tetrahedron whose four nodes lie on the two faces of
    the layer: no optimiser can move them. The remedy is a slightly different surface size, so
    the attempts are HXT with the surface size scaled by 1, 0.9, 0.8, then classic Delaunay.
    """
    import gmsh

    for opt in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{opt}", 0)
    gmsh.option.setNumber("Mesh.Optimize", 1)
    # Surfaces: frontal-Delaunay on the planes (fast on large patches) and MeshAdapt on the
    # curved column and crater walls: frontal-Delaunay and Delaunay leave a vertex on the
    # cylinder seam at some sizes, which no 3D algorithm recovers from; MeshAdapt meshed every
    # resolution and spot tried (coarse to fine, 60-200 um).
    gmsh.option.setNumber("Mesh.Algorithm", 6)
    curved = [s for _, s in model.getEntities(2) if model.getType(2, s) != "Plane"]
    tried = []
    # 10 HXT, 1 Delaunay; the curved walls by MeshAdapt (1), last by frontal-Delaunay (6)
    for algorithm, scale, walls in ((10, 1.0, 1), (10, 0.9, 1), (10, 0.8, 1), (1, 1.0, 1),
                                    (10, 1.0, 6), (10, 0.9, 6)):
        for s in curved:
            model.mesh.setAlgorithm(2, s, walls)
        gmsh.option.setNumber("Mesh.Algorithm3D", algorithm)
        _size_field(model, geo, surface_scale=scale)
        try:
            model.mesh.generate(3)
        except Exception as e:  # gmsh raises plain Exceptions
            log.warning("gmsh 3D algorithm %d failed: %s", algorithm, e)
            model.mesh.clear()
            continue
        quality = _min_quality(model) if _num_cells(model) else 0.0
        if quality >= MIN_QUALITY:
            return model
        tried.append(f"algorithm {algorithm}, surface size x{scale}, walls {walls}: min quality "
                     f"{quality:.2g}")
        log.info("mesh has a sliver (min quality %.2g): meshing again", quality)
        model.mesh.clear()
    raise MeshError("gmsh could not mesh the skin block without slivers ("
                    + "; ".join(tried) + "); try another mesh.surface_size_um")


class MeshError(RuntimeError):
    """gmsh failed to mesh the geometry (a numerical failure, exit status 1)."""


def _num_cells(model) -> int:
    _, elems, _ = model.mesh.getElements(3)
    return sum(len(e) for e in elems)


def _min_quality(model) -> float:
    _, elems, _ = model.mesh.getElements(3)
    return min(float(model.mesh.getElementQualities(e, "minSICN").min()) for e in elems)


def quality_summary(model) -> dict:
    """Element count and quality (gmsh minSICN) per physical group and overall, on rank 0."""
    summary: dict = {"regions": {}}
    all_q = []
    for dim, tag in model.getPhysicalGroups(3):
        name = model.getPhysicalName(dim, tag)
        qs = []
        for entity in model.getEntitiesForPhysicalGroup(dim, tag):
            _, elems, _ = model.mesh.getElements(dim, entity)
            if elems:
                qs.append(model.mesh.getElementQualities(elems[0], "minSICN"))
        q = np.concatenate(qs) if qs else np.zeros(0)
        all_q.append(q)
        summary["regions"][name] = {"cells": int(q.size),
                                    "min_quality": float(q.min()) if q.size else 0.0,
                                    "mean_quality": float(q.mean()) if q.size else 0.0}
    q = np.concatenate(all_q)
    summary.update(cells=int(q.size), min_quality=float(q.min()), mean_quality=float(q.mean()))
    return summary
