"""How a case becomes problems: the physics objects of a case, each from the sections it needs.

The physics takes typed settings, never the whole case; these factories are the one place that
knows which sections each problem takes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mpi4py import MPI

import dolfinx.fem as dfem
import ufl
from dolfinx import mesh

from fem.config import Case
from fem.config.presets import ABLATIVE_LASERS
from fem.physics.cooling import SurfaceConditions
from fem.physics.damage import make_damage
from fem.physics.heat import PennesProblem
from fem.physics.mechanics import ElasticityProblem, MechanicsSettings, plane_sides, skin_bcs
from fem.physics.source import BeamSource
from fem.run.light import scattered_beam

log = logging.getLogger(__name__)


def beam_source(case: Case, comm: MPI.Comm | None = None, light: bool = True) -> BeamSource:
    """The laser source: one beam per column of the layout, fired at the case's times (a
    flat top over a full field; above the blow-off threshold of an ablative laser it warns
    that the full field models no crater). With ``laser.light = "monte_carlo"`` the beam map
    comes from :mod:`fem.run.light`, computed on ``comm`` (default: this rank alone);
    ``light`` False leaves it out (a source for the pulse timing only)."""
    scattered = scattered_beam(case, comm or MPI.COMM_SELF) if light else None
    source = BeamSource(case.laser, case.skin.layers, case.pattern.layout, case.crater,
                        case.pattern.fire_times, scattered)
    threshold = case.laser.ablation_threshold
    if (source.flat_top and case.laser.preset in ABLATIVE_LASERS and threshold is not None
            and source.fluence > threshold):
        log.warning("full field at %.3g J/cm^2, above the blow-off threshold %.3g J/cm^2: no "
                    "crater is modelled, the tissue it would remove stays and heats",
                    1e-4 * source.fluence, 1e-4 * threshold)
    return source


def surface_conditions(case: Case) -> SurfaceConditions:
    """The surface in air and under the cooling device."""
    return SurfaceConditions(case.boundary, case.cooling)


def heat_problem(domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                 case: Case, source: BeamSource | None = None,
                 surface: SurfaceConditions | None = None, with_laser: bool = True,
                 heat_input: Callable[[ufl.Argument], ufl.Form] | None = None) -> PennesProblem:
    """The Pennes problem of a case on its mesh: the case's laser (``with_laser`` False: no
    heat source), or ``heat_input`` in its place (see :class:`PennesProblem`)."""
    if heat_input is not None or not with_laser:
        source = None
    elif source is None:
        source = beam_source(case)
    return PennesProblem(domain, cell_tags, facet_tags, case.skin.layers, case.boundary,
                         case.tissue, case.solver, surface or surface_conditions(case), source,
                         heat_input)


def damage_integrals(V: dfem.FunctionSpace, case: Case) -> dict:
    """One damage integral per purpose (``cell``, ``collagen``, ``cem43``) on ``V``."""
    return make_damage(V, case.damage.kinetics)


def elasticity_problem(domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                       case: Case, T0: dfem.Function) -> ElasticityProblem:
    """The skin block of a case: its layers, settings and boundary conditions, stress-free at
    the temperature ``T0``."""
    layout, sides = case.pattern.layout, case.mechanics.sides
    periodic = (lambda V: plane_sides(V, layout)) if sides == "periodic" else None
    return ElasticityProblem(
        domain, cell_tags, facet_tags, case.skin.layers, T0,
        MechanicsSettings.from_sections(case.mechanics, case.solver),
        lambda V: skin_bcs(V, facet_tags, layout, sides, case.skin.depth),
        periodic=periodic)
