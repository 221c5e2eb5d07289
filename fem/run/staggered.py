"""Mechanics after the heat: one-way staggered solves at the output times and at the end.

Mechanics does not feed back on heat, so solving it from the temperature and collagen damage
of a step is exact for that step (the thermal strain and the collagen shrinkage are
eigenstrains). :class:`StaggeredMechanics` builds the elasticity problem at its first call (it
needs the initial temperature, the stress-free state) and keeps it; each call gives a row of
``mechanics.csv`` and, when the case writes fields, keeps the displacement (µm, P1) for the
time series ``fields/displacement.pvd``.
"""

from __future__ import annotations

import logging
import time

import dolfinx.fem as dfem

from fem.config import Case
from fem.output.files import csv_text
from fem.physics.heat import PennesProblem
from fem.physics.mechanics import ElasticityProblem
from fem.physics.state import State
from fem.run.checkpoint import set_by_coordinates
from fem.run.problems import elasticity_problem

log = logging.getLogger(__name__)

MECHANICS_COLUMNS = ("time_ms", "tightening_area_percent", "linear_contraction_percent",
                     "max_von_mises_kPa", "residual_stress_kPa")
COOLED_METRICS = ("tightening_area_percent", "linear_contraction_percent", "max_von_mises_kPa",
                  "residual_stress_kPa")


def mechanics_csv(rows: list[dict]) -> str:
    """``mechanics.csv``: the mechanics metrics at each output time and at the end."""
    return csv_text(MECHANICS_COLUMNS, rows)


class StaggeredMechanics:
    """Mechanics from the temperature and collagen damage at an output time (one-way coupled:
    a staggered solve is exact). The elasticity problem is built at the first call (it needs
    the initial temperature) and kept; each call returns a row of ``mechanics.csv``: the time
    and the mechanics metrics."""

    def __init__(self, data, case: Case, heat: PennesProblem):
        self.data, self.case, self.heat = data, case, heat
        self.problem: ElasticityProblem | None = None
        self.seconds = 0.0  # spent in the calls so far
        self.displacements: list[tuple[float, dfem.Function]] = []  # (t, µm on P1) per call

    def _build(self) -> ElasticityProblem:
        if self.problem is None:
            d = self.data
            self.problem = elasticity_problem(d.mesh, d.cell_tags, d.facet_tags, self.case,
                                              self.heat.T_initial)
        return self.problem

    def _solve(self, T: dfem.Function, damage: dict) -> dict:
        tic = time.perf_counter()
        self._build().solve(T, damage["collagen"].omega)
        self.seconds += time.perf_counter() - tic
        return self.problem.metrics()

    def __call__(self, t: float, T: dfem.Function, damage: dict) -> dict:
        row = {"time_ms": t * 1e3, **self._solve(T, damage)}
        if self.case.output.fields:
            self.displacements.append((t, displacement_um_p1(self.problem, self.heat.V)))
        log.info("mechanics at %.4g ms: tightening %.3f %%", row["time_ms"],
                 row["tightening_area_percent"])
        return row

    def state(self) -> State:
        """The displacement (and pressure) of the last solve: the first guess of the next one
        (none before the first output time); the displacements kept for the time series."""
        mech = self.problem
        if mech is None:
            return State()
        fields = {"u": mech.u} if mech.p is None else {"u": mech.u, "p": mech.p}
        fields.update({f"u_um_{i}": u for i, (_, u) in enumerate(self.displacements)})
        return State(fields, {"iterations": mech.iterations,
                              "displacement_times": [t for t, _ in self.displacements]})

    def restore(self, state: State) -> None:
        """Continue after a saved output time: the problem is built and its last solution
        set, so that the next solve starts where the uninterrupted run's did."""
        if "u" not in state.fields:
            return
        mech = self._build()
        mech.prepare()
        set_by_coordinates(mech.u, state.fields["u"])
        if mech.p is not None:
            set_by_coordinates(mech.p, state.fields["p"])
        mech.iterations = state.values["iterations"]
        self.displacements = []
        for i, t in enumerate(state.values.get("displacement_times", [])):
            u = displacement_um_p1(mech, self.heat.V)
            set_by_coordinates(u, state.fields[f"u_um_{i}"])
            self.displacements.append((t, u))

    def cooled(self, damage: dict) -> dict:
        """The lasting state: the collagen shrinkage of ``damage`` with the tissue back at its
        initial temperature (no thermal strain left; denatured collagen stays shrunk and
        Omega no longer grows at body temperature). Metrics prefixed ``cooled_``: the
        tightening a patient keeps, whereas the end-time metrics still hold the thermal
        expansion of the heat that has not yet left (a dense patch stays warm for tens of
        seconds). The fields (displacement, stresses) are not kept: solve the end state after.
        """
        row = self._solve(self.heat.T_initial, damage)
        return {f"cooled_{k}": row[k] for k in COOLED_METRICS}


def displacement_um_p1(mech: ElasticityProblem, V1: dfem.FunctionSpace) -> dfem.Function:
    """The displacement in µm on the vector P1 space of ``V1``'s mesh (snapshot, series)."""
    Vv = dfem.functionspace(V1.mesh, ("Lagrange", 1, (3,)))
    u1 = dfem.Function(Vv, name="displacement_um")
    u1.interpolate(mech.u)
    u1.x.array[:] *= 1e6
    return u1
