"""The healing stage after the pulse: its clock in hours and days, the epidermis, the dermis.

:class:`HealingStage` starts from the thermal result of the case (cell death, denatured
collagen, the heat-shock integral) and follows the skin to ``healing.end_days``:

1. the epidermal wound is sampled once on the basal plane (:func:`sample_wound`) and closed
   by the chosen model (``front`` or ``fisher_kpp``, :mod:`fem.physics.healing_epidermis`);
2. the dermal stimulus comes from the heat shock and the wound signal of the coagulated column
   (one screened-Poisson solve), and the remodelling kinetics are solved exactly at every time
   of the clock (:mod:`fem.physics.healing_dermis`);
3. the remodelling eigenstrain is solved with the case's elasticity problem (its matrix and
   solver reused) at the output days, which gives the late tightening.

The clock (:func:`healing_times`) runs from ``healing.first_step_min`` after the pulse, the step
doubling every :data:`STEPS_PER_RUNG` steps up to ``healing.max_step_h``, and passes through
every output day. Fisher-KPP takes sub-steps of at most ``healing.open_step_h`` while its wound
is open. The stage checkpoints after its steps like the heat loop (``checkpoint/healing.npz``)
and resumes from there.

**A treatment course** (``[course] sessions, interval_days``): session ``k`` fires at
``k * interval``; the clock restarts its small steps at each session. Each session fires a new
pattern of the case's layout at new positions; on a periodic layout that pattern is a
translate of the first, whose cell means (every metric) are the first's; on a random layout it
is another draw of the same density and passes, taken to respond as the first draw (their
means differ by the sampling noise of the pattern, which the model leaves out). So each session's
wound is the first's (the rows' epidermis is the latest session's), the dermal kinetics,
being linear, add up (``x(t) = sum_k expm(M (t - t_k)) x0``, :meth:`HealingStage.dermal_state`)
and the late tightening at the output days is solved for that sum. Pigment: a session clears
the share ``p`` of the melanin where it lands, so a course of ``n`` sessions at independent
positions clears ``1 - (1 - p)^n`` in expectation. Downtime adds up, the parts that overlap
counted once. A session that fires before the MENDs of the one before are shed is counted in
``course_early_sessions`` and warned about.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np

from fem.config import Case
from fem.config.sections import DAY, HOUR
from fem.output.files import csv_text
from fem.physics import healing_dermis as dermis
from fem.physics import healing_epidermis as epi
from fem.physics.layers import cellwise
from fem.physics.state import State, set_owned
from fem.post.probes import PointEvaluator

log = logging.getLogger(__name__)

STEPS_PER_RUNG = 3  # steps of one size before the step doubles
HEALING_COLUMNS = ("time_h", "time_days", "session", "open_defect_percent", "mend_depth_um",
                   "debris_percent", "activated_fibroblasts_percent", "collagen_III_percent",
                   "collagen_I_percent", "denatured_collagen_percent",
                   "late_tightening_area_percent", "late_linear_contraction_percent")


def healing_times(end: float, first: float, max_step: float, output: tuple[float, ...]
                  ) -> list[float]:
    """The times of the healing clock (s after the pulse): ``first``, steps doubling every
    :data:`STEPS_PER_RUNG` up to ``max_step``, through every output time, ending at ``end``."""
    times, t, k = [], 0.0, 0
    marks = sorted(set(output) | {end})
    while t < end * (1 - 1e-12):
        dt = min(max_step, first * 2.0 ** (k // STEPS_PER_RUNG))
        nxt = min(t + dt, end)
        mark = next((m for m in marks if t * (1 + 1e-12) < m < nxt * (1 - 1e-12)), None)
        t = mark if mark is not None else nxt
        times.append(t)
        k += 1
    return times


def course_times(starts: tuple[float, ...], end: float, first: float, max_step: float,
                 output: tuple[float, ...]) -> list[float]:
    """The clock of a treatment course (s after the first session): the healing clock of each
    session (:func:`healing_times`) from its start to the next session (the last to ``end``),
    through every output time."""
    times: list[float] = []
    bounds = [*starts, end]
    for s0, s1 in zip(bounds[:-1], bounds[1:]):
        marks = tuple(t - s0 for t in output if s0 < t < s1 * (1 - 1e-12))
        times.extend(s0 + t for t in healing_times(s1 - s0, first, max_step, marks))
    return times


def healing_csv(rows: list[dict]) -> str:
    """``healing.csv``: one row per time of the clock; the late tightening at output days."""
    return csv_text(HEALING_COLUMNS, rows)


def _epidermis_depths(case: Case) -> tuple[float, float, float]:
    """Top of the viable epidermis, the dermal-epidermal junction (top of the first collagen
    layer) and the depth of the basal sample just above it, m."""
    z = case.skin.interfaces()
    layers = case.skin.layers
    first_collagen = next((i for i, la in enumerate(layers) if la.collagen), len(layers) - 1)
    dej = z[first_collagen]
    top = z[1] if first_collagen >= 2 else 0.0  # below the stratum corneum when there is one
    basal = dej - 0.1 * (dej - top) if dej > top else dej
    return top, dej, basal


def _evaluate_at(domain, functions: list[dfem.Function], xy: np.ndarray, depths: list[float]
                 ) -> list[np.ndarray]:
    """Values of each function at ``(x, y, -depth)`` for the local plane points ``xy`` of
    every rank (collective): ``out[i][j, k]`` function i, point j, depth k (NaN outside)."""
    comm = domain.comm
    counts = comm.allgather(xy.shape[0])
    allxy = np.concatenate(comm.allgather(xy)) if sum(counts) else np.zeros((0, 2))
    start = sum(counts[:comm.rank])
    pts = np.concatenate([np.column_stack([allxy, np.full(allxy.shape[0], -d)])
                          for d in depths])
    ev = PointEvaluator(domain, pts)
    n = allxy.shape[0]
    out = []
    for f in functions:
        v = ev(f).reshape(len(depths), n).T
        out.append(v[start:start + xy.shape[0]])
    return out


def sample_wound(case: Case, domain, omega_cell: dfem.Function, plane: epi.BasalPlane | None
                 = None) -> tuple[epi.BasalPlane, epi.EpidermalWound]:
    """The basal plane of the case and the wound on it (collective).

    Fractional layouts: the plane is the patch; the basal keratinocytes died where
    ``Omega_cell >= 1`` just above the dermal-epidermal junction; points in a crater (outside
    the tissue) have an open barrier, filled from the crater floor. Full field: the plane is
    the periodic cell of the follicle lattice, the (laterally uniform) thermal result is
    sampled on the axis, and the follicles survive below the necrosis and climb from there.
    """
    h, lay = case.healing, case.pattern.layout
    top, dej, basal = _epidermis_depths(case)
    depths = [basal] + list(np.linspace(top, basal, 5)[:-1])
    full = lay.full_field
    if full:
        a = math.sqrt(2.0 / (math.sqrt(3.0) * h.follicles)) if h.follicles > 0 else 1e-3
        dy = 0.5 * math.sqrt(3.0) * a
        extent = (-0.5 * a, 0.5 * a, -dy, dy)
    else:
        extent = lay.extent
    plane = plane or epi.BasalPlane(domain.comm, extent, h.plane_size)
    xy = plane.xy
    if full:  # sample the axis once, the same for every point
        axis_depths = list(np.linspace(0.0, case.skin.depth * 0.999, 400))
        probe = np.zeros((1, 2)) if domain.comm.rank == 0 else np.zeros((0, 2))
        cx, cy = lay.centres[0]
        vals = _evaluate_at(domain, [omega_cell], probe + [cx, cy], depths + axis_depths)[0]
        vals = domain.comm.bcast(vals if domain.comm.rank == 0 else None, root=0)[0]
        omega = np.tile(vals[:len(depths)], (xy.shape[0], 1))
        dead = np.asarray(axis_depths)[vals[len(depths):] >= 1.0]
        necrosis_depth = float(dead.max()) if dead.size else 0.0
    else:
        omega = _evaluate_at(domain, [omega_cell], xy, depths)[0]
    in_crater = np.isnan(omega[:, 0])
    with np.errstate(divide="ignore"):
        level = np.where(in_crater, np.inf, np.log(np.maximum(omega[:, 0], 1e-300)))
    necrotic = np.nan_to_num(omega, nan=np.inf) >= 1.0
    depth_of = np.asarray(depths)
    mend = np.where(necrotic[:, 0], dej, np.where(necrotic.any(axis=1),
                                                  (necrotic * depth_of).max(axis=1), 0.0))
    fill = np.zeros(xy.shape[0])
    if in_crater.any() and case.crater.profile:
        centres = np.asarray(lay.centres)
        r = np.sqrt(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(-1)).min(axis=1)
        prof = np.asarray(case.crater.profile)
        crater_depth = np.interp(r, prof[:, 0], prof[:, 1], right=0.0)
        fill = np.where(in_crater, np.maximum(crater_depth - dej, 0.0) / h.crater_fill, 0.0)
        mend = np.where(in_crater, 0.0, mend)  # ablated: nothing left to shed
    follicle = np.zeros(xy.shape[0], dtype=bool)
    delay, edge = 0.0, None
    if full:
        centres = epi.follicle_centres(extent, h.follicles)
        if centres.size:
            d = np.sqrt(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(-1)).min(axis=1)
            follicle = d <= h.follicle_radius
        delay = max(0.0, necrosis_depth - dej) / h.migration_speed
        edge = np.full(xy.shape[0], 0.5 * h.field_size) - np.abs(xy).max(axis=1)
    wound = epi.EpidermalWound(level, in_crater, fill, mend, follicle, delay, edge)
    return plane, wound


@dataclass
class HealingResult:
    """What the healing stage hands the driver: rows, metrics and the fields to write."""

    rows: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    plane: epi.BasalPlane | None = None
    plane_fields: dict = field(default_factory=dict)  # name -> plane P1 function
    day_fields: dict = field(default_factory=dict)  # day -> {name: P1 function, 3D}
    stimulus: dfem.Function | None = None
    info: dict = field(default_factory=dict)  # for snapshot.json
    seconds: float = 0.0


class HealingStage:
    """The healing of one case on its mesh (every rank).

    Args:
        case: the case (its ``[healing]``).
        data: the mesh (``mesh``, ``cell_tags``).
        V: the temperature space (the damage integrals live on it).
        damage: the damage integrals by purpose (``cell``, ``collagen``, ``heat_shock``).
        elasticity: the case's elasticity problem (None: no late tightening).
        T_initial: the stress-free temperature of the elasticity problem.
    """

    def __init__(self, case: Case, data, V: dfem.FunctionSpace, damage: dict, elasticity=None,
                 T_initial: dfem.Function | None = None):
        self.case, self.data, self.V, self.damage = case, data, V, damage
        self.elasticity, self.T_initial = elasticity, T_initial
        # The first guess of every late-tightening solve: the end state of the pulse (the
        # same on a resumed stage, so its answers do not depend on where it was stopped).
        self.first_guess = ([f.x.array.copy() for f in (elasticity.u, elasticity.p)
                             if f is not None] if elasticity is not None else [])
        self.comm = V.mesh.comm
        h = case.healing
        self.starts = case.course.starts
        self.times = course_times(self.starts, h.end_days, h.first_step, h.max_step,
                                  h.output_days)
        self.rows: list[dict] = []
        self.done = 0

    # -- set-up ---------------------------------------------------------------------------

    def initialise(self) -> None:
        """The wound on the basal plane, its model, the dermal stimulus and kinetics."""
        for setup in (self.define_epidermis, self.define_dermis):
            setup()

    def define_epidermis(self) -> None:
        h = self.case.healing
        self.plane, self.wound = sample_wound(self.case, self.data.mesh,
                                              self.damage["cell"].omega)
        self.closure = self.plane.function(np.zeros(self.plane.xy.shape[0]), "closure_time")
        self.fisher = None
        if h.epidermis_model == "fisher_kpp":
            self.fisher = epi.FisherKPP(self.plane.V, self.wound, h.diffusivity,
                                        h.proliferation, self.case.solver.rtol,
                                        self.case.solver.max_it)
        else:
            self.closure.x.array[:] = epi.front_closure(self.plane, self.wound,
                                                        h.migration_lag, h.migration_speed)

    def define_dermis(self) -> None:
        case, V = self.case, self.V
        h = case.healing
        om = {p: self.damage[p].omega.x.array for p in ("cell", "collagen", "heat_shock")}
        coag = dfem.Function(V, name="coagulated")
        coag.x.array[:] = -np.expm1(-np.maximum(om["collagen"], 0.0))
        signal = dermis.wound_signal(V, coag, h.wound_signal, case.solver.rtol,
                                     case.solver.max_it)
        S = dermis.stimulus(om["cell"], om["heat_shock"], signal.x.array)
        depth = -V.tabulate_dof_coordinates()[:, 2]
        z = case.skin.interfaces()
        in_collagen = np.zeros(depth.size, dtype=bool)
        for i, la in enumerate(case.skin.layers):
            if la.collagen:
                in_collagen |= (depth >= z[i] - 1e-10) & (depth <= z[i + 1] + 1e-10)
        D0 = np.where(in_collagen, coag.x.array, 0.0)
        S = np.where(in_collagen, S, 0.0)
        self.kinetics = dermis.DermalKinetics(dermis.DermalRates.from_healing(h))
        self.x0 = self.kinetics.initial(S, D0)
        self.stimulus = dfem.Function(V, name="heat_shock_stimulus")
        self.stimulus.x.array[:] = S
        V0 = dfem.functionspace(V.mesh, ("DG", 0))
        tags = self.data.cell_tags
        layers = case.skin.layers
        self.dermis = dermis.VolumeMeans(V, cellwise(V0, tags, [float(la.collagen)
                                                                for la in layers], "collagen"))
        self.melanin = dermis.VolumeMeans(V, cellwise(V0, tags, [la.melanin_fraction
                                                                 for la in layers], "melanin"))
        thick = np.diff(z)
        self.intact_melanin = sum(la.melanin_fraction * t for la, t in zip(layers, thick))

    # -- the clock --------------------------------------------------------------------------

    def run(self, checkpoint=None, progress: bool = True) -> HealingResult:
        """Step the clock to the end (resuming from ``checkpoint`` if it holds a state)."""
        tic = time.perf_counter()
        self.initialise()
        h = self.case.healing
        problems = {"healing": self}
        self.done = checkpoint.restore(problems, len(self.times)) if checkpoint else 0
        out_days = {round(d, 3) for d in h.output_days}
        result = HealingResult(plane=self.plane, stimulus=self.stimulus)
        every = max(1, len(self.times) // 8)
        for n, t in enumerate(self.times, start=1):
            if n <= self.done:
                continue
            if self.fisher is not None and self.fisher.is_open and self.since(t)[0] == 0:
                self.fisher.advance(t, h.open_step)  # later sessions reuse its closure times
            x = self.dermal_state(t)
            row = self.row(t, x)
            if round(t, 3) in out_days and self.elasticity is not None:
                row.update(self.late_tightening(t, x))
            self.rows.append(row)
            if checkpoint is not None:
                checkpoint.after_step(n, len(self.times), problems)
            if progress and (n % every == 0 or n == len(self.times)):
                log.info("  healing day %.3g: open %.2f %%, fibroblasts %.2f %%, new collagen "
                         "III %.3f %% I %.3f %%", t / DAY, row["open_defect_percent"],
                         row["activated_fibroblasts_percent"], row["collagen_III_percent"],
                         row["collagen_I_percent"])
        result.rows = self.rows
        result.metrics = self.metrics()
        result.plane_fields = self.plane_fields()
        result.day_fields = {d: self.fields_at(d * DAY) for d in
                             sorted({int(round(dd / DAY)) for dd in h.output_days})}
        result.info = {"model": h.epidermis_model,
                       "output_days": sorted(result.day_fields),
                       "end_days": h.end_days / DAY,
                       **{k: result.metrics[k] for k in (
                           "reepithelialization_h", "mend_shed_days", "downtime_days",
                           "remodelling_complete_days")},
                       "wound_times_h": self.wound_times(result.metrics["reepithelialization_h"])}
        result.seconds = time.perf_counter() - tic
        return result

    def since(self, t: float) -> tuple[int, float]:
        """The session whose wound is the latest at ``t`` and the time since it fired (s); the
        instant a session fires belongs to the one before it."""
        k = max(i for i, s in enumerate(self.starts) if i == 0 or s < t * (1 - 1e-12))
        return k, t - self.starts[k]

    def dermal_state(self, t: float) -> np.ndarray:
        """The dermal species at ``t``: the sessions fired so far add up (linear kinetics,
        :mod:`fem.physics.healing_dermis`), each from its own start."""
        k, _ = self.since(t)
        return sum(self.kinetics.at(self.x0, t - s) for s in self.starts[:k + 1])

    def closure_times(self) -> np.ndarray:
        """Closure time of every local plane dof (s; inf where still open)."""
        if self.fisher is not None:
            return self.fisher.closure
        return self.closure.x.array

    def row(self, t: float, x: np.ndarray) -> dict:
        """A row of ``healing.csv`` at ``t`` (s), the dermal species ``x`` at ``t``; the
        epidermis is that of the latest session (each session's wound is the first's)."""
        h, wound = self.case.healing, self.wound
        closure = self.closure_times()
        k, tau = self.since(t)
        mend = epi.mend_depth_at(tau, closure, wound, h.mend_rise)
        shed = epi.mend_shed_times(closure, wound, h.mend_rise)
        open_ = wound.defect & (closure > tau)
        means = self.dermis.mean(x)
        return {
            "time_h": t / HOUR, "time_days": t / DAY, "session": k + 1,
            "open_defect_percent": 100.0 * self.plane.share(open_),
            "mend_depth_um": 1e6 * self.plane.max(mend),
            "debris_percent": 100.0 * self.plane.share((wound.mend_depth > 0) & (shed > tau)),
            "activated_fibroblasts_percent": 100.0 * means[dermis.A],
            "collagen_III_percent": 100.0 * means[dermis.C3],
            "collagen_I_percent": 100.0 * means[dermis.C1],
            "denatured_collagen_percent": 100.0 * means[dermis.D],
            "late_tightening_area_percent": None, "late_linear_contraction_percent": None,
        }

    def _strains(self, x: np.ndarray) -> tuple[dfem.Function, dfem.Function]:
        """The collagen damage whose ``F(Omega)`` is the denatured collagen still there, and
        the contraction strain, of the dermal species ``x``."""
        omega = dfem.Function(self.V)
        omega.x.array[:] = -np.log1p(-np.minimum(x[:, dermis.D], 1.0 - 1e-15))
        strain = dfem.Function(self.V)
        strain.x.array[:] = x[:, dermis.E]
        return omega, strain

    def late_tightening(self, t: float, x: np.ndarray) -> dict:
        """The tightening of the remodelled patch at ``t`` (species ``x``), at body
        temperature."""
        omega, strain = self._strains(x)
        mech = self.elasticity
        for f, guess in zip((mech.u, mech.p), self.first_guess):
            f.x.array[:] = guess
        mech.solve(self.T_initial, omega, strain, stresses=False)
        m = mech.tightening()
        log.info("  healing day %.3g: late tightening %.3f %% (linear %.3f %%)", t / DAY,
                 m["tightening_area_percent"], m["linear_contraction_percent"])
        return {"late_tightening_area_percent": m["tightening_area_percent"],
                "late_linear_contraction_percent": m["linear_contraction_percent"]}

    def fields_at(self, t: float) -> dict[str, dfem.Function]:
        """The dermal fields at ``t`` (P1 on the temperature space)."""
        x = self.dermal_state(t)
        d = int(round(t / DAY))
        out = {}
        for name, col in (("fibroblasts", dermis.A), ("denatured_collagen", dermis.D),
                          ("collagen_III", dermis.C3), ("collagen_I", dermis.C1)):
            f = dfem.Function(self.V, name=f"{name}_d{d}")
            f.x.array[:] = x[:, col]
            out[f.name] = f
        f = dfem.Function(self.V, name=f"new_collagen_d{d}")
        f.x.array[:] = x[:, dermis.C3] + x[:, dermis.C1]
        out[f.name] = f
        return out

    def plane_fields(self) -> dict[str, dfem.Function]:
        """The basal plane's fields for ``epidermis.vtu``."""
        w, p = self.wound, self.plane
        closure = self.closure_times()
        end = self.times[-1]
        shed = epi.mend_shed_times(closure, w, self.case.healing.mend_rise)
        return {
            "closure_time_h": p.function(np.where(np.isinf(closure), end, closure) / HOUR,
                                         "closure_time_h"),
            "defect": p.function(w.defect.astype(float), "defect"),
            "open_barrier": p.function(w.open_barrier.astype(float), "open_barrier"),
            "follicle": p.function(w.follicle.astype(float), "follicle"),
            "mend_shed_days": p.function(np.where(np.isinf(shed), end, shed) / DAY,
                                         "mend_shed_days"),
        }

    @staticmethod
    def wound_times(reepi_h: float) -> list[float]:
        """When to draw the closing wound: from the pulse to its closure, five pictures."""
        if reepi_h <= 0:
            return [0.0]
        return [round(reepi_h * f, 2) for f in (0.0, 0.25, 0.5, 0.75, 0.95)]

    # -- results ----------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """The healing metrics of ``metrics.json`` (README, Healing)."""
        h, w, p = self.case.healing, self.wound, self.plane
        closure = self.closure_times()
        end = self.times[-1]
        starts, interval = self.starts, self.case.course.interval
        horizon = starts[1] if len(starts) > 1 else end  # the first session's clock
        still_open = p.comm.allreduce(bool(np.isinf(closure[:p.n_owned]).any()), op=MPI.LOR)
        if still_open:
            log.warning("healing: the epidermal wound is still open at day %.3g", horizon / DAY)
        closure_f = np.where(np.isinf(closure), horizon, closure)
        reepi = p.max(np.where(w.defect, closure_f, 0.0))
        shed = epi.mend_shed_times(closure_f, w, h.mend_rise)
        mend_shed = p.max(shed)
        debris_clear = self._debris_clear_time(shed)
        x_end = self.dermal_state(end)
        means0 = self.dermis.mean(self.x0)
        means = self.dermis.mean(x_end)
        alive = self.damage["cell"].omega.x.array < 1.0
        alive_melanin = self.melanin.mean(alive.astype(float))[0] * self.melanin.volume
        intact = self.intact_melanin * self.case.pattern.layout.area
        S = self.x0[:, dermis.H]
        last = next((r for r in reversed(self.rows)
                     if r["late_tightening_area_percent"] is not None), None)
        k_c = self.kinetics.rates.k_c
        pigment = epi.pigment_cleared(alive_melanin, intact)
        downtime = max(reepi, debris_clear)
        n = len(starts)
        early = n > 1 and interval < max(mend_shed, reepi)
        if early:
            log.warning("course: the sessions are %.3g days apart, before the MENDs of the one "
                        "before are shed (day %.3g): %d session(s) fire into unshed debris",
                        interval / DAY, mend_shed / DAY, n - 1)
        return {
            "reepithelialization_h": reepi / HOUR,
            "epidermal_defect_percent": 100.0 * p.share(w.defect),
            "open_defect_end_percent": 100.0 * p.share(w.defect & np.isinf(closure)),
            "mend_shed_days": mend_shed / DAY,
            "pigment_cleared_percent": 100.0 * pigment,
            "stimulated_volume_percent": 100.0 * self.dermis.share(S >= 0.5),
            "new_collagen_percent": 100.0 * (means[dermis.C3] + means[dermis.C1]),
            "initial_denatured_collagen_percent": 100.0 * means0[dermis.D],
            "remodelling_complete_days": (math.log(20.0) / k_c / DAY
                                          if means0[dermis.D] > 0 else 0.0),
            "late_tightening_area_percent": last["late_tightening_area_percent"] if last else 0.0,
            "late_linear_contraction_percent": (last["late_linear_contraction_percent"]
                                                if last else 0.0),
            "downtime_days": downtime / DAY,
            # the course (fem.config.sections.Course): new_collagen_percent and the late
            # tightening above are already its sum at healing.end_days
            "sessions": n,
            "course_pigment_cleared_percent": 100.0 * (1.0 - (1.0 - pigment) ** n),
            "course_downtime_days": (downtime + (n - 1) * min(downtime, interval)) / DAY,
            "course_early_sessions": n - 1 if early else 0,
        }

    def _debris_clear_time(self, shed: np.ndarray) -> float:
        """The time after which the MENDs not yet shed cover less than the visible share."""
        p = self.plane
        has = self.wound.mend_depth[:p.n_owned] > 0
        t = np.concatenate(p.comm.allgather(shed[:p.n_owned][has]))
        m = np.concatenate(p.comm.allgather(p.area_weights[has]))
        if t.size == 0:
            return 0.0
        order = np.argsort(t)[::-1]  # latest first: the share still there just before t
        still = np.cumsum(m[order]) / p.area
        over = np.flatnonzero(still >= self.case.healing.visible_debris)
        return float(t[order][over[0]]) if over.size else 0.0

    # -- checkpoint -------------------------------------------------------------------------

    def state(self) -> State:
        """The closure times (and the Fisher-KPP density), the rows so far."""
        fields = {"closure": self.closure}
        values: dict = {"rows": list(self.rows)}
        if self.fisher is not None:
            fs = self.fisher.state()
            fields.update({f"fisher_{k}": f for k, f in fs.fields.items()})
            values["fisher_t"] = fs.values["t"]
        return State(fields=fields, values=values)

    def restore(self, state: State) -> None:
        set_owned(self.closure, state.fields["closure"])
        self.rows = list(state.values["rows"])
        if self.fisher is not None:
            self.fisher.restore(State({k[len("fisher_"):]: v for k, v in state.fields.items()
                                       if k.startswith("fisher_")},
                                      {"t": state.values["fisher_t"]}))
