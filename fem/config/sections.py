"""The typed case: one frozen dataclass per section of a case file, in SI.

Each field made with :func:`~fem.config.schema.key` is a key of the case file (its name with
the unit, its range, its default, its conversion to SI); the other fields are derived once
when the case is read (:mod:`fem.config.case`): the layout of the columns, when each fires,
the crater and its profile, the kinetics per purpose. ``case.laser.energy`` is in joules,
``case.pattern.layout`` is a :class:`meshes.patterns.Layout`, ``case.boundary.core_T`` in
kelvin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fem.config import presets
from fem.config.crater import profile_volume, radius_at_depth
from fem.config.schema import MS, UM, celsius, key
from meshes import patterns

GAUSSIAN_WINDOW = 3.0  # a Gaussian pulse of FWHM tau is delivered over [0, 3 tau]
DAMAGE_PURPOSES = ("cell", "collagen", "heat_shock")
HOUR = 3600.0  # s
DAY = 86400.0  # s
KINETICS = tuple(presets.KINETICS_PRESETS)
#: Layouts whose passes interleave into one lattice of ``density * passes`` columns per area.
PERIODIC_PASSES = ("single", "unit_cell", "quarter_cell", "grid", "hex")


def delivery_time(pulse: float, shape: str) -> float:
    """How long a pulse of length (FWHM) ``pulse`` delivers energy, in the unit of ``pulse``:
    the pulse itself if square, ``GAUSSIAN_WINDOW`` FWHM if Gaussian."""
    return pulse * (1.0 if shape == "square" else GAUSSIAN_WINDOW)


@dataclass(frozen=True)
class Layer:
    """One skin layer, ``[skin.layers.<name>]``."""

    name: str
    thickness: float = key("thickness_um", si=UM, lo=0.0, lo_open=True, hi=1e5)  # m
    rho: float = key("density_kg_per_m3", lo=1.0, hi=1e5)  # kg/m3
    c: float = key("specific_heat_J_per_kgK", lo=1.0, hi=1e5)  # J/(kg K)
    k: float = key("conductivity_W_per_mK", lo=0.0, lo_open=True, hi=100.0)  # W/(m K)
    perfusion: float = key("perfusion_per_s", lo=0.0, hi=1.0)  # 1/s, blood flow per volume
    metabolic: float = key("metabolic_W_per_kg", lo=0.0, hi=1e3)  # W/kg
    water_fraction: float = key("water_fraction", lo=0.0, hi=1.0)
    E: float = key("youngs_modulus_kPa", si=1e3, lo=0.0, lo_open=True, hi=1e7)  # Pa
    nu: float = key("poisson_ratio", lo=0.0, hi=0.499)
    alpha: float = key("expansion_per_K", lo=0.0, hi=1e-2)  # 1/K
    collagen: bool = key("collagen", "bool")  # collagen shrinks where it denatures
    # melanosome volume fraction (the pigment the MENDs carry out; presets: Jacques 2013)
    melanin_fraction: float = key("melanin_fraction", default=0.0, lo=0.0, hi=1.0)


@dataclass(frozen=True)
class Skin:
    """``[skin]``: the layer stack, top to bottom (a preset's, with overrides, or the user's)."""

    preset: str = key("preset", "str", default="face",
                      choices=tuple(presets.SKIN_PRESETS) + ("none",))
    layers: tuple[Layer, ...] = ()

    @property
    def depth(self) -> float:
        """Total thickness of the skin block, m."""
        return sum(layer.thickness for layer in self.layers)

    def interfaces(self) -> list[float]:
        """Depths (m, positive downward) of the top of each layer and of the bottom."""
        z = [0.0]
        for layer in self.layers:
            z.append(z[-1] + layer.thickness)
        return z


@dataclass(frozen=True)
class Laser:
    """``[laser]``: a Gaussian beam and its pulse."""

    preset: str = key("preset", "str", default="erglass_1550",
                      choices=tuple(presets.LASER_PRESETS))
    wavelength: float = key("wavelength_nm", si=1e-9, lo=100.0, hi=2e4)  # m
    water_absorption: float = key("water_absorption_per_cm", si=100.0, lo=0.0, lo_open=True,
                                  hi=1e5)  # 1/m
    reduced_scattering: float = key("reduced_scattering_per_cm", si=100.0, lo=0.0,
                                    hi=1e4)  # 1/m
    energy: float = key("energy_mJ", si=1e-3, lo=0.0, lo_open=True, hi=1000.0)  # J
    w0: float = key("spot_um", si=0.5 * UM, lo=5.0, hi=2000.0)  # 1/e^2 radius at the focus, m
    focal_depth: float = key("focal_depth_um", si=UM, lo=-1e4, hi=1e4)  # m below the surface
    divergence: float = key("divergence_deg", si=math.radians, lo=0.0,
                            hi=60.0)  # half-angle broadening of the 1/e^2 radius, rad
    pulse: float = key("pulse_ms", si=MS, lo=1e-3, hi=1e4)  # s (FWHM if Gaussian)
    pulse_shape: str = key("pulse_shape", "str", choices=("square", "gaussian"))
    # the ablation threshold fluence, J/m^2; derived from the surface layer when it absorbs
    ablation_threshold: float | None = key("ablation_threshold_J_per_cm2", si=1e4, lo=0.0,
                                           lo_open=True, hi=1e6)
    # how light moves in the tissue (fem.physics.source, fem.physics.photon)
    light: str = key("light", "str", choices=("beer_lambert", "monte_carlo"))
    anisotropy: float = key("anisotropy", lo=0.0, hi=0.99)  # Henyey-Greenstein g
    refractive_index: float = key("refractive_index", lo=1.0, hi=3.0)  # of the tissue
    # Monte Carlo: a photon count, or packets until the map's error is below the target
    photons: int | None = key("photons", "int", lo=1000, hi=100_000_000)
    light_error: float = key("light_error_percent", si=0.01, default=3.0, lo=0.05, hi=50.0)
    light_seed: int = key("light_seed", "int", default=1, lo=0, hi=2**31 - 1)
    # steady-state ablation (fem.config.crater): share of the fluence reaching the front that
    # vaporises tissue, the channel aspect at which the plume halves the drilling rate, and
    # the share the wall keeps as heat
    ablation_efficiency: float | None = key("ablation_efficiency", lo=0.0, lo_open=True,
                                            hi=1.0)
    shielding_aspect: float | None = key("shielding_aspect", lo=0.0, lo_open=True, hi=1e4)
    wall_heat_fraction: float | None = key("wall_heat_fraction", lo=0.0, hi=1.0)

    @property
    def specular(self) -> float:
        """Fresnel reflectance of the skin surface at normal incidence from air."""
        return ((self.refractive_index - 1.0) / (self.refractive_index + 1.0)) ** 2

    @property
    def duration(self) -> float:
        """How long a pulse delivers energy, s (a Gaussian pulse: GAUSSIAN_WINDOW FWHM)."""
        return delivery_time(self.pulse, self.pulse_shape)


@dataclass(frozen=True)
class Pattern:
    """``[pattern]``: where the columns land and when each fires."""

    kind: str = key("layout", "str", default="single", choices=patterns.LAYOUTS)
    density: float = key("density_per_cm2", si=1e4, default=1000.0, lo=1.0,
                         hi=10000.0)  # columns per m^2 (per pass)
    patch: float | None = key("patch_um", si=UM, lo=10.0,
                              hi=1e5)  # single, grid, hex, random, full_field
    seed: int = key("seed", "int", default=1, lo=0, hi=2**31 - 1)  # random
    # random: independent passes that overlap; a periodic layout (single, unit_cell,
    # quarter_cell, grid, hex): passes laid out evenly between each other, so the lattice has
    # density_per_cm2 * passes columns per cm2 (Pattern.lattice_density); full_field: ignored
    passes: int = key("passes", "int", default=1, lo=1, hi=50)
    # all at once, or one after another in the order placed (raster) or in a seeded random
    # order, pass after pass (fem.physics.source.firing_groups)
    firing_order: str = key("firing_order", "str", default="simultaneous",
                            choices=("simultaneous", "raster", "random"))
    column_interval: float | None = key("column_interval_ms", si=MS, lo=0.0,
                                        hi=1e6)  # s; default: the pulse, back to back
    pass_delay: float = key("pass_delay_ms", si=MS, default=0.0, lo=0.0, hi=1e7)  # s
    # derived
    layout: patterns.Layout | None = None  # the domain in the plane and the column axes (m)
    fire_times: tuple[float, ...] = ()  # when each column's pulse starts, s

    @property
    def lattice_density(self) -> float:
        """Columns per m^2 of the layout: every pass of a random layout is placed on its own,
        the passes of a periodic layout interleave into one lattice (``density * passes``)."""
        return self.density * (self.passes if self.kind in PERIODIC_PASSES else 1)


def central_column(layout: patterns.Layout) -> tuple[float, float]:
    """The column of a layout nearest the centre of its domain (the default probes go
    through it)."""
    x0, x1, y0, y1 = layout.extent
    c = layout.centres
    return min(c, key=lambda p: (p[0] - 0.5 * (x0 + x1)) ** 2 + (p[1] - 0.5 * (y0 + y1)) ** 2)


@dataclass(frozen=True)
class Crater:
    """``[crater]``: an ablation crater cut out of the tissue at each column."""

    shape: str = key("shape", "str", default="auto",
                     choices=("auto", "none", "blowoff", "steady_state", "cone", "paraboloid"))
    depth: float = key("depth_um", si=UM, lo=0.0, lo_open=True, hi=1e4)  # m, 0 without one
    radius: float = key("diameter_um", si=0.5 * UM, lo=0.0, lo_open=True,
                        hi=1e4)  # mouth radius at the surface, m
    # derived: (r, depth) from the axis to the mouth, m (fem.config.crater)
    profile: tuple[tuple[float, float], ...] = ()
    # derived, steady state: the heat the wall holds at each profile radius, J/m^2
    wall_fluence: tuple[float, ...] = ()

    @property
    def volume(self) -> float:
        """Volume of one whole crater as meshed (its profile revolved), m^3."""
        return profile_volume(self.profile) if self.profile else 0.0

    def radius_at_depth(self, d: np.ndarray) -> np.ndarray:
        """Crater radius (m) at depths ``d`` (0 below the crater), from the profile."""
        return radius_at_depth(self.profile, d)


@dataclass(frozen=True)
class Boundary:
    """``[boundary]``: the skin surface in air, the core and the blood."""

    ambient_T: float = key("ambient_temperature_C", si=celsius, default=25.0, lo=-200.0,
                           hi=100.0)  # K
    h_surface: float = key("surface_htc_W_per_m2K", default=10.0, lo=0.0, hi=1e6)
    core_T: float = key("core_temperature_C", si=celsius, default=37.0, lo=0.0, hi=50.0)  # K
    arterial_T: float = key("arterial_temperature_C", si=celsius, default=37.0, lo=0.0,
                            hi=50.0)  # K
    # evaporation from the skin surface to air (fem.physics.cooling; ASHRAE Fundamentals ch. 9)
    evaporation: bool = key("evaporation", "bool", default=True)
    relative_humidity: float = key("relative_humidity_percent", si=0.01, default=50.0, lo=0.0,
                                   hi=100.0)  # fraction
    skin_wettedness: float = key("skin_wettedness", default=0.06, lo=0.0, hi=1.0)


@dataclass(frozen=True)
class Cooling:
    """``[cooling]``: a surface cooling device (defaults in :mod:`fem.config.presets`)."""

    mode: str = key("mode", "str", default="none", choices=("none", "contact", "cryogen"))
    window_T: float | None = key("window_temperature_C", si=celsius, lo=-50.0,
                                 hi=60.0)  # contact, K
    contact_conductance: float | None = key("contact_conductance_W_per_m2K", lo=0.0,
                                            lo_open=True, hi=1e7)
    precool: float | None = key("precool_ms", si=MS, lo=0.0, hi=1e6)  # contact before, s
    spray_htc: float | None = key("spray_htc_W_per_m2K", lo=0.0, lo_open=True,
                                  hi=1e7)  # cryogen
    spray_T: float | None = key("spray_temperature_C", si=celsius, lo=-100.0, hi=60.0)  # K
    spray: float | None = key("spray_ms", si=MS, lo=0.0, lo_open=True, hi=1e6)  # s
    delay: float | None = key("delay_ms", si=MS, lo=0.0, hi=1e6)  # end of spurt -> pulse, s


@dataclass(frozen=True)
class Tissue:
    """``[tissue]``: how the tissue responds to heat (fem.physics.heat, fem.physics.boiling)."""

    # perfusion w_b (1 - F(Omega_cell)) stops as the tissue dies
    perfusion_shutdown: bool = key("perfusion_shutdown", "bool", default=True)
    # tissue water boils at 100 C: its latent heat caps the temperature
    vaporisation: bool = key("vaporisation", "bool", default=True)
    # k(T) = k (1 + slope (T - 37 C)); 0: constant (explicit correction)
    conductivity_slope: float = key("conductivity_slope_per_K", default=0.0, lo=-0.01,
                                    hi=0.05)  # 1/K


@dataclass(frozen=True)
class Time:
    """``[time]``: the end time and the steps (fem.run.schedule)."""

    end: float = key("end_ms", si=MS, default=50.0, lo=0.0, lo_open=True, hi=1e7)  # s
    steps_per_pulse: int = key("steps_per_pulse", "int", default=20, lo=20, hi=10000)
    growth: float = key("growth", default=2.0, lo=1.0, hi=10.0)
    steps_per_rung: int = key("steps_per_rung", "int", default=4, lo=1, hi=10000)
    max_step: float = key("max_step_ms", si=MS, default=10.0, lo=0.0, lo_open=True,
                          hi=1e7)  # s


@dataclass(frozen=True)
class Damage:
    """``[damage]``: the kinetics per purpose; ``[damage.layers.<layer>]`` overrides them."""

    cell: str = key("cell", "str", default="henriques_moritz", choices=KINETICS)
    collagen: str = key("collagen", "str", default="maitland_walsh", choices=KINETICS)
    # the sub-lethal heat-shock response that stimulates the dermal remodelling (healing)
    heat_shock: str = key("heat_shock", "str", default="ortner_heat_shock", choices=KINETICS)
    cem43: bool = key("cem43", "bool", default=False)  # also the CEM43 dose (Sapareto-Dewey)
    # derived: purpose -> preset values, with "by_depth" for the layers whose set differs
    kinetics: dict = field(default_factory=dict, compare=False)

    @property
    def names(self) -> dict[str, str]:
        """The kinetics set of each purpose."""
        return {p: getattr(self, p) for p in DAMAGE_PURPOSES}


@dataclass(frozen=True)
class Mechanics:
    """``[mechanics]``: eigenstrain elasticity and tightening (fem.physics.mechanics)."""

    enabled: bool = key("enabled", "bool", default=True)
    shrinkage_max: float = key("shrinkage_max", default=0.2, lo=0.0, hi=0.6)
    shrinkage_plane: str = key("shrinkage_plane", "str", default="in_plane",
                               choices=("in_plane", "isotropic"))
    # default: 2 if a layer has nu > 0.45, else 1
    degree: int = key("degree", "int", choices=(1, 2))
    # free: an isolated patch; periodic: one cell of a large treated area (sides stay plane,
    # zero net force); held: the patch held by the surrounding untreated skin
    sides: str = key("sides", "str", default="free", choices=("free", "periodic", "held"))
    # displacement (P1 or P2) | mixed (Taylor-Hood P2 displacement, P1 pressure)
    formulation: str = key("formulation", "str", default="displacement",
                           choices=("displacement", "mixed"))


@dataclass(frozen=True)
class Mesh:
    """``[mesh]``: element sizes and the refined column (defaults from the resolution)."""

    resolution: str = key("resolution", "str", default="medium",
                          choices=("coarse", "medium", "fine"))
    column_size: float = key("column_size_um", si=UM, lo=0.5, hi=1e4)  # m
    # element size at the bottom of the refined column, graded linearly in depth from
    # column_size_um at the surface (meshes.skin.SkinGeometry.column_slabs)
    column_bottom_size: float = key("column_bottom_size_um", si=UM, lo=0.5, hi=1e4)  # m
    surface_size: float = key("surface_size_um", si=UM, lo=0.5, hi=1e4)  # m
    # element size of the stratum corneum and epidermis away from the columns
    surface_far_size: float = key("surface_far_size_um", si=UM, lo=0.5, hi=1e4)  # m
    far_size: float = key("far_size_um", si=UM, lo=0.5, hi=1e5)  # m
    column_radius: float = key("column_radius_um", si=UM, lo=1.0, hi=1e5)  # m
    column_depth: float = key("column_depth_um", si=UM, lo=1.0, hi=1e5)  # m
    cache: bool = key("cache", "bool", default=True)  # reuse meshes of the same geometry


@dataclass(frozen=True)
class Solver:
    """``[solver]``: the heat solver's tolerance and iteration limit; what a failed energy
    check does."""

    rtol: float = key("rtol", default=1e-10, lo=1e-16, hi=1e-3)
    max_it: int = key("max_it", "int", default=500, lo=1, hi=100000)
    # "stop": a run whose energy checks fail (the source against the beam, the balance
    # against its bound; fem.post.sanity) ends with exit status 1; "warn": it is kept, the
    # failures among its warnings
    energy_checks: str = key("energy_checks", "str", default="stop", choices=("stop", "warn"))


@dataclass(frozen=True)
class Output:
    """``[output]``: probes, the mechanics times, which files and pictures."""

    probes: tuple[tuple[float, float, float], ...] = key("probes_um", "points", si=UM)  # m
    # when mechanics is solved before the end (default: the end of the last pulse), s
    times: tuple[float, ...] = key("times_ms", "floats", si=MS, lo=0.0, lo_open=True)
    fields: bool = key("fields", "bool", default=True)
    render: bool = key("render", "bool", default=True)


@dataclass(frozen=True)
class Healing:
    """``[healing]``: the days and months after the pulse (fem.physics.healing_epidermis,
    fem.physics.healing_dermis, fem.run.course). Sources and fits: README, Healing;
    ``shared/physics/healing.md``. "fitted" names the calibration row a value was fitted to;
    "prior" a value taken from the literature or chosen, not fitted."""

    enabled: bool = key("enabled", "bool", default=True)
    end_days: float = key("end_days", si=DAY, default=90.0, lo=0.0, lo_open=True,
                          hi=3650.0)  # s
    # mechanics of the remodelling at these days (default: 7, 28, 90 up to the end, and the end)
    output_days: tuple[float, ...] = key("output_days", "floats", si=DAY, lo=0.0, lo_open=True)
    # the epidermis: an active front (constant normal speed after a lag) or Fisher-KPP
    epidermis_model: str = key("epidermis_model", "str", default="front",
                               choices=("front", "fisher_kpp"))
    # front: lag and speed fitted to Stumpp et al. 2009 (ED50 10 h for a ~50 um defect radius
    # at 10 mJ, 22 h for ~200 um at 70 mJ): v = 150 um / 12 h, lag = 10 h - 50 um / v
    migration_lag: float = key("migration_lag_h", si=HOUR, default=6.0, lo=0.0, hi=1e3)  # s
    migration_speed: float = key("migration_speed_um_per_h", si=UM / HOUR, default=12.5,
                                 lo=0.0, lo_open=True, hi=1e3)  # m/s
    # Fisher-KPP u_t = D lap u + r u (1 - u): a published set for skin wounds (prior, low
    # authority, healing.md): D = 2e-9 cm2/s, r = 8e-6 1/s (front 2 sqrt(D r) = 9 um/h)
    diffusivity: float = key("keratinocyte_diffusivity_cm2_per_s", si=1e-4, default=2e-9,
                             lo=0.0, lo_open=True, hi=1e-3)  # m2/s
    proliferation: float = key("proliferation_per_s", default=8e-6, lo=0.0, lo_open=True,
                               hi=1.0)  # 1/s
    # an ablative crater leaves the barrier open: granulation tissue fills it from the floor
    # before the epithelium can cover it (prior [M]: microablative channels re-epithelialise
    # within about 48 h, Hantash et al. 2007, Lasers Surg Med 39:96: ~300 um in ~2 days)
    crater_fill: float = key("crater_fill_um_per_h", si=UM / HOUR, default=6.0, lo=0.0,
                             lo_open=True, hi=1e4)  # m/s
    # MENDs rise to the surface (derived, healing.md: ~75 um from ~1 to ~6 days)
    mend_rise: float = key("mend_rise_um_per_h", si=UM / HOUR, default=0.6, lo=0.0,
                           lo_open=True, hi=1e3)  # m/s
    # full field: the epithelium returns from the hair follicles (density: skin preset,
    # Otberg 2004) and from the edge of the treated field
    follicles: float = key("follicles_per_cm2", si=1e4, lo=0.0, hi=1e5)  # 1/m2
    follicle_radius: float = key("follicle_radius_um", si=UM, default=30.0, lo=1.0,
                                 hi=1e3)  # prior [M]: facial orifices ~60 um (Otberg 2004)
    field_size: float = key("field_size_mm", si=1e-3, default=10.0, lo=0.01, hi=1e3)  # m
    # downtime: until the barrier is closed and debris covers less than this share of the skin
    visible_debris: float = key("visible_debris_percent", si=0.01, default=5.0, lo=0.0,
                                hi=100.0)  # fraction, modelling choice
    # the dermis (fem.physics.healing_dermis): time constants (priors unless "fitted")
    signal_decay: float = key("signal_decay_days", si=DAY, default=3.0, lo=0.01,
                              hi=1e4)  # HSP70 peaks 4 h - 2 d (Laubach 2006), prior
    fibroblast_life: float = key("fibroblast_life_days", si=DAY, default=21.0, lo=0.01,
                                 hi=1e4)  # activated fibroblasts peak ~day 7, prior
    # fitted: 95 % of the denatured collagen replaced at 10 weeks (Hantash 2009): 70 d / ln 20
    clearance_time: float = key("clearance_time_days", si=DAY, default=23.4, lo=0.01,
                                hi=1e4)  # s
    maturation_time: float = key("maturation_time_days", si=DAY, default=30.0, lo=0.01,
                                 hi=1e4)  # collagen III -> I (HSP47 peak at 1 month), prior
    synthesis: float = key("synthesis_per_day", si=1.0 / DAY, default=0.01, lo=0.0,
                           hi=10.0)  # new collagen per day at full activation, prior (1/s)
    wound_signal: float = key("wound_signal_um", si=UM, default=100.0, lo=0.0,
                              hi=1e4)  # reach of the wound signal around the column, prior
    # fitted (README, Healing): the late shrinkage of one session at the calibration case
    contraction: float = key("contraction_per_day", si=1.0 / DAY, default=0.0036, lo=0.0,
                             hi=10.0)  # in-plane strain per day at full activation (1/s)
    # the clock: steps from minutes to days, doubling every 3 steps (fem.run.course)
    first_step: float = key("first_step_min", si=60.0, default=10.0, lo=0.01, hi=1e4)  # s
    max_step: float = key("max_step_h", si=HOUR, default=24.0, lo=0.01, hi=1e4)  # s
    # Fisher-KPP: the step while the wound is open
    open_step: float = key("open_step_h", si=HOUR, default=0.5, lo=0.001, hi=100.0)  # s
    plane_size: float = key("plane_size_um", si=UM, lo=0.1, hi=1e4)  # m, default: mesh


@dataclass(frozen=True)
class Course:
    """``[course]``: a treatment course of ``sessions`` sessions ``interval_days`` apart
    (fem.run.course). Each session fires a new pattern of the case; the healing state carries
    over (the dermal kinetics of the sessions add up), and ``healing.end_days`` counts from
    the first session."""

    sessions: int = key("sessions", "int", default=1, lo=1, hi=20)
    interval: float = key("interval_days", si=DAY, default=28.0, lo=0.0, lo_open=True,
                          hi=3650.0)  # s

    @property
    def starts(self) -> tuple[float, ...]:
        """When each session fires, s after the first."""
        return tuple(k * self.interval for k in range(self.sessions))


@dataclass(frozen=True)
class Case:
    """A fully validated case in SI, one typed section per table of the case file;
    ``resolved`` is the case in file units with presets and defaults expanded (what
    ``case.toml`` in a result directory holds)."""

    title: str
    skin: Skin
    laser: Laser
    pattern: Pattern
    crater: Crater
    boundary: Boundary
    cooling: Cooling
    tissue: Tissue
    time: Time
    damage: Damage
    mechanics: Mechanics
    mesh: Mesh
    solver: Solver
    output: Output
    healing: Healing
    course: Course
    resolved: dict = field(repr=False, compare=False)


#: The sections of a case file in file order: table name -> dataclass.
SECTIONS: dict[str, type] = {
    "skin": Skin, "laser": Laser, "pattern": Pattern, "crater": Crater, "boundary": Boundary,
    "cooling": Cooling, "tissue": Tissue, "time": Time, "damage": Damage,
    "mechanics": Mechanics, "mesh": Mesh, "solver": Solver, "output": Output,
    "healing": Healing, "course": Course,
}
