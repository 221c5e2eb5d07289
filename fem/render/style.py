"""The look of the pictures: window size, crop, the colours (with their names for the
captions) and colour maps, and the small formatting helpers every picture shares. Plain
constants and functions, no pyvista, so that the report can quote the colour names.
"""

from __future__ import annotations

import logging
import math

logger = logging.getLogger(__name__)


#: Window size (pixels) of every picture.
WINDOW_SIZE: tuple[int, int] = (1200, 900)
#: The 2D cuts show the top ``CROP_FACTOR * column_depth_um`` of the block.
CROP_FACTOR: float = 1.3

#: Colour (and its name, for captions) of the collagen Omega = 1 contour (coagulation column).
COLLAGEN_COLOR, COLLAGEN_COLOR_NAME = "#000000", "black"
#: Colour (and its name) of the cell Omega = 1 contour (necrosis).
NECROSIS_COLOR, NECROSIS_COLOR_NAME = "#0a6cff", "blue"
#: Colour (and its name) of the collagen Omega = 1 isosurface in the 3D overview.
ISOSURFACE_COLOR, ISOSURFACE_COLOR_NAME = "#c0392b", "red"
#: Colour (and its name) of the column centres and footprints in the top views.
MARKER_COLOR, MARKER_COLOR_NAME = "#0a6cff", "blue"
#: Colour map and range (log10 Omega) of the top view of the treated columns.
COVERAGE_CMAP: str = "YlOrRd"
COVERAGE_CLIM: tuple[float, float] = (-8.0, 2.0)
#: The column cells (``in_column = 1``) of the mesh pictures are darkened by this factor.
COLUMN_SHADE: float = 0.7

#: Muted, skin-like categorical colours for the layers (top to bottom).
LAYER_COLORS: tuple[str, ...] = (
    "#b89b6a",  # stratum corneum
    "#f2cfa6",  # epidermis
    "#f7c6c7",  # papillary dermis
    "#e8a3a3",  # reticular dermis
    "#fbe9a6",  # hypodermis / fat
    "#c7d7e8",
    "#d5c4e0",
    "#c9e4c5",
)

#: Colour map of every temperature picture (cuts and animation), one range per view.
TEMPERATURE_CMAP: str = "inferno"
#: Colour map of the von Mises stress.
STRESS_CMAP: str = "viridis"
#: Diverging colour map of the vertical surface displacement (blue down, red up).
DISPLACEMENT_CMAP: str = "RdBu_r"
#: Largest displacement drawn as this share of the block width in the warped pictures.
WARP_SHARE: float = 0.08


def _pretty_layer(name: str) -> str:
    """``"papillary_dermis"`` -> ``"papillary dermis"``."""
    return name.replace("_", " ")


def _layer_color(i: int) -> str:
    """Categorical colour for layer ``i``."""
    return LAYER_COLORS[i % len(LAYER_COLORS)]


def _nice_factor(x: float) -> float:
    """Round a positive number to the nearest (in log) 1, 2 or 5 times a power of ten."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    exp = math.floor(math.log10(x))
    candidates = [m * 10.0**e for e in (exp, exp + 1) for m in (1.0, 2.0, 5.0)]
    return min(candidates, key=lambda c: abs(math.log(c / x)))


def _fmt_factor(f: float) -> str:
    """Format a magnification factor compactly (``20``, ``0.5``, ``2e+04``)."""
    return f"{f:g}"


def _fmt_um(value: float) -> str:
    """A coordinate in whole micrometres, never ``-0``."""
    return f"{round(value):d}"
