"""The histology-like picture: the cut through a column axis resampled on a pixel grid and
stained like a haematoxylin-and-eosin section, darkened and paled by the damage.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from fem.output.names import HISTOLOGY_PNG
from fem.render.draw import (
    _add_layer_labels,
    _add_legend,
    _add_scale_bar_2d,
    _add_titles,
    _new_plotter,
    _omega,
    _screenshot,
    _setup_cut,
)
from fem.render.geometry import _cut_label, _cut_window
from fem.render.snapshot import Snapshot
from fem.render.style import _pretty_layer

logger = logging.getLogger(__name__)


#: Haematoxylin-and-eosin-like colours of the layers, by a word of the layer name.
HISTOLOGY_COLORS: tuple[tuple[str, str], ...] = (
    ("corneum", "#efb6cf"),
    ("epidermis", "#b77fb3"),
    ("papillary", "#f3a8c8"),
    ("reticular", "#e58db6"),
    ("dermis", "#e999bd"),
    ("fat", "#fbeef4"),
    ("hypodermis", "#fbeef4"),
)
#: Coagulated (denatured, hyalinised) collagen stains darker and bluer in H&E.
HISTOLOGY_COAGULATED: str = "#8e4f9e"
#: Necrotic tissue (cells dead, collagen intact) stains paler, without nuclei.
HISTOLOGY_NECROTIC: str = "#f1c9e0"
#: Nuclei (haematoxylin).
HISTOLOGY_NUCLEUS: str = "#4b2466"
#: Pixel size of the histology picture, micrometres per pixel at most.
HISTOLOGY_MAX_PIXEL_UM: float = 2.0


def _histology_color(name: str) -> str:
    """The H&E-like colour of a layer by name (pink dermis, purple epidermis, white fat)."""
    low = name.lower()
    return next((c for word, c in HISTOLOGY_COLORS if word in low), "#e999bd")


def _disks(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow each True pixel of ``mask`` into a disk of ``radius`` pixels."""
    out = mask.copy()
    for di in range(-radius, radius + 1):
        for dj in range(-radius, radius + 1):
            if di * di + dj * dj <= radius * radius:
                out |= np.roll(np.roll(mask, di, axis=0), dj, axis=1)
    return out


def render_histology(snap: Snapshot, out_dir: Path) -> Path | None:
    """A histology-like section of the damage: the cut stained as in H&E.

    The cut through a column axis is resampled on a pixel grid and coloured
    like a haematoxylin-and-eosin section: each layer its stain (pink dermis
    with collagen fibres, purple epidermis, pale fat cells) and scattered
    nuclei; coagulated collagen (weight 1 - exp(-Omega_collagen)) turns dark
    and homogeneous, necrotic cells (1 - exp(-Omega_cell)) lose their nuclei
    and pale. The texture is a fixed pseudo-random pattern, the same for
    every run; only the damage changes the picture.

    Returns:
        Path of ``histology.png``, or None without layer or damage data.
    """
    import pyvista as pv

    if not snap.has_cell("layer") or not snap.has_point("omega_collagen"):
        logger.warning("no layer or omega_collagen array: skipping %s", HISTOLOGY_PNG)
        return None
    x0, x1 = _cut_window(snap)
    z0, z1 = snap.z_crop, snap.z_top
    pixel = max((x1 - x0) / 700.0, (z1 - z0) / 560.0, 1e-6)
    if (x1 - x0) / HISTOLOGY_MAX_PIXEL_UM < 900:
        pixel = min(pixel, HISTOLOGY_MAX_PIXEL_UM)
    nx, nz = round((x1 - x0) / pixel) + 1, round((z1 - z0) / pixel) + 1
    y0 = snap.cut_axis[1] + 1e-7 * max(1.0, x1 - x0)
    plane = pv.ImageData(dimensions=(nx, 1, nz), spacing=(pixel, 1.0, pixel), origin=(x0, y0, z0))
    sampled = plane.sample(snap.mesh)
    valid = np.asarray(sampled.point_data["vtkValidPointMask"]).astype(bool).reshape(nz, nx)
    layer = np.asarray(sampled.point_data["layer"]).astype(int).reshape(nz, nx)
    omega_col = np.asarray(sampled.point_data["omega_collagen"], dtype=float).reshape(nz, nx)
    omega_cell = (
        np.asarray(sampled.point_data["omega_cell"], dtype=float).reshape(nz, nx)
        if "omega_cell" in sampled.point_data else np.zeros_like(omega_col)
    )
    f_col = 1.0 - np.exp(-np.clip(np.nan_to_num(omega_col), 0.0, 50.0))
    f_cell = 1.0 - np.exp(-np.clip(np.nan_to_num(omega_cell), 0.0, 50.0))

    names = snap.layer_names()
    table = np.array([pv.Color(_histology_color(names[i] if i < len(names) else "")).float_rgb
                      for i in range(max(int(layer.max()), 0) + 1)])
    rgb = table[np.clip(layer, 0, None)]
    x = x0 + pixel * np.arange(nx)[None, :]
    z = z0 + pixel * np.arange(nz)[:, None]
    low = [n.lower() for n in names]
    is_fat = np.isin(layer, [i for i, n in enumerate(low) if "fat" in n or "hypoderm" in n])
    is_dermis = np.isin(layer, [i for i, n in enumerate(low) if "dermis" in n and "epi" not in n])
    # Wavy collagen fibres in the dermis, fat cell membranes in the fat.
    fibres = np.sin(2 * np.pi * ((z - 0.0) / 14.0 + 0.35 * np.sin(x / 55.0)))
    shade = np.where(is_dermis, 1.0 + 0.06 * fibres * (1.0 - f_col), 1.0)
    membrane = (np.abs(np.sin(x / 22.0 + 0.6 * np.sin(z / 31.0)) * np.sin(z / 20.0)) < 0.09)
    rgb = rgb * shade[..., None]
    rgb = np.where((is_fat & membrane)[..., None], pv.Color("#e7a9c7").float_rgb, rgb)
    # Damage: necrosis pales and loses nuclei, coagulation darkens and homogenises.
    nec = np.asarray(pv.Color(HISTOLOGY_NECROTIC).float_rgb)
    coag = np.asarray(pv.Color(HISTOLOGY_COAGULATED).float_rgb)
    dermal = (~is_fat)[..., None]
    pale = 0.35 * f_cell[..., None]
    rgb = np.where(dermal, rgb * (1 - pale) + pale * nec, rgb)
    rgb = rgb * (1 - 0.8 * f_col[..., None]) + 0.8 * f_col[..., None] * coag
    # Nuclei: dense in the epidermis, sparse in the dermis, gone where the cells died.
    rng = np.random.default_rng(20240531)
    density = np.where(is_dermis, 0.0025, np.where(is_fat, 0.0006, 0.02)) * pixel**2 / 4.0
    seeds = (rng.random((nz, nx)) < density) & (rng.random((nz, nx)) > f_cell)
    nuclei = _disks(seeds, max(1, round(4.0 / pixel)))  # nuclei of about 8 µm
    rgb = np.where(nuclei[..., None], pv.Color(HISTOLOGY_NUCLEUS).float_rgb, rgb)
    rgb = np.where(valid[..., None], rgb, 1.0)  # outside the tissue (crater, air): slide glass
    plane.point_data["he_rgb"] = (np.clip(rgb, 0, 1).reshape(-1, 3) * 255).astype(np.uint8)

    p = _new_plotter()
    p.add_mesh(plane, scalars="he_rgb", rgb=True, lighting=False, show_scalar_bar=False)
    frame = _setup_cut(p, snap, plane, x_range=(0.11, 0.55))
    _add_layer_labels(p, snap, frame, color="#222222")
    _add_scale_bar_2d(p, frame)
    legend = [(_pretty_layer(n), _histology_color(n), "patch") for n in names[: len(table)]]
    legend += [
        (_omega("coagulated collagen (Ω collagen ≥ 1)"), HISTOLOGY_COAGULATED, "patch"),
        (_omega("necrosis, no nuclei (Ω cell ≥ 1)"), HISTOLOGY_NECROTIC, "patch"),
    ]
    x = min(frame.right + 0.07, 0.62)
    _add_legend(p, legend, x=x, y_top=0.78, width=0.97 - x)
    _add_titles(p, "Histology-like section (H&E style)", _cut_label(snap)
                + "\nsimulated stain from the damage fields; texture is illustrative")
    frame.apply_camera(p)
    return _screenshot(p, out_dir / HISTOLOGY_PNG)
