"""Monte Carlo light transport in a laterally infinite layered slab (MCML-style), one beam.

The scheme is that of MCML (Wang, Jacques & Zheng 1995, Comput Methods Programs Biomed
47:131) with path-length (continuous) absorption scoring; SI units inside (metres, 1/m).
Depth ``z`` is positive downward, the surface is ``z = 0`` and layer ``i`` spans
``[z_i, z_{i+1}]`` with absorption ``mu_a``, scattering ``mu_s`` (not reduced), Henyey-Greenstein
anisotropy ``g`` and refractive index ``n``. A packet of unit weight is followed until it leaves
the slab or its weight falls below ``1e-4``:

* Launch. The beam is Gaussian with 1/e^2 radius ``w(d)^2 = w0^2 + tan(theta)^2 (d - d_f)^2``
  in the tissue. A packet takes its focal-plane position ``x_f, y_f ~ N(0, w0/2)`` and its
  direction slopes ``t_x, t_y ~ N(0, tan(theta)/2)``; its ray is ``x = x_f + t_x (z - d_f)``
  (the same for ``y``), so it enters at ``x_f - t_x d_f`` with direction ``(t_x, t_y, 1)``
  normalised, and the packets reproduce ``w(d)`` exactly. The unpolarised Fresnel reflectance
  ``R`` for the angle outside (``n_out sin th_out = n_1 sin th_in``, clipped to grazing, where
  ``R = 1``) goes to the specular reflection; the packet enters with weight ``1 - R``.
* Steps. The dimensionless step to the next scattering is ``s = -ln(xi)`` mean free paths
  (``xi`` uniform on (0, 1]), the physical step ``s / mu_s`` (``mu_s = 0``: no scattering, the
  packet runs to a boundary). A step that would cross an interface stops on it, and the unused
  part ``s - mu_s l`` is carried into the next layer.
* Absorption. Along a straight piece of length ``l`` the weight falls as ``w exp(-mu_a l)``
  and the loss is scored: the piece is cut at the depth-bin edges exactly, and each cut into
  sub-pieces no longer than half the smaller of ``dr`` and ``dz``; a sub-piece's loss goes to
  the bin of its midpoint (``r = sqrt(x^2 + y^2)``; ``r > r_max`` to ``absorbed_beyond``). A cut
  that stays within one radial bin is scored whole (the same bin as its sub-pieces), and the
  parts of a cut outside ``r_max`` (cut off exactly where the chord leaves the grid) whole to
  ``absorbed_beyond``, which bounds the work of long, nearly horizontal pieces. The weight
  at each depth-bin edge is ``w exp(-mu_a t)`` from the start of the piece, so the
  absorption-only collimated beam reproduces Beer-Lambert bin by bin to round-off.
* Interfaces and surfaces. On reaching an interface from index ``n_i`` to ``n_t`` the packet is
  reflected with the unpolarised Fresnel probability ``R`` (1 past the critical angle: total
  internal reflection; 0 for matched indices), otherwise refracted by Snell's law
  (``u_xy *= n_i/n_t``, ``|u_z| = cos th_t``). Leaving through the top it is diffuse
  reflectance, through the bottom (into ``n_below``) transmittance.
* Scattering. Henyey-Greenstein deflection ``cos th = (1 + g^2 - ((1 - g^2)/(1 - g + 2 g xi))^2)
  / (2g)`` (isotropic ``cos th = 2 xi - 1`` for ``g = 0``), uniform azimuth, and MCML's direction
  update (with its ``|u_z| ~ 1`` special case).
* Termination. Below ``1e-4`` of the launch weight, or after ``MAX_EVENTS`` steps, the rest of
  the weight is deposited in the packet's current bin. This keeps the energy ledger
  ``specular + diffuse + transmitted + sum(absorbed) + absorbed_beyond = 1`` exact to round-off;
  it biases the place where ``1e-4`` of a packet is absorbed, far below the statistical error.

Statistics. Packets run in batches of ``batch``; batch ``b`` uses its own seed derived from
``(seed, b)`` for numba's generator. The map is the mean of the batch maps and its standard error
the spread of the batches, ``s = std_b / sqrt(B)``; the map's relative error is the
energy-weighted RMS of ``s_i / A_i``, ``sqrt(sum s_i^2 / A_i / sum A_i)`` over bins with
``A_i > 0``. With an MPI communicator the ranks share the batches (``b % size == rank``), gather
them each round and add them in batch order on every rank, so the map is bit-identical on any
number of ranks. Pure numpy and numba: no DOLFINx here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

#: Weight (of the launch weight) below which a packet deposits the rest and stops.
W_MIN = 1e-4
#: Safety cap on the steps (scatterings and boundary hits) of one packet.
MAX_EVENTS = 1_000_000
#: Batches per round of the ``target_error`` mode (independent of the number of ranks).
ROUND_BATCHES = 4
#: Direction cosines closer to 1 than this count as normal (MCML's COS0 test).
COS_ONE = 1.0 - 1e-12
_TALLIES = 4  # beyond, specular, diffuse, transmitted


@dataclass(frozen=True)
class OpticalLayer:
    """One tissue layer of the slab (SI units)."""

    thickness: float  # m
    mu_a: float  # absorption, 1/m
    mu_s: float  # scattering (not reduced), 1/m
    g: float  # Henyey-Greenstein anisotropy
    n: float  # refractive index


@dataclass(frozen=True)
class Launch:
    """The beam as it propagates in the tissue: 1/e^2 radius w(d)^2 = w0^2 + tan(divergence)^2
    (d - focal_depth)^2."""

    w0: float  # 1/e^2 radius at the focus, m
    focal_depth: float  # m below the surface (0: waist at the surface)
    divergence: float  # half-angle of the 1/e^2 radius in the tissue, rad (0: collimated)
    n_outside: float = 1.0


@dataclass(frozen=True)
class MapGrid:
    """The axisymmetric (r, z) scoring grid."""

    r_max: float  # m
    nr: int  # uniform radial bins on [0, r_max]
    dz: float  # largest depth bin, m; each layer gets ceil(thickness/dz) equal bins

    def bins_per_layer(self, layers: Sequence[OpticalLayer]) -> np.ndarray:
        """Number of depth bins of each layer, ``ceil(thickness / dz)``."""
        return np.array([max(1, math.ceil(lay.thickness / self.dz * (1.0 - 1e-12)))
                         for lay in layers], dtype=np.int64)

    def z_edges(self, layers: Sequence[OpticalLayer]) -> np.ndarray:
        """Depth-bin edges, m, from 0; the layer interfaces are edges."""
        zb = interfaces(layers)
        parts = [np.linspace(zb[i], zb[i + 1], k + 1)[:-1]
                 for i, k in enumerate(self.bins_per_layer(layers))]
        return np.concatenate([*parts, zb[-1:]])


@dataclass(frozen=True)
class BeamMap:
    """Absorbed energy of one beam on the (r, z) grid, per unit delivered energy."""

    r_edges: np.ndarray  # m
    z_edges: np.ndarray  # m, depth positive downward, z_edges[0] = 0
    layer_of_bin: np.ndarray  # layer index of each z bin
    absorbed: np.ndarray  # (nr, nz) fraction of the delivered energy absorbed in each bin
    absorbed_error: np.ndarray  # (nr, nz) its standard error (spread of the batches)
    absorbed_beyond: float  # fraction absorbed at r > r_max
    specular: float  # Fresnel reflection at launch
    diffuse_reflectance: float  # weight leaving through the top surface after entering
    transmitted: float  # weight leaving through the bottom of the slab
    diffuse_reflectance_error: float  # standard error of diffuse_reflectance
    transmitted_error: float  # standard error of transmitted
    photons: int
    seed: int
    batches: int
    wall_time: float  # s
    relative_error: float  # energy-weighted RMS relative standard error of the bins

    def density(self) -> np.ndarray:
        """Absorbed power per unit volume per unit delivered power, 1/m^3, shape (nr, nz)."""
        ring = np.pi * np.diff(self.r_edges ** 2)
        return self.absorbed / np.outer(ring, np.diff(self.z_edges))

    @property
    def ledger_error(self) -> float:
        """``|specular + diffuse + transmitted + absorbed + beyond - 1|``."""
        total = (self.specular + self.diffuse_reflectance + self.transmitted
                 + float(self.absorbed.sum()) + self.absorbed_beyond)
        return abs(total - 1.0)


def interfaces(layers: Sequence[OpticalLayer]) -> np.ndarray:
    """Depths of the surface, the interfaces and the bottom, m."""
    return np.concatenate([[0.0], np.cumsum([lay.thickness for lay in layers])])


@numba.njit(cache=True)
def _fresnel(n1: float, n2: float, cos1: float) -> tuple[float, float]:
    """Unpolarised Fresnel reflectance from ``n1`` into ``n2`` and the cosine transmitted."""
    if n1 == n2:
        return 0.0, cos1
    if cos1 > COS_ONE:
        r = (n1 - n2) / (n1 + n2)
        return r * r, 1.0
    if cos1 < 1e-12:
        return 1.0, 0.0
    sin2 = n1 / n2 * math.sqrt(1.0 - cos1 * cos1)
    if sin2 >= 1.0:
        return 1.0, 0.0
    cos2 = math.sqrt(1.0 - sin2 * sin2)
    rs = (n1 * cos1 - n2 * cos2) / (n1 * cos1 + n2 * cos2)
    rp = (n1 * cos2 - n2 * cos1) / (n1 * cos2 + n2 * cos1)
    return 0.5 * (rs * rs + rp * rp), cos2


@numba.njit(cache=True)
def _spin(ux: float, uy: float, uz: float, g: float) -> tuple[float, float, float]:
    """New direction after a Henyey-Greenstein deflection with uniform azimuth (MCML)."""
    if g == 0.0:
        cost = 2.0 * np.random.random() - 1.0
    else:
        tmp = (1.0 - g * g) / (1.0 - g + 2.0 * g * np.random.random())
        cost = min(1.0, max(-1.0, (1.0 + g * g - tmp * tmp) / (2.0 * g)))
    sint = math.sqrt(1.0 - cost * cost)
    phi = 2.0 * math.pi * np.random.random()
    cosp, sinp = math.cos(phi), math.sin(phi)
    if abs(uz) > COS_ONE:
        return sint * cosp, sint * sinp, cost if uz > 0.0 else -cost
    temp = math.sqrt(1.0 - uz * uz)
    nx = sint * (ux * uz * cosp - uy * sinp) / temp + ux * cost
    ny = sint * (uy * uz * cosp + ux * sinp) / temp + uy * cost
    nz = -sint * cosp * temp + uz * cost
    return nx, ny, nz


@numba.njit(cache=True)
def _r_bin(r2: float, inv_dr: float, nr: int) -> int:
    """Radial bin of squared radius ``r2``; ``nr`` stands for beyond ``r_max``."""
    return min(int(math.sqrt(r2) * inv_dr), nr)


@numba.njit(cache=True)
def _score(A: np.ndarray, tally: np.ndarray, ir: int, iz: int, loss: float) -> None:
    """Add ``loss`` to bin ``(ir, iz)``, or to the beyond tally when ``ir == nr``."""
    if ir >= A.shape[0]:
        tally[0] += loss
    else:
        A[ir, iz] += loss


@numba.njit(cache=True)
def _score_cut(A, tally, x, y, ux, uy, t_s, t_e, t_star, w_s, w_e, iz, mua, inv_dr, h):
    """Score the loss ``w_s - w_e`` of the cut ``[t_s, t_e]`` of a piece in depth bin ``iz``.

    Scored whole when the cut stays in one radial bin; else its parts beyond ``r_max`` go to
    the beyond tally and the rest to sub-pieces (``t_star``: the line's closest approach).
    """
    nr = A.shape[0]
    tc = min(max(t_star, t_s), t_e)
    xs, ys, xe, ye = x + ux * t_s, y + uy * t_s, x + ux * t_e, y + uy * t_e
    xc, yc = x + ux * tc, y + uy * tc
    ir_lo = _r_bin(xc * xc + yc * yc, inv_dr, nr)
    ir_hi = _r_bin(max(xs * xs + ys * ys, xe * xe + ye * ye), inv_dr, nr)
    if ir_lo == ir_hi:
        _score(A, tally, ir_lo, iz, w_s - w_e)
        return
    if ir_hi == nr:  # keep the chord inside r_max, |x + u t| < r_max, for the sub-pieces
        xc, yc = x + ux * t_star, y + uy * t_star
        half = math.sqrt(max((nr / inv_dr) ** 2 - xc * xc - yc * yc, 0.0) / (ux * ux + uy * uy))
        t0, t1 = max(t_s, t_star - half), min(t_e, t_star + half)
        if t1 < t_e:
            w1 = w_s * math.exp(-mua * (t1 - t_s))
            tally[0] += w1 - w_e
            t_e, w_e = t1, w1
        if t0 > t_s:
            w0 = w_s * math.exp(-mua * (t0 - t_s))
            tally[0] += w_s - w0
            t_s, w_s = t0, w0
    _score_pieces(A, tally, x, y, ux, uy, t_s, t_e, w_s, w_e, iz, mua, inv_dr, h)


@numba.njit(cache=True)
def _score_pieces(A, tally, x, y, ux, uy, t_s, t_e, w_s, w_e, iz, mua, inv_dr, h):
    """Score ``[t_s, t_e]`` in equal sub-pieces of length at most ``h``, each by its midpoint.

    Runs of sub-pieces in one radial bin are scored at once (their losses add up to the weight
    lost over the run); a change of bin is found against the squared bin edges.
    """
    nr = A.shape[0]
    m = max(1, int(math.ceil((t_e - t_s) / h)))
    hh = (t_e - t_s) / m
    f = math.exp(-mua * hh)
    xm, ym = x + ux * (t_s + 0.5 * hh), y + uy * (t_s + 0.5 * hh)
    ir = _r_bin(xm * xm + ym * ym, inv_dr, nr)
    lo2, hi2 = _r_edges2(ir, inv_dr, nr)
    wk, w_run = w_s, w_s
    for k in range(1, m):
        wk *= f
        tm = t_s + (k + 0.5) * hh
        xm, ym = x + ux * tm, y + uy * tm
        r2 = xm * xm + ym * ym
        if r2 < lo2 or r2 >= hi2:
            _score(A, tally, ir, iz, w_run - wk)
            w_run = wk
            ir = _r_bin(r2, inv_dr, nr)
            lo2, hi2 = _r_edges2(ir, inv_dr, nr)
    _score(A, tally, ir, iz, w_run - w_e)


@numba.njit(cache=True)
def _r_edges2(ir: int, inv_dr: float, nr: int) -> tuple[float, float]:
    """Squared inner and outer radius of radial bin ``ir`` (outer infinite beyond r_max)."""
    lo = ir / inv_dr
    hi = (ir + 1) / inv_dr if ir < nr else np.inf
    return lo * lo, hi * hi


@numba.njit(cache=True)
def _z_bin(z: float, uz: float, ztop: float, dzl: float, nzl: int) -> int:
    """Bin of depth ``z`` within a layer, the one being entered when ``z`` is on an edge."""
    u = (z - ztop) / dzl
    j = int(math.ceil(u)) - 1 if uz < 0.0 else int(math.floor(u))
    return min(max(j, 0), nzl - 1)


@numba.njit(cache=True)
def _travel(A, tally, x, y, z, ux, uy, uz, length, w, mua, ztop, dzl, nzl, off, inv_dr, h):
    """Move a packet by ``length`` in one layer, scoring its absorption; the weight after."""
    if mua == 0.0 or length <= 0.0:
        return w
    a = ux * ux + uy * uy
    t_star = -(x * ux + y * uy) / a if a > 0.0 else 0.0
    tc = min(max(t_star, 0.0), length)
    xc, yc = x + ux * tc, y + uy * tc
    w_end = w * math.exp(-mua * length)
    if _r_bin(xc * xc + yc * yc, inv_dr, A.shape[0]) == A.shape[0]:
        tally[0] += w - w_end  # the whole piece lies beyond r_max
        return w_end
    j = _z_bin(z, uz, ztop, dzl, nzl)
    step = 1 if uz > 0.0 else -1
    t_s, w_s, t_x = 0.0, w, length
    while True:
        last = (uz == 0.0 or (uz > 0.0 and j == nzl - 1) or (uz < 0.0 and j == 0))
        if not last:
            edge = ztop + (j + 1) * dzl if uz > 0.0 else ztop + j * dzl
            t_x = (edge - z) / uz
            last = t_x >= length
        if last:
            t_e, w_e = length, w_end
        else:
            t_e = max(t_x, t_s)
            w_e = w * math.exp(-mua * t_e)
        _score_cut(A, tally, x, y, ux, uy, t_s, t_e, t_star, w_s, w_e, off + j, mua, inv_dr, h)
        if last:
            return w_e
        t_s, w_s, j = t_e, w_e, j + step


@numba.njit(cache=True)
def _launch(w0: float, d_f: float, tan_div: float):
    """Entry point and direction of one packet of the Gaussian beam."""
    xf = 0.5 * w0 * np.random.standard_normal()
    yf = 0.5 * w0 * np.random.standard_normal()
    tx = 0.5 * tan_div * np.random.standard_normal()
    ty = 0.5 * tan_div * np.random.standard_normal()
    inv = 1.0 / math.sqrt(1.0 + tx * tx + ty * ty)
    return xf - tx * d_f, yf - ty * d_f, tx * inv, ty * inv, inv


@numba.njit(cache=True)
def _run_batch(n_packets, seed, zb, mu_a, mu_s, g, n, n_above, n_below, off, nzl, nz, nr,
               r_max, w0, d_f, tan_div):
    """Run one batch; returns the summed (nr, nz) map and [beyond, specular, diffuse, trans]."""
    np.random.seed(seed)
    A = np.zeros((nr, nz))
    tally = np.zeros(_TALLIES)
    n_lay = mu_a.shape[0]
    dzl = np.empty(n_lay)
    for i in range(n_lay):
        dzl[i] = (zb[i + 1] - zb[i]) / nzl[i]
    inv_dr = nr / r_max
    h = 0.5 * min(r_max / nr, dzl.min())
    for _ in range(n_packets):
        x, y, ux, uy, uz = _launch(w0, d_f, tan_div)
        z = 0.0
        r_sp = _fresnel(n[0], n_above, uz)[0]
        tally[1] += r_sp
        w = 1.0 - r_sp
        il, s_left, alive = 0, 0.0, w > 0.0
        for _event in range(MAX_EVENTS):
            if not alive or w < W_MIN:
                break
            if s_left <= 0.0:
                s_left = -math.log(1.0 - np.random.random())
            if uz > 0.0:
                d_b = (zb[il + 1] - z) / uz
            elif uz < 0.0:
                d_b = (zb[il] - z) / uz
            else:
                d_b = np.inf
            mus = mu_s[il]
            d_s = s_left / mus if mus > 0.0 else np.inf
            hit = d_b <= d_s
            length = d_b if hit else d_s
            if length == np.inf:  # cannot happen for a packet that entered; stop it safely
                break
            w = _travel(A, tally, x, y, z, ux, uy, uz, length, w, mu_a[il], zb[il], dzl[il],
                        nzl[il], off[il], inv_dr, h)
            x += ux * length
            y += uy * length
            if not hit:
                z += uz * length
                s_left = 0.0
                ux, uy, uz = _spin(ux, uy, uz, g[il])
                continue
            if mus > 0.0:
                s_left = max(0.0, s_left - d_b * mus)
            down = uz > 0.0
            z = zb[il + 1] if down else zb[il]
            if down:
                n_t = n[il + 1] if il + 1 < n_lay else n_below
            else:
                n_t = n[il - 1] if il > 0 else n_above
            r, cos_t = _fresnel(n[il], n_t, abs(uz))
            if r > 0.0 and (r >= 1.0 or np.random.random() < r):
                uz = -uz
                continue
            if down and il == n_lay - 1:
                tally[3] += w
                alive = False
            elif not down and il == 0:
                tally[2] += w
                alive = False
            else:
                ratio = n[il] / n_t
                ux *= ratio
                uy *= ratio
                uz = cos_t if down else -cos_t
                il += 1 if down else -1
        if alive:
            _score(A, tally, _r_bin(x * x + y * y, inv_dr, nr),
                   off[il] + _z_bin(z, uz, zb[il], dzl[il], nzl[il]), w)
    return A, tally


def batch_seed(seed: int, b: int) -> int:
    """The generator seed of batch ``b`` of a run with ``seed``."""
    return int(np.random.SeedSequence([seed, b]).generate_state(1)[0])


@dataclass(frozen=True)
class _Problem:
    """The kernel's arguments that do not change between batches."""

    zb: np.ndarray
    mu_a: np.ndarray
    mu_s: np.ndarray
    g: np.ndarray
    n: np.ndarray
    n_above: float
    n_below: float
    off: np.ndarray
    nzl: np.ndarray
    nz: int
    nr: int
    r_max: float
    w0: float
    d_f: float
    tan_div: float

    def run(self, packets: int, seed: int) -> np.ndarray:
        """One batch as a flat vector: the map per packet, then the four tallies per packet."""
        A, tally = _run_batch(packets, seed, self.zb, self.mu_a, self.mu_s, self.g, self.n,
                              self.n_above, self.n_below, self.off, self.nzl, self.nz, self.nr,
                              self.r_max, self.w0, self.d_f, self.tan_div)
        return np.concatenate([A.ravel(), tally]) / packets


class _Welford:
    """Running mean and sum of squared deviations of the batch vectors, in batch order."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def add(self, v: np.ndarray) -> None:
        self.count += 1
        if self.mean is None:
            self.mean, self.m2 = v.copy(), np.zeros_like(v)
            return
        delta = v - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (v - self.mean)

    def stderr(self) -> np.ndarray:
        """Standard error of the mean (nan with one batch)."""
        if self.count < 2:
            return np.full_like(self.mean, np.nan)
        return np.sqrt(np.maximum(self.m2, 0.0) / (self.count - 1) / self.count)


def relative_error(absorbed: np.ndarray, error: np.ndarray) -> float:
    """Energy-weighted RMS relative error ``sqrt(sum s^2/A / sum A)`` over bins with A > 0."""
    mask = absorbed > 0.0
    if not mask.any():
        return float("nan")
    return float(np.sqrt(np.sum(error[mask] ** 2 / absorbed[mask]) / np.sum(absorbed[mask])))


def _problem(layers: Sequence[OpticalLayer], launch: Launch, grid: MapGrid,
             n_below: float | None) -> _Problem:
    """Validate the inputs and pack them for the kernel."""
    if not layers:
        raise ValueError("at least one layer is needed")
    for lay in layers:
        if not (lay.thickness > 0 and lay.mu_a >= 0 and lay.mu_s >= 0 and -1 < lay.g < 1
                and lay.n > 0):
            raise ValueError(f"invalid optical layer {lay}")
    if not (grid.r_max > 0 and grid.nr >= 1 and grid.dz > 0):
        raise ValueError(f"invalid map grid {grid}")
    if not (launch.w0 >= 0 and launch.focal_depth >= 0 and 0 <= launch.divergence < np.pi / 2
            and launch.n_outside > 0):
        raise ValueError(f"invalid launch {launch}")
    nzl = grid.bins_per_layer(layers)
    col = {k: np.array([getattr(lay, k) for lay in layers], dtype=float)
           for k in ("mu_a", "mu_s", "g", "n")}
    return _Problem(zb=interfaces(layers), **col, n_above=float(launch.n_outside),
                    n_below=float(layers[-1].n if n_below is None else n_below),
                    off=np.concatenate([[0], np.cumsum(nzl)[:-1]]).astype(np.int64), nzl=nzl,
                    nz=int(nzl.sum()), nr=int(grid.nr), r_max=float(grid.r_max),
                    w0=float(launch.w0), d_f=float(launch.focal_depth),
                    tan_div=float(np.tan(launch.divergence)))


def _round(prob: _Problem, b0: int, k: int, batch: int, seed: int, comm) -> list[np.ndarray]:
    """Batches ``b0 .. b0+k-1``, each run by rank ``b % size``, in batch order on every rank."""
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    mine = [(b, prob.run(batch, batch_seed(seed, b))) for b in range(b0, b0 + k)
            if b % size == rank]
    if comm is None or size == 1:
        return [v for _, v in mine]
    gathered = [item for part in comm.allgather(mine) for item in part]
    return [v for _, v in sorted(gathered, key=lambda item: item[0])]


def simulate(layers: Sequence[OpticalLayer], launch: Launch, grid: MapGrid, *,
             photons: int | None = None, target_error: float | None = None,
             max_photons: int = 4_000_000, seed: int = 1, n_below: float | None = None,
             batch: int = 10_000, comm=None) -> BeamMap:
    """Absorbed-energy map of one beam in the layered slab.

    Parameters
    ----------
    layers, launch, grid
        The slab (top first), the beam in the tissue and the scoring grid.
    photons
        Fixed number of packets, rounded up to whole batches.
    target_error
        Instead of ``photons``: add rounds of ``ROUND_BATCHES`` batches until the map's
        ``relative_error <= target_error`` or ``max_photons`` packets have run.
    seed
        Seed of the run; batch ``b`` uses :func:`batch_seed` ``(seed, b)``.
    n_below
        Refractive index below the last layer (None: matched to the last layer).
    batch
        Packets per batch.
    comm
        mpi4py communicator sharing the batches (None: serial); the same map on every rank.

    Returns
    -------
    BeamMap
        Bit-identical for any number of ranks.
    """
    if (photons is None) == (target_error is None):
        raise ValueError("give exactly one of photons and target_error")
    if batch < 1 or (photons is not None and photons < 1) or (
            target_error is not None and not target_error > 0):
        raise ValueError("photons, batch and target_error must be positive")
    start = time.perf_counter()
    prob = _problem(layers, launch, grid, n_below)
    fixed = photons is not None
    total = math.ceil(photons / batch) if fixed else max(2, math.ceil(max_photons / batch))
    per_round = max(ROUND_BATCHES, 1 if comm is None else comm.size) if fixed else ROUND_BATCHES
    acc, done, m = _Welford(), 0, prob.nr * prob.nz
    while done < total:
        k = min(per_round, total - done)
        for v in _round(prob, done, k, batch, seed, comm):
            acc.add(v)
        done += k
        if not fixed and relative_error(acc.mean[:m], acc.stderr()[:m]) <= target_error:
            break
    return _beam_map(prob, grid, layers, acc, batch, seed, start, comm)


def _beam_map(prob: _Problem, grid: MapGrid, layers: Sequence[OpticalLayer], acc: _Welford,
              batch: int, seed: int, start: float, comm) -> BeamMap:
    """Assemble the result from the accumulated batches."""
    m = prob.nr * prob.nz
    mean, err = acc.mean, acc.stderr()
    absorbed, absorbed_error = mean[:m].reshape(prob.nr, prob.nz), err[:m].reshape(prob.nr, -1)
    wall = time.perf_counter() - start
    if comm is not None and comm.size > 1:
        wall = max(comm.allgather(wall))
    return BeamMap(
        r_edges=np.linspace(0.0, grid.r_max, grid.nr + 1), z_edges=grid.z_edges(layers),
        layer_of_bin=np.repeat(np.arange(len(layers)), prob.nzl), absorbed=absorbed,
        absorbed_error=absorbed_error, absorbed_beyond=float(mean[m]), specular=float(mean[m + 1]),
        diffuse_reflectance=float(mean[m + 2]), transmitted=float(mean[m + 3]),
        diffuse_reflectance_error=float(err[m + 2]), transmitted_error=float(err[m + 3]),
        photons=acc.count * batch, seed=seed, batches=acc.count, wall_time=wall,
        relative_error=relative_error(absorbed, absorbed_error))

