"""Quasi-static small-strain elasticity with thermal and collagen-shrinkage eigenstrain.

    -div sigma = 0,   sigma = lambda tr(eps(u) - eps*) I + 2 mu (eps(u) - eps*)
    eps* = alpha (T - T0) I - s_max F(Omega_collagen) P,    F(Omega) = 1 - exp(-Omega)

``P`` projects on the plane of the dermal collagen (``diag(1, 1, 0)``, or ``I`` for isotropic
shrinkage) and shrinkage acts only in layers flagged ``collagen``. ``T0`` is the initial
(steady) temperature, the stress-free state.

Boundary conditions: the bottom is held in the normal direction, the sides and top are free;
the in-plane rigid motions left by that are removed by pinning two bottom corners (one in x and
y, one in y), which changes no strain or stress. In a quarter cell the planes x = 0 and y = 0
are symmetry planes (normal displacement zero) instead, and the outer sides stay free, so the
quarter deforms as a quarter of the free unit cell.

Solver: CG + GAMG with the six rigid-body modes as near-nullspace (``A.setNearNullSpace``).
"""

from __future__ import annotations

import logging

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import fem, la, mesh

from fem.config import Case
from fem.heat import cellwise, check_converged, make_spd_solver
from meshes.skin import BOTTOM, TOP

log = logging.getLogger(__name__)


def rigid_body_modes(V: fem.FunctionSpace) -> tuple[PETSc.NullSpace, list[la.Vector]]:
    """The six rigid-body modes of a 3D vector space, orthonormalised, as a PETSc NullSpace.

    Returns the nullspace and the vectors that hold its storage (keep them alive with it).
    """
    index_map, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    n = index_map.size_local
    basis = [la.vector(index_map, bs=bs, dtype=PETSc.ScalarType) for _ in range(6)]
    b = [v.array.reshape(-1, bs) for v in basis]
    x = V.tabulate_dof_coordinates()[:n]
    for i in range(3):
        b[i][:n, i] = 1.0  # translations
    b[3][:n, 0], b[3][:n, 1] = -x[:, 1], x[:, 0]  # rotations
    b[4][:n, 0], b[4][:n, 2] = x[:, 2], -x[:, 0]
    b[5][:n, 2], b[5][:n, 1] = x[:, 1], -x[:, 2]
    la.orthonormalize(basis)
    vecs = [v.petsc_vec for v in basis]
    return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm), basis


def epsilon(u):
    """Small strain."""
    return ufl.sym(ufl.grad(u))


class ElasticityProblem:
    """Eigenstrain elasticity of the layered block; :meth:`solve` for given T and Omega."""

    def __init__(self, domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                 case: Case, T0: fem.Function):
        self.mesh, self.case, self.comm = domain, case, domain.comm
        gdim = domain.geometry.dim
        self.V = fem.functionspace(domain, ("Lagrange", case.mechanics_degree, (gdim,)))
        V0 = fem.functionspace(domain, ("DG", 0))
        L = case.layers
        E = np.array([la_.E for la_ in L])
        nu = np.array([la_.nu for la_ in L])
        self.lmbda = cellwise(V0, cell_tags, list(E * nu / ((1 + nu) * (1 - 2 * nu))), "lambda")
        self.mu = cellwise(V0, cell_tags, list(E / (2 * (1 + nu))), "mu")
        self.alpha = cellwise(V0, cell_tags, [la_.alpha for la_ in L], "alpha")
        self.collagen = cellwise(V0, cell_tags, [float(la_.collagen) for la_ in L], "collagen")

        VT = T0.function_space
        self.T0 = T0.copy()
        self.T = fem.Function(VT, name="temperature")
        self.omega = fem.Function(VT, name="omega_collagen")
        self.u = fem.Function(self.V, name="displacement")

        I = ufl.Identity(gdim)
        P = ufl.as_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 0]]) if case.shrinkage_plane == "in_plane" else I
        F_omega = 1.0 - ufl.exp(-self.omega)
        self.eps_star = (
            self.alpha * (self.T - self.T0) * I - case.shrinkage_max * self.collagen * F_omega * P
        )
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        dx = ufl.dx(domain=domain)
        a = ufl.inner(self.sigma_elastic(epsilon(u)), epsilon(v)) * dx
        L_form = ufl.inner(self.sigma_elastic(self.eps_star), epsilon(v)) * dx
        self.a, self.L = fem.form(a), fem.form(L_form)

        fdim = domain.topology.dim - 1
        zero = PETSc.ScalarType(0.0)

        def held(component: int, facets: np.ndarray) -> fem.DirichletBC:
            dofs = fem.locate_dofs_topological(self.V.sub(component), fdim, facets)
            return fem.dirichletbc(zero, dofs, self.V.sub(component))

        bcs = [held(2, facet_tags.find(BOTTOM))]  # bottom held in the normal direction
        x0, x1, y0, y1 = case.layout.extent
        tol = 1e-3 * case.column_size
        if case.layout.mirror:  # quarter cell: the planes x = x0 and y = y0 are symmetry planes
            for component, plane in ((0, lambda x: np.abs(x[0] - x0) < tol),
                                     (1, lambda x: np.abs(x[1] - y0) < tol)):
                bcs.append(held(component, mesh.locate_entities_boundary(domain, fdim, plane)))
        else:  # free sides: two bottom corners pinned against the in-plane rigid motions
            D = case.depth
            for (cx, comps) in ((x0, (0, 1)), (x1, (1,))):
                corner = mesh.locate_entities_boundary(
                    domain, 0, lambda x, cx=cx: (np.abs(x[0] - cx) < tol)
                    & (np.abs(x[1] - y0) < tol) & (np.abs(x[2] + D) < tol))
                for i in comps:
                    dofs = fem.locate_dofs_topological(self.V.sub(i), 0, corner)
                    bcs.append(fem.dirichletbc(zero, dofs, self.V.sub(i)))
        self.bcs = bcs

        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.nullspace, self._nullspace_basis = rigid_body_modes(self.V)
        self.A.setNearNullSpace(self.nullspace)
        self.A.setOption(PETSc.Mat.Option.SPD, True)
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        ksp = make_spd_solver(self.comm, self.A, "mech_", 1e-9, case.max_it)
        self.ksp = ksp
        self.iterations = 0

        V0s = fem.functionspace(domain, ("DG", 0))
        self.von_mises = fem.Function(V0s, name="von_mises")
        s = self.sigma(self.u)
        dev = s - ufl.tr(s) / 3 * I
        self._vm_expr = fem.Expression(ufl.sqrt(1.5 * ufl.inner(dev, dev)),
                                       V0s.element.interpolation_points)
        top = ufl.Measure("ds", domain=domain, subdomain_data=facet_tags)(TOP)  # craters out
        Fd = I + ufl.grad(self.u)
        n = ufl.as_vector([0.0, 0.0, 1.0])
        cof_n = ufl.det(Fd) * ufl.inv(Fd).T * n  # Nanson: deformed area element of the top
        self._area = fem.form(ufl.sqrt(ufl.dot(cof_n, cof_n)) * top)
        self._area0 = fem.form(1.0 * top)
        self._stretch = fem.form(0.5 * (self.u[0].dx(0) + self.u[1].dx(1)) * top)

    def sigma_elastic(self, e):
        """Hooke's law for a strain ``e``."""
        return self.lmbda * ufl.tr(e) * ufl.Identity(3) + 2.0 * self.mu * e

    def sigma(self, u):
        """Stress of a displacement, eigenstrain included."""
        return self.sigma_elastic(epsilon(u) - self.eps_star)

    def solve(self, T: fem.Function, omega_collagen: fem.Function) -> fem.Function:
        """Displacement for the given temperature and collagen damage."""
        self.T.x.array[:] = T.x.array
        self.omega.x.array[:] = omega_collagen.x.array
        b = self.b
        with b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[self.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, self.bcs)
        self.ksp.solve(b, self.u.x.petsc_vec)
        check_converged(self.ksp, "mechanics")
        self.iterations += self.ksp.getIterationNumber()
        self.u.x.scatter_forward()
        self.von_mises.interpolate(self._vm_expr)
        return self.u

    @property
    def dofs(self) -> int:
        """Global number of displacement unknowns."""
        return self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    def metrics(self) -> dict[str, float]:
        """Tightening of the top surface and peak von Mises stress."""
        comm = self.comm

        def total(form):
            return comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

        area0 = total(self._area0)
        area = total(self._area)
        stretch = total(self._stretch) / area0
        n_local = self.von_mises.function_space.dofmap.index_map.size_local
        vm_local = self.von_mises.x.array[:n_local]
        vm = comm.allreduce(float(vm_local.max()) if vm_local.size else 0.0, op=MPI.MAX)
        return {
            "tightening_area_percent": 100.0 * (1.0 - area / area0),
            "linear_contraction_percent": -100.0 * stretch,
            "max_von_mises_kPa": vm * 1e-3,
        }
