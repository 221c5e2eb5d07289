"""Re-epithelialisation of the epidermal wounds, the MENDs and the pigment they carry out.

Keratinocytes migrate in from the viable margin of each epidermal wound along the basement
membrane, the plane of the dermal-epidermal junction (healing.md: they start within an hour,
the wound is closed within about a day). The wound is therefore solved on a **basal plane**: a
triangle mesh of the patch (:class:`BasalPlane`), distributed like the 3D mesh, on which the
thermal result is sampled once (:class:`EpidermalWound`): where the basal keratinocytes died
(cell death ``Omega >= 1``), where an ablation crater opened the barrier, how deep the necrotic
epidermis reaches, and the hair-follicle islands of a full-field wound. A plane of its own
rather than a submesh of the 3D top: the crater mouths are holes in the 3D top surface, yet
they are wound that must close; and the thin epidermis of the 3D mesh is far coarser in the
plane than the fronts need.

Two models of the closing wound, the ``healing.epidermis_model``:

* ``front``: an active sheet of constant normal speed ``v`` after a lag ``t0``; a point at
  distance ``d`` from the viable margin closes at ``t0 + d / v`` (:func:`front_closure`).
  ``d`` is the exact distance to the margin, the polyline where the level ``ln Omega``
  crosses zero in the triangles (linear interpolation, second order), found with a k-d tree;
  overlapping columns fuse into one wound and close at the time of their union.
* ``fisher_kpp``: keratinocyte density ``u`` (0 in the wound, 1 in intact epidermis),
  ``u_t = D lap u + r u (1 - u)`` (Fisher 1937, Kolmogorov-Petrovsky-Piskunov 1937; front
  speed ``2 sqrt(D r)``), semi-implicit: ``(M_L + dt D K) u' = M_L (u + dt r u (1 - u))`` with
  the lumped mass, which keeps ``0 <= u <= 1`` (:class:`FisherKPP`). A point closes when ``u``
  reaches 1/2 (linear in time between steps).

A non-ablative column heals under its intact stratum corneum: the sheet bridges it. An ablative
crater leaves the barrier open: granulation tissue fills it from its floor at
``healing.crater_fill_um_per_h`` and the epithelium covers a point only once the fill has
reached the basal plane there (``EpidermalWound.fill_time``), so a crater closes at the later
of the front's arrival and its fill. A full-field wound has no margin inside the patch: the
epithelium comes back from the follicles (after climbing from below the necrosis) and from
the edge of the treated field.

MENDs (healing.md; Laubach et al. 2006): the necrotic epidermis over each point is lifted by
the new epithelium beneath it once that point has closed, and rises at
``healing.mend_rise_um_per_h`` until it is shed at the surface: ``t_shed = t_close +
d_mend / v_mend``, ``d_mend`` the depth of the bottom of the necrotic epidermis. The pigment
a session clears is the share of the epidermal melanin inside necrotic (or ablated) tissue
(:func:`pigment_cleared`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import mesh
from scipy.spatial import cKDTree

from fem.physics.state import State, set_owned
from fem.solvers import check_converged

CLOSED = 0.5  # u at which the Fisher-KPP wound counts as covered
# Densities below this are no cells: without a cut-off the round-off of the solves grows at the
# logistic rate r ahead of the front (to O(1) after ln(1e16) / r) and outruns it. Its effect on
# the front speed (Brunet & Derrida 1997, Phys Rev E 56:2597): 2 sqrt(D r) (1 - pi^2 / (2 ln^2
# eps)), 0.6 % slower.
CUTOFF = 1e-12


class BasalPlane:
    """A P1 triangle mesh of the rectangle ``extent`` (m), cells about ``cell_size`` wide."""

    def __init__(self, comm: MPI.Comm, extent: tuple[float, float, float, float],
                 cell_size: float):
        x0, x1, y0, y1 = extent
        nx = max(2, math.ceil((x1 - x0) / cell_size))
        ny = max(2, math.ceil((y1 - y0) / cell_size))
        self.extent = extent
        self.mesh = mesh.create_rectangle(comm, [np.array([x0, y0]), np.array([x1, y1])],
                                          [nx, ny], mesh.CellType.triangle,
                                          diagonal=mesh.DiagonalType.crossed)
        self.comm = comm
        self.V = dfem.functionspace(self.mesh, ("Lagrange", 1))
        self.n_owned = self.V.dofmap.index_map.size_local
        n_local = self.n_owned + self.V.dofmap.index_map.num_ghosts
        self.xy = self.V.tabulate_dof_coordinates()[:n_local, :2]
        v = ufl.TestFunction(self.V)
        lumped = dolfinx.fem.petsc.assemble_vector(dfem.form(v * ufl.dx))
        lumped.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self.area_weights = lumped.array[:self.n_owned].copy()  # lumped mass, owned dofs
        lumped.destroy()
        self.area = comm.allreduce(float(self.area_weights.sum()), op=MPI.SUM)

    def function(self, values: np.ndarray, name: str) -> dfem.Function:
        """A P1 function of the plane with the given values on the local (owned + ghost) dofs."""
        f = dfem.Function(self.V, name=name)
        f.x.array[:] = values
        return f

    def share(self, mask: np.ndarray) -> float:
        """Share of the plane's area where ``mask`` (local dofs) holds (lumped, 0-1)."""
        part = float(self.area_weights[mask[:self.n_owned]].sum())
        return self.comm.allreduce(part, op=MPI.SUM) / self.area

    def max(self, values: np.ndarray, default: float = 0.0) -> float:
        """Largest owned value over all ranks (``default`` where there is none)."""
        v = values[:self.n_owned]
        v = v[np.isfinite(v)]
        return self.comm.allreduce(float(v.max()) if v.size else default, op=MPI.MAX)


@dataclass
class EpidermalWound:
    """The epidermal wound at the end of the pulse, on the local dofs of a basal plane.

    Attributes:
        level: ``ln Omega_cell`` at the basal layer (> 0: the keratinocytes there died);
            +inf inside a crater.
        open_barrier: an ablation crater opened the barrier there.
        fill_time: s until the crater fill reaches the basal plane (0 outside craters).
        mend_depth: depth of the bottom of the necrotic epidermis below the surface, m.
        follicle: inside a surviving follicle island (a reservoir inside the wound).
        follicle_delay: s for the follicle epithelium to climb to the basal plane.
        edge_distance: distance to the edge of the treated field (full field), m; None: the
            field is the plane itself (its margin is inside it).
    """

    level: np.ndarray
    open_barrier: np.ndarray
    fill_time: np.ndarray
    mend_depth: np.ndarray
    follicle: np.ndarray
    follicle_delay: float = 0.0
    edge_distance: np.ndarray | None = None

    @property
    def defect(self) -> np.ndarray:
        """Where the epidermis must be rebuilt (necrotic basal layer or open crater)."""
        return (self.level > 0.0) & ~self.follicle


def margin_segments(plane: BasalPlane, level: np.ndarray) -> np.ndarray:
    """The zero level of ``level`` as line segments ``(n, 2, 2)``, gathered from every rank.

    In each triangle whose vertex values change sign the level crosses two edges; the
    crossings are interpolated linearly (``+inf`` values, craters, count as far inside), which
    locates the margin to second order. The union over ranks is the same whatever the
    partition (cells on two ranks give the same segment twice, which changes no distance).
    """
    cells = plane.V.dofmap.list
    f = np.where(np.isinf(level), 1e3, level)[cells]  # (cells, 3)
    pos = f > 0.0
    crossed = pos.any(axis=1) & ~pos.all(axis=1)
    f, c = f[crossed], cells[crossed]
    ends = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        cut = (f[:, a] > 0.0) != (f[:, b] > 0.0)
        s = np.where(cut, f[:, a] / np.where(cut, f[:, a] - f[:, b], 1.0), 0.0)[:, None]
        p = plane.xy[c[:, a]] + s * (plane.xy[c[:, b]] - plane.xy[c[:, a]])
        ends.append((cut, p))
    segs = np.zeros((c.shape[0], 2, 2))
    count = np.zeros(c.shape[0], dtype=int)
    for cut, p in ends:
        first, second = cut & (count == 0), cut & (count == 1)
        segs[first, 0], segs[second, 1] = p[first], p[second]
        count += cut
    segs = segs[count == 2]
    return np.concatenate(plane.comm.allgather(segs)) if plane.comm.size > 1 else segs


def distance_to_segments(segs: np.ndarray, xy: np.ndarray, k: int = 16) -> np.ndarray:
    """Exact distance from each point to the nearest of the segments (among the ``k`` whose
    midpoints are nearest: segments are about one cell long)."""
    if segs.shape[0] == 0:
        return np.full(xy.shape[0], np.inf)
    k = min(k, segs.shape[0])
    _, idx = cKDTree(segs.mean(axis=1)).query(xy, k=k)
    idx = idx.reshape(xy.shape[0], k)
    a, b = segs[idx, 0], segs[idx, 1]  # (n, k, 2)
    ab = b - a
    t = np.clip(((xy[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-300),
                0.0, 1.0)
    near = a + t[..., None] * ab
    return np.sqrt(((xy[:, None, :] - near) ** 2).sum(-1)).min(axis=1)


def follicle_centres(extent: tuple[float, float, float, float],
                     density: float) -> np.ndarray:
    """Hair follicles on a hexagonal lattice of ``density`` per m^2 over ``extent`` (one at
    the centre; a regular lattice is the mean spacing of the skin's follicles)."""
    if density <= 0.0:
        return np.zeros((0, 2))
    x0, x1, y0, y1 = extent
    a = math.sqrt(2.0 / (math.sqrt(3.0) * density))
    dy = 0.5 * math.sqrt(3.0) * a
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    pts = []
    j_max = int((y1 - y0) / dy) + 2
    i_max = int((x1 - x0) / a) + 2
    for j in range(-j_max, j_max + 1):
        for i in range(-i_max, i_max + 1):
            x = cx + (i + (0.5 if j % 2 else 0.0)) * a
            y = cy + j * dy
            if x0 - a <= x <= x1 + a and y0 - a <= y <= y1 + a:
                pts.append((x, y))
    return np.array(pts)


def front_closure(plane: BasalPlane, wound: EpidermalWound, lag: float,
                  speed: float) -> np.ndarray:
    """Closure time (s after the pulse) of every local dof for the active front; 0 outside
    the wound.

    ``t = t0 + d / v`` with ``d`` the distance to the viable margin (to a follicle rim, with
    the climb ``follicle_delay`` added; to the field edge), and at least the crater fill time.
    """
    defect = wound.defect
    margin = margin_segments(plane, wound.level)
    t = lag + distance_to_segments(margin, plane.xy) / speed
    if plane.comm.allreduce(bool(wound.follicle.any()), op=MPI.LOR):  # follicle rims, once
        # their epithelium has climbed to the plane
        rims = margin_segments(plane, np.where(wound.follicle, -1.0, 1.0))
        t = np.minimum(t, lag + wound.follicle_delay
                       + distance_to_segments(rims, plane.xy) / speed)
    if wound.edge_distance is not None:
        t = np.minimum(t, lag + wound.edge_distance / speed)
    t = np.maximum(t, wound.fill_time)
    return np.where(defect, t, 0.0)


class FisherKPP:
    """Keratinocyte density on the basal plane, ``u_t = D lap u + r u (1 - u)``.

    Life cycle: the constructor runs the set-up steps (the lumped mass and the stiffness,
    assembled once; the initial density); :meth:`advance` to a time with steps of at most
    ``max_step``; the matrix ``M_L + dt D K`` and its LU factorisation (MUMPS: the plane is
    small, and an exact solve keeps the noise ahead of the front below :data:`CUTOFF`) are
    built once per step size and kept. Open craters hold ``u = 0`` until filled; follicle
    islands are reservoirs (``u = 1``) after their climb. The closure time of each dof is
    recorded when ``u`` first reaches :data:`CLOSED`. Works on any P1 space (a 1D interval in
    the tests).
    """

    def __init__(self, V: dfem.FunctionSpace, wound: EpidermalWound, D: float, r: float,
                 rtol: float = 1e-10, max_it: int = 500):
        self.V, self.wound, self.D, self.r = V, wound, D, r
        self.comm = V.mesh.comm
        self.rtol, self.max_it = rtol, max_it
        self.n_owned = V.dofmap.index_map.size_local
        self.define_operators()
        self.define_initial_state()

    def define_operators(self) -> None:
        """Lumped mass (diagonal, as a vector) and the stiffness matrix, assembled once."""
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self.K = dolfinx.fem.petsc.assemble_matrix(dfem.form(ufl.inner(ufl.grad(u),
                                                                       ufl.grad(v)) * ufl.dx))
        self.K.assemble()
        self.ML = dolfinx.fem.petsc.assemble_vector(dfem.form(v * ufl.dx))
        self.ML.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self.b = self.ML.duplicate()
        self._solvers: dict[float, tuple[PETSc.Mat, PETSc.KSP]] = {}

    def define_initial_state(self) -> None:
        """``u = 0`` in the wound, 1 elsewhere; no dof closed yet."""
        self.u = dfem.Function(self.V, name="keratinocytes")
        self.u.x.array[:] = np.where(self.wound.defect, 0.0, 1.0)
        self.t = 0.0
        n_local = self.u.x.array.size
        self.closure = np.where(self.wound.defect, np.inf, 0.0)[:n_local].copy()

    def _solver(self, dt: float) -> PETSc.KSP:
        key = round(dt, 9)
        if key not in self._solvers:
            A = self.K.copy()
            A.scale(dt * self.D)
            A.setDiagonal(self.ML, addv=PETSc.InsertMode.ADD_VALUES)
            A.assemble()
            ksp = PETSc.KSP().create(self.comm)
            ksp.setOperators(A)
            ksp.setType("preonly")
            ksp.getPC().setType("lu")
            ksp.getPC().setFactorSolverType("mumps")
            self._solvers[key] = (A, ksp)
        return self._solvers[key][1]

    def _constrain(self, t: float) -> None:
        w, a = self.wound, self.u.x.array
        a[w.open_barrier & (w.fill_time > t)] = 0.0
        if t >= w.follicle_delay:
            a[w.follicle] = 1.0

    def step(self, dt: float) -> None:
        """One step of ``dt`` (s)."""
        a = self.u.x.array
        before = a.copy()
        ml = self.ML.array  # owned entries
        n = self.n_owned
        with self.b.localForm() as bl:
            bl.array[:n] = ml[:n] * (a[:n] + dt * self.r * a[:n] * (1.0 - a[:n]))
        ksp = self._solver(dt)
        ksp.solve(self.b, self.u.x.petsc_vec)
        check_converged(ksp, "fisher-kpp", time=self.t + dt)
        self.u.x.scatter_forward()
        np.clip(a, 0.0, 1.0, out=a)
        a[a < CUTOFF] = 0.0
        t1 = self.t + dt
        self._constrain(t1)
        crossed = np.isinf(self.closure) & (a >= CLOSED)
        if crossed.any():
            s = (CLOSED - before[crossed]) / np.maximum(a[crossed] - before[crossed], 1e-300)
            self.closure[crossed] = self.t + np.clip(s, 0.0, 1.0) * dt
        self.t = t1

    def advance(self, t_end: float, max_step: float) -> None:
        """Steps of equal size, at most ``max_step``, from the current time to ``t_end``."""
        span = t_end - self.t
        if span <= 0.0:
            return
        n = max(1, math.ceil(span / max_step - 1e-9))
        for _ in range(n):
            self.step(span / n)

    def open_share(self, plane: BasalPlane) -> float:
        """Share of the plane not yet covered (``u < 1/2``)."""
        return plane.share(self.u.x.array < CLOSED)

    @property
    def is_open(self) -> bool:
        """Whether some dof of the wound is still uncovered (on any rank)."""
        return bool(self.comm.allreduce(bool(np.isinf(self.closure[:self.n_owned]).any()),
                                        op=MPI.LOR))

    def state(self) -> State:
        """The density, the closure times so far and the time."""
        closure = dfem.Function(self.V)
        closure.x.array[:] = np.where(np.isinf(self.closure), -1.0, self.closure)
        return State(fields={"u": self.u, "closure": closure}, values={"t": self.t})

    def restore(self, state: State) -> None:
        set_owned(self.u, state.fields["u"])
        closure = dfem.Function(self.V)
        set_owned(closure, state.fields["closure"])
        self.closure = np.where(closure.x.array < 0.0, np.inf, closure.x.array)
        self.t = float(state.values["t"])


def mend_shed_times(closure: np.ndarray, wound: EpidermalWound, rise: float) -> np.ndarray:
    """When the MEND over each dof reaches the surface (s; 0 where there is none)."""
    has = wound.mend_depth > 0.0
    return np.where(has, closure + wound.mend_depth / rise, 0.0)


def mend_depth_at(t: float, closure: np.ndarray, wound: EpidermalWound,
                  rise: float) -> np.ndarray:
    """Depth of the bottom of the MEND over each dof at time ``t`` (m; 0 once shed): it stays
    where it formed until the dof has closed beneath it, then rises."""
    moved = np.maximum(0.0, t - closure) * rise
    return np.where(wound.mend_depth > 0.0, np.maximum(0.0, wound.mend_depth - moved), 0.0)


def pigment_cleared(alive_melanin: float, intact_melanin: float) -> float:
    """Share of the epidermal melanin a session removes (0-1): what is not in surviving tissue
    (necrotic epidermis lifted out by the MENDs, or ablated)."""
    return 0.0 if intact_melanin <= 0.0 else max(0.0, 1.0 - alive_melanin / intact_melanin)
