"""The Monte Carlo beam map of a case (``laser.light = "monte_carlo"``): its optics, its grid,
and a cache keyed by them.

The map depends on the optics of the layers (thickness, ``mu_a = water_fraction *
water_absorption``, ``mu_s = mu_s' / (1 - g)``, ``g``, ``n``), the beam in the tissue (waist,
focus, divergence), the grid and the photon budget and seed, not on the pulse energy, its
timing or the pattern: one map serves every column of a pattern and every energy of a sweep.
It is computed by every rank of the run's communicator together (batches shared out, the
result identical on any number of ranks: :func:`fem.physics.photon.simulate`) and kept in
``$MTZ_LIGHT_CACHE`` or ``~/.cache/mtz-fem/light`` (``off`` disables), keyed by a hash of
those inputs and of the photon kernel's source.

Grid: rings of ``w0 / 12`` (at most 5 um) out to 1.5 mm whatever the layout (so that a unit
cell, a quarter cell and a patch of the same skin share one map; light absorbed farther than
that from its column counts as lost through the sides), depth bins of at most 10 um that end
on the layer interfaces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem.config import Case
from fem.physics import photon
from fem.physics.beam_map import ScatteredBeam

log = logging.getLogger(__name__)

MAP_RADIUS = 1.5e-3  # m
DEPTH_BIN = 10e-6  # m
MAX_PHOTONS = 4_000_000


def optics(case: Case) -> tuple[list[photon.OpticalLayer], photon.Launch, photon.MapGrid]:
    """The slab, the launch and the grid of a case's beam map."""
    lz = case.laser
    scattering = lz.reduced_scattering / (1.0 - lz.anisotropy)
    layers = [photon.OpticalLayer(la.thickness, la.water_fraction * lz.water_absorption,
                                  scattering, lz.anisotropy, lz.refractive_index)
              for la in case.skin.layers]
    launch = photon.Launch(lz.w0, lz.focal_depth, lz.divergence)
    dr = min(lz.w0 / 12.0, 5e-6)
    return layers, launch, photon.MapGrid(MAP_RADIUS, math.ceil(MAP_RADIUS / dr), DEPTH_BIN)


def cache_dir(case: Case) -> Path | None:
    """``$MTZ_LIGHT_CACHE`` or ``~/.cache/mtz-fem/light``; None when off (or the mesh cache is
    off for the case)."""
    env = os.environ.get("MTZ_LIGHT_CACHE", "")
    if env == "off" or not case.mesh.cache:
        return None
    return Path(env) if env else Path.home() / ".cache" / "mtz-fem" / "light"


def cache_key(case: Case) -> str:
    """Hash of everything the map depends on."""
    layers, launch, grid = optics(case)
    lz = case.laser
    budget = {"photons": lz.photons} if lz.photons else {"target_error": lz.light_error,
                                                         "max_photons": MAX_PHOTONS}
    inputs = {"layers": [asdict(la) for la in layers], "launch": asdict(launch),
              "grid": asdict(grid), "seed": lz.light_seed, **budget,
              "kernel": hashlib.sha256(Path(photon.__file__).read_bytes()).hexdigest()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]


def _save(path: Path, m: photon.BeamMap) -> None:
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **{f.name: np.asarray(getattr(m, f.name)) for f in fields(m)})
    tmp.replace(path)


def _load(path: Path) -> photon.BeamMap:
    with np.load(path) as data:
        values = {}
        for f in fields(photon.BeamMap):
            v = data[f.name]
            values[f.name] = v if v.ndim else v.item()
    return photon.BeamMap(**values)


def beam_map(case: Case, comm: MPI.Comm) -> photon.BeamMap:
    """The case's map, from the cache when it has it (read on every rank), else computed by
    all ranks and written by rank 0."""
    folder = cache_dir(case)
    path = folder / f"{cache_key(case)}.npz" if folder else None
    # rank 0 decides, so that every rank loads or every rank computes (a collective)
    cached = comm.bcast(path is not None and path.exists() if comm.rank == 0 else None)
    if cached:
        m = _load(path)
        log.info("light: Monte Carlo map from the cache (%d photons, error %.2f %%)",
                 m.photons, 100 * m.relative_error)
        return m
    layers, launch, grid = optics(case)
    lz = case.laser
    budget = ({"photons": lz.photons} if lz.photons else
              {"target_error": lz.light_error, "max_photons": MAX_PHOTONS})
    log.info("light: Monte Carlo map, %d x %d bins, %s", grid.nr,
             len(grid.z_edges(layers)) - 1,
             f"{lz.photons} photons" if lz.photons else
             f"until the error is below {100 * lz.light_error:g} %")
    m = photon.simulate(layers, launch, grid, seed=lz.light_seed, comm=comm, **budget)
    log.info("light: %d photons in %.1f s, error %.2f %%; specular %.4f, diffuse %.4f, "
             "transmitted %.4f", m.photons, m.wall_time, 100 * m.relative_error, m.specular,
             m.diffuse_reflectance, m.transmitted)
    if path is not None and comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(path, m)
    comm.Barrier()
    return m


def scattered_beam(case: Case, comm: MPI.Comm) -> ScatteredBeam | None:
    """The Monte Carlo source of a case, or None for Beer-Lambert."""
    if case.laser.light != "monte_carlo":
        return None
    return ScatteredBeam(beam_map(case, comm), 2.0 / (math.pi * case.laser.w0**2))
