"""The mesh of a case: the gmsh model of :mod:`meshes.skin` turned into a DOLFINx mesh, in one
place, with a cache of built meshes.

gmsh runs on rank 0 only (:func:`fem.parallel.on_root`, so that its failure reaches every
rank); ``dolfinx.io.gmsh.model_to_mesh`` distributes the mesh. Built meshes are kept in a cache
keyed by the geometry (:func:`cache_key`), so the cases of a sweep that share a geometry mesh
once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from mpi4py import MPI

import numpy as np

from fem.config import Case
from fem.config.crater import depth_of_optical_depth, resample_crater
from fem.parallel import on_root
from fem.physics.source import attenuation
from fem.run import signals
from meshes import skin
from meshes.skin import COLUMN_OFFSET, SkinGeometry, build_skin_block, layer_tag, quality_summary

log = logging.getLogger(__name__)

RESAMPLED_POINTS = 16  # profile radii of a crater meshed again (mesh_case)
WALL_MIN_SIZE = 4.5e-6  # m: the smallest crater-wall element (see wall_size)
TOP_OPTICAL_DEPTH = 4.0  # a full field's fine top reaches where 98 % of the light is absorbed


def wall_size(case: Case) -> float:
    """Element size on crater walls: at most the column size and a third of the crater depth,
    and half the absorption length below the wall, where the residual heat goes, but not
    below :data:`WALL_MIN_SIZE`.

    Two errors of the source integral meet on the wall: the faceted wall (chords of a curved
    profile) misplaces a sliver of tissue of the absorption depth, and the fixed-degree
    quadrature integrates ``exp(-mu d)`` across an element. At 10.6 um (absorption length
    18 um) half the absorption length keeps both under 0.5 % (measured 0.41 %); at 2.94 um
    (1.2 um) no column mesh resolves the absorption length, and 4.5 um walls keep the
    quadrature error at 0.3 % (9 um walls gave 0.94 %).
    """
    if not case.crater.profile:
        return 0.0
    return min(case.mesh.column_size, case.crater.depth / 3.0, absorption_size(case))


def absorption_size(case: Case) -> float:
    """Half the absorption length of the surface layers (the two top ones), at least
    :data:`WALL_MIN_SIZE`: the element size where the light is absorbed at a surface."""
    absorption_length = 1.0 / max(attenuation(case.laser, la) for la in case.skin.layers[:2])
    return max(0.5 * absorption_length, WALL_MIN_SIZE)


def top_refinement(case: Case) -> tuple[float, float]:
    """Element size over the whole top surface and its depth (m) for a full field: the flat
    top is absorbed under every point of the surface, so where its absorption length is short
    the whole top, not only a column, needs the size of a crater wall (:func:`wall_size`:
    half the absorption length, at least :data:`WALL_MIN_SIZE`), down to where the optical
    depth reaches :data:`TOP_OPTICAL_DEPTH`. ``(0, 0)`` when the surface size is already as
    fine (1550 and 1927 nm) or for the fractional layouts, whose columns carry the source."""
    if not case.pattern.layout.full_field:
        return 0.0, 0.0
    size = absorption_size(case)
    if size >= case.mesh.surface_size:
        return 0.0, 0.0
    layers = case.skin.layers
    mu = [attenuation(case.laser, la) for la in layers]
    depth = float(depth_of_optical_depth([la.thickness for la in layers], mu,
                                         np.array(TOP_OPTICAL_DEPTH)))
    return size, min(depth, 0.5 * case.skin.depth)


def geometry_from_case(case: Case) -> SkinGeometry:
    """Mesh parameters of a case."""
    lay, m = case.pattern.layout, case.mesh
    top_size, top_depth = top_refinement(case)
    return SkinGeometry(
        layer_names=tuple(layer.name for layer in case.skin.layers),
        thicknesses=tuple(layer.thickness for layer in case.skin.layers),
        extent=lay.extent,
        centres=lay.centres,
        column_radius=m.column_radius,
        column_depth=m.column_depth,
        column_size=m.column_size,
        column_bottom_size=m.column_bottom_size,
        surface_size=m.surface_size,
        surface_far_size=m.surface_far_size,
        far_size=m.far_size,
        quarter=lay.kind == "quarter_cell",
        crater_profile=case.crater.profile,
        wall_size=wall_size(case),
        top_size=top_size,
        top_depth=top_depth,
    )


def build_mesh(case: Case, comm: MPI.Comm):
    """Mesh of a case: ``(MeshData, quality summary)``, from the mesh cache when it has it."""
    return to_dolfinx(geometry_from_case(case), comm,
                      default_cache_dir() if case.mesh.cache else None)


def mesh_case(case: Case, comm: MPI.Comm):
    """:func:`build_mesh`, and if gmsh cannot mesh a cut crater, once more with the crater's
    profile resampled at :data:`RESAMPLED_POINTS` radii along the same polyline (gmsh fails,
    rarely, on one placement of the vertices of a deep crater, e.g. the 860 um CO2 channel of
    160 mJ). Returns ``(case, MeshData, quality)``: the case whose crater was meshed."""
    try:
        return (case, *build_mesh(case, comm))
    except skin.MeshError:
        if case.crater.shape not in ("blowoff", "steady_state"):
            raise
    log.warning("mesh: gmsh failed on the crater profile; resampling it at %d radii",
                RESAMPLED_POINTS)
    case = dataclasses.replace(case, crater=resample_crater(case.crater, RESAMPLED_POINTS))
    return (case, *build_mesh(case, comm))


def default_cache_dir() -> Path | None:
    """Mesh cache: ``$MTZ_MESH_CACHE``, or ``~/.cache/mtz-fem/meshes``; "off" disables it."""
    env = os.environ.get("MTZ_MESH_CACHE")
    if env is not None and env.strip().lower() in ("", "0", "off", "none", "false"):
        return None
    return Path(env) if env else Path.home() / ".cache" / "mtz-fem" / "meshes"


def cache_key(geo: SkinGeometry) -> str:
    """Key of a mesh: the geometry, the gmsh version and the source of the mesh builder."""
    import gmsh

    text = "\n".join([repr(geo), gmsh.__version__, Path(skin.__file__).read_text()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def to_dolfinx(geo: SkinGeometry, comm: MPI.Comm = MPI.COMM_WORLD,
               cache_dir: Path | None = None):
    """Build the block on rank 0 (or read it from the cache) and distribute it.

    With a ``cache_dir``, a mesh is stored as ``<key>.msh`` plus its quality summary
    ``<key>.json``, both written atomically; cases with the same geometry (a sweep over
    anything but the geometry) mesh once.

    Returns:
        ``(mesh_data, summary)``: the ``dolfinx.io.gmsh.MeshData`` (mesh, cell_tags,
        facet_tags, physical_groups) and the quality summary (on every rank), whose
        ``cached`` entry says whether the mesh came from the cache.
    """
    import gmsh
    from dolfinx.io.gmsh import model_to_mesh

    if gmsh.isInitialized():  # start from gmsh's default options, whatever a caller set
        gmsh.finalize()
    gmsh.initialize(interruptible=False)
    signals.reinstall()  # gmsh sets handlers of its own, which would end the run at once
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)  # deterministic meshes (regression tests)
    try:
        # gmsh works on rank 0; its failure is raised on every rank (none waits for the mesh)
        summary = on_root(comm, lambda: _build_or_load(gmsh, geo, cache_dir))
        data = model_to_mesh(gmsh.model, comm, 0, gdim=3)
        if not geo.conforming_columns:
            data = tag_columns_by_centroid(data, geo)
    finally:
        if comm.rank == 0:
            gmsh.model.remove()
        gmsh.finalize()
        signals.reinstall()
    return data, summary


def tag_columns_by_centroid(data, geo: SkinGeometry):
    """Cell tags with the column cells (centroid within the column radius of an axis and above
    the column depth) moved to ``COLUMN_OFFSET + 1 + i``; for non-conforming columns."""
    from dolfinx import mesh as dmesh
    from dolfinx.io.gmsh import PhysicalGroup

    domain, tags = data.mesh, data.cell_tags
    x = domain.geometry.x
    centroids = x[domain.geometry.dofmaps[0]].mean(axis=1)[tags.indices]
    inside = centroids[:, 2] > -geo.column_depth
    r2 = geo.column_radius**2
    hit = np.zeros(len(tags.indices), dtype=bool)
    for cx, cy in geo.centres:
        hit |= (centroids[:, 0] - cx) ** 2 + (centroids[:, 1] - cy) ** 2 < r2
    values = tags.values.copy()
    values[inside & hit & (values < COLUMN_OFFSET)] += COLUMN_OFFSET
    new = dmesh.meshtags(domain, 3, tags.indices, values)
    new.name = tags.name
    groups = dict(data.physical_groups)
    for i, name in enumerate(geo.layer_names):
        groups[f"column_{name}"] = PhysicalGroup(3, layer_tag(i, True))
    return data._replace(cell_tags=new, physical_groups=groups)


def _build_or_load(gmsh, geo: SkinGeometry, cache_dir: Path | None) -> dict:
    """On rank 0: the meshed model in ``gmsh.model`` and its quality summary."""
    paths = None
    if cache_dir is not None:
        key = cache_key(geo)
        paths = (Path(cache_dir) / f"{key}.msh", Path(cache_dir) / f"{key}.json")
        if paths[0].exists() and paths[1].exists():
            gmsh.model.add("skin")
            gmsh.merge(str(paths[0]))
            summary = json.loads(paths[1].read_text())
            log.info("mesh: read from the cache %s", paths[0])
            return {**summary, "cached": True}
    gmsh.model.add("skin")
    t0 = time.perf_counter()
    build_skin_block(gmsh.model, geo)
    summary = {**quality_summary(gmsh.model), "seconds": time.perf_counter() - t0}
    if paths is not None:
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        tmp = paths[0].with_name(f".{paths[0].stem}.{os.getpid()}.tmp.msh")
        gmsh.option.setNumber("Mesh.Binary", 1)
        gmsh.write(str(tmp))
        os.replace(tmp, paths[0])
        tmp_json = paths[1].with_name(f".{paths[1].name}.{os.getpid()}.tmp")
        tmp_json.write_text(json.dumps(summary))
        os.replace(tmp_json, paths[1])
    return {**summary, "cached": False}


def region_cell_data(domain, cell_tags) -> dict[str, np.ndarray]:
    """Per owned cell: its layer index and whether it lies in a column (for the snapshots)."""
    n_owned = domain.topology.index_map(3).size_local
    tags = np.zeros(n_owned, dtype=np.int32)
    own = cell_tags.indices < n_owned
    tags[cell_tags.indices[own]] = cell_tags.values[own]
    return {"layer": (tags - 1) % COLUMN_OFFSET,
            "in_column": (tags > COLUMN_OFFSET).astype(np.int32)}
