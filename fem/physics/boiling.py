"""Boiling of tissue water at 100 C: its latent heat caps the temperature.

Temperature recovery (Hsiao 1985, Numer Heat Transfer 8:653): where a node has risen above
100 C and water is left, the sensible heat above 100 C, ``C_i (T_i - T_b)`` with the node's
heat capacity ``C_i`` (the row sum of the mass matrix), goes into vaporisation until the
node's latent heat is used up; then the dry tissue heats on. Node by node after each step, no
matrix changes; the energy ledger moves the heat from stored to vaporised, so the books still
balance exactly. The latent heat per node is ``int w rho_w L_v phi_i dx`` with the water
fraction ``w`` of each layer (water properties in :mod:`fem.config.presets`).
"""

from __future__ import annotations

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import numpy as np
import ufl
from dolfinx import mesh

from fem.config.presets import BOILING_C, LATENT_HEAT_WATER, WATER_DENSITY
from fem.config.sections import Layer
from fem.physics.layers import cellwise
from fem.physics.ledger import EnergyLedger
from fem.physics.state import State, set_owned
from fem.solvers import assemble_vector

BOILING_K = BOILING_C + 273.15  # tissue water boils (one atmosphere)


class TissueBoiling:
    """The latent heat of tissue water left at each node, and its use after each step.

    Args:
        V: the temperature space (P1).
        cell_tags: the layer tags of the cells.
        layers: the skin layers (their water fractions).
        heat_capacity: the row sums of the mass matrix, ``C_i`` (J/K), owned entries.
    """

    def __init__(self, V: dfem.FunctionSpace, cell_tags: mesh.MeshTags, layers: tuple[Layer, ...],
                 heat_capacity: PETSc.Vec):
        self.V, self.comm, self.heat_capacity = V, V.mesh.comm, heat_capacity
        V0 = dfem.functionspace(V.mesh, ("DG", 0))
        lat = cellwise(V0, cell_tags, [la.water_fraction * WATER_DENSITY * LATENT_HEAT_WATER
                                       for la in layers], "latent")
        self.latent_left = dfem.Function(V, name="latent_heat_left")
        vec = assemble_vector(dfem.form(lat * ufl.TestFunction(V) * ufl.dx(domain=V.mesh)))
        n = V.dofmap.index_map.size_local
        self.latent_left.x.array[:n] = vec.array_r
        self.latent_left.x.scatter_forward()
        self.latent_initial = self.latent_left.x.array.copy()
        vec.destroy()

    def reset(self) -> None:
        """All the water back, as before the first step."""
        self.latent_left.x.array[:] = self.latent_initial

    def apply(self, T: dfem.Function, ledger: EnergyLedger) -> None:
        """Recover the temperature of the nodes above 100 C that still hold water."""
        n = self.V.dofmap.index_map.size_local
        T_own, left = T.x.array[:n], self.latent_left.x.array[:n]
        hot = np.flatnonzero((T_own > BOILING_K) & (left > 0.0))
        taken = 0.0
        if hot.size:
            cap = self.heat_capacity.array_r[hot]
            take = np.minimum(cap * (T_own[hot] - BOILING_K), left[hot])
            T_own[hot] -= take / cap
            left[hot] -= take
            taken = float(take.sum())
        taken = self.comm.allreduce(taken, op=MPI.SUM)
        if taken:
            T.x.scatter_forward()
            self.latent_left.x.scatter_forward()
            ledger.stored -= taken
            ledger.vaporised += taken

    def state(self) -> State:
        return State(fields={"latent_left": self.latent_left})

    def restore(self, state: State) -> None:
        set_owned(self.latent_left, state.fields["latent_left"])
