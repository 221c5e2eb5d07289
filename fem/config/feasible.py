"""Cases that the model cannot represent, refused while the case is resolved, before meshing.

Each check raises :class:`~fem.config.schema.CaseError` with one line naming the key, its value
and what is allowed (exit status 2); :func:`fem.config.resolve.resolve_case` calls them:

* :func:`check_density`: on a periodic layout the column pitch (nearest-neighbour distance of
  the lattice of ``density_per_cm2 * passes`` columns) must be at least the 1/e^2 spot
  diameter: closer columns overlap, and the layout, the refined columns and the column metrics
  (width, coverage, spared tissue) all assume separate columns. Random passes are exempt
  (their columns overlap by design, as scanned passes do), a full field has no columns.
* :func:`check_layers`: a layer thinner than :data:`LAYER_FRACTION` of the largest element the
  size field puts in it cannot be meshed. Measured with :func:`meshes.skin.build_skin_block`
  (gmsh HXT, coarse demo block, one layer made thinner): the worst element quality (minSICN)
  falls as about ``1.9 t / h`` for a layer of thickness ``t`` in elements of size ``h``
  (``t/h`` = 0.135, 0.125, 0.1, 0.063, 0.047 gave 0.21, 0.24, 0.19, 0.12, 0.09), and at
  ``t/h`` = 0.025 (a 2 um layer among 80 um elements) every attempt of the mesher stayed under
  its floor :data:`meshes.skin.MIN_QUALITY` = 0.05 and it failed. ``t >= h / 20`` keeps the
  worst element near 0.1, twice that floor. A top layer so thin that the surface size derived
  from it would be under the smallest mesh size a case may set (0.5 um) is refused too.
* :func:`check_probes`: every probe inside the tissue: the block of the layout (a unit or
  quarter cell is the cell itself), between the surface ``z = 0`` and the bottom, and not in
  an ablation crater (the crater is cut out of the mesh).
* :mod:`fem.config.budget`: the mesh must fit in the machine's memory.
"""

from __future__ import annotations

import math

import numpy as np

from fem.config import budget
from fem.config.crater import depth_at_radius
from fem.config.schema import CaseError, section_schema
from fem.config.sections import PERIODIC_PASSES, Mesh
from meshes import patterns

LAYER_FRACTION = 1.0 / 20.0  # thinnest layer, as a fraction of its largest element
SMALLEST_ELEMENT_UM = section_schema(Mesh)["surface_size_um"].lo  # 0.5 um
TOLERANCE_UM = 1e-6  # a probe this close to a face of the tissue is on it


def _lattice_pitch_um(layout: str, lattice_per_cm2: float) -> float:
    """Nearest-neighbour distance (um) of a periodic layout's lattice."""
    density = lattice_per_cm2 * 1e4  # per m^2
    pitch = patterns.hex_pitch(density) if layout == "hex" else patterns.square_pitch(density)
    return pitch * 1e6


def _round_down(x: float, digits: int = 4) -> float:
    """``x`` rounded down to ``digits`` significant digits."""
    scale = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.floor(x / scale) * scale


def check_density(out: dict) -> None:
    """Refuse a periodic layout whose columns are closer than the spot diameter."""
    pat, spot = out["pattern"], out["laser"]["spot_um"]
    if pat["layout"] not in PERIODIC_PASSES:
        return
    passes = pat["passes"]
    lattice = pat["density_per_cm2"] * passes
    pitch = _lattice_pitch_um(pat["layout"], lattice)
    if pitch >= spot:
        return
    # the largest lattice density with pitch >= spot, per pass
    largest = (1e4 / spot) ** 2 * (2.0 / math.sqrt(3.0) if pat["layout"] == "hex" else 1.0)
    lattice_text = f" x {passes} passes" if passes > 1 else ""
    raise CaseError(
        f"pattern.density_per_cm2 = {pat['density_per_cm2']!r}: the columns would overlap: "
        f"the pitch of the {'hex' if pat['layout'] == 'hex' else 'square'} lattice "
        f"({pat['density_per_cm2']:g}{lattice_text} "
        f"per cm2: {pitch:.4g} um) is less than the spot diameter (laser.spot_um = {spot:g});"
        f" allowed: <= {_round_down(largest / passes):g} per cm2"
        + (f" per pass with {passes} passes" if passes > 1 else "")
        + ", or pattern.layout = 'random' (overlapping passes)")


def _largest_distance(geo, samples: int = 33) -> float:
    """The largest lateral distance (m) from a point of the block to the nearest column box."""
    x0, x1, y0, y1 = geo.extent
    X, Y = np.meshgrid(np.linspace(x0, x1, samples), np.linspace(y0, y1, samples))
    pts = np.column_stack([X.ravel(), Y.ravel()])
    c = np.asarray(geo.centres, dtype=float).reshape(-1, 2)
    if len(c) <= 64:
        d = np.hypot(np.maximum(np.abs(pts[:, None, 0] - c[None, :, 0]) - geo.column_radius, 0),
                     np.maximum(np.abs(pts[:, None, 1] - c[None, :, 1]) - geo.column_radius, 0))
        return float(d.min(axis=1).max())
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(c).query(pts, k=1)
    return float(max(dist.max() - geo.column_radius, 0.0))


def check_layers(out: dict, given: dict, geo) -> None:
    """Refuse a layer thinner than :data:`LAYER_FRACTION` of the largest element in it, and
    top layers so thin that the surface size derived from them (1.2 times the thinner,
    :func:`fem.config.resolve.resolve_case`) falls below the smallest element a case may ask
    for (:data:`SMALLEST_ELEMENT_UM`)."""
    layers = out["skin"]["layers"]
    top_layers = list(layers.items())[:2]
    if "surface_size_um" not in given.get("mesh", {}) and \
            out["mesh"]["surface_size_um"] < SMALLEST_ELEMENT_UM:
        name, layer = min(top_layers, key=lambda item: item[1]["thickness_um"])
        raise CaseError(
            f"skin.layers.{name}.thickness_um = {layer['thickness_um']!r}: thinner than the "
            f"mesh can resolve: the surface elements follow the thinner of the two top layers "
            f"(1.2 times its thickness) and would be smaller than {SMALLEST_ELEMENT_UM:g} um, "
            f"the smallest mesh.surface_size_um; allowed: thickness_um >= "
            f"{SMALLEST_ELEMENT_UM / 1.2:.4g}")
    far_from_columns = _largest_distance(geo)
    top = 0.0
    for i, (name, layer) in enumerate(out["skin"]["layers"].items()):
        t = layer["thickness_um"]
        mid = (top + 0.5 * t) * 1e-6
        top += t
        h = float(budget.size_field(geo, far_from_columns, np.inf, mid)) * 1e6
        if t >= LAYER_FRACTION * h * (1 - 1e-9):
            continue
        sizes = ("mesh.surface_size_um" if i < geo.surface_layers else
                 "mesh.far_size_um, mesh.surface_size_um")
        raise CaseError(
            f"skin.layers.{name}.thickness_um = {t!r}: thinner than the mesh can resolve: its "
            f"elements are up to {h:.4g} um (mesh.resolution = {out['mesh']['resolution']!r}"
            f", {sizes}) and a layer thinner than 1/{1 / LAYER_FRACTION:g} of its elements "
            f"meshes into slivers; allowed: thickness_um >= {LAYER_FRACTION * h:.4g}, or "
            f"smaller elements ({sizes})")


def default_probes(centre_um: tuple[float, float], total_um: float,
                   profile_um: tuple) -> list[list[float]]:
    """The default probes: down the central column at 0, 100, 300 and 500 um below the
    tissue surface, which under a crater is its floor; those below the block are left out."""
    floor = profile_um[0][1] if profile_um else 0.0
    cx, cy = centre_um
    return [[cx, cy, -(floor + d)] for d in (0.0, 100.0, 300.0, 500.0)
            if floor + d <= total_um]


def check_probes(out: dict, layout: patterns.Layout, profile_um: tuple) -> None:
    """Refuse a probe outside the tissue (``output.probes_um`` in um, ``z`` up, the surface
    at ``z = 0``)."""
    x0, x1, y0, y1 = (v * 1e6 for v in layout.extent)
    total = sum(la["thickness_um"] for la in out["skin"]["layers"].values())
    centres = np.asarray(layout.centres, dtype=float).reshape(-1, 2) * 1e6
    tol = TOLERANCE_UM
    allowed = (f"allowed: points inside the tissue, x in [{x0:.6g}, {x1:.6g}], y in "
               f"[{y0:.6g}, {y1:.6g}], z in [{-total:.6g}, 0] um"
               + (", outside the craters" if profile_um else ""))
    for i, (x, y, z) in enumerate(out["output"]["probes_um"]):
        problem = None
        if z > tol:
            problem = "above the skin surface (z > 0 um)"
        elif z < -total - tol:
            problem = f"below the bottom of the skin (z < {-total:.6g} um)"
        elif not (x0 - tol <= x <= x1 + tol and y0 - tol <= y <= y1 + tol):
            problem = (f"outside the block of pattern.layout = {out['pattern']['layout']!r} "
                       "in the plane")
        elif profile_um:
            rho = np.hypot(centres[:, 0] - x, centres[:, 1] - y)
            depth = depth_at_radius(profile_um, rho)
            inside = np.flatnonzero(-z < depth - tol)
            if inside.size:
                j = int(inside[0])
                problem = (f"inside the ablation crater of the column at ({centres[j, 0]:.6g}, "
                           f"{centres[j, 1]:.6g}) um ({depth[j]:.4g} um deep there, "
                           f"crater.shape = {out['crater']['shape']!r}): no tissue")
        if problem:
            point = "[" + ", ".join(f"{c:g}" for c in (x, y, z)) + "]"
            raise CaseError(f"output.probes_um[{i}] = {point}: {problem}; {allowed}")


def expected_columns(pattern: dict) -> tuple[float, float]:
    """How many columns a resolved ``[pattern]`` places, and the area of its block (um^2),
    before they are placed (as :func:`meshes.patterns.make_layout` will)."""
    kind = pattern["layout"]
    lattice = pattern["density_per_cm2"] * (pattern["passes"] if kind in PERIODIC_PASSES else 1)
    pitch = 1e4 / math.sqrt(lattice)  # um
    if kind in ("unit_cell", "quarter_cell"):
        side = pitch if kind == "unit_cell" else 0.5 * pitch
        return 1.0, side * side
    default = {"single": pitch, "full_field": patterns.FULL_FIELD_PATCH * 1e6}
    patch = pattern.get("patch_um", default.get(kind, 3.0 * pitch))
    area = patch * patch
    if kind in ("single", "full_field"):
        return 1.0, area
    if kind == "grid":
        return float(max(1, round(patch / pitch)) ** 2), area
    per_pass = max(1.0, lattice * area * 1e-8)
    return per_pass * (pattern["passes"] if kind == "random" else 1), area


def mesh_profile_um(crater: dict, profile_um: tuple) -> tuple:
    """The crater profile (um) that the mesh cuts out: a blow-off or steady-state one as
    derived, a cone or paraboloid from its depth and diameter, ``()`` without a crater."""
    if crater["shape"] in ("cone", "paraboloid"):
        from fem.config.crater import shape_profile

        return shape_profile(crater["shape"], crater["depth_um"], 0.5 * crater["diameter_um"])
    return tuple(profile_um)


def check_mesh(out: dict, given: dict, layout: patterns.Layout, profile_um: tuple) -> None:
    """After the columns are placed: every layer resolvable, the mesh within the memory."""
    geo = budget.geometry_of(out, layout, profile_um)
    check_layers(out, given, geo)
    budget.check_memory(out, given, geo)
