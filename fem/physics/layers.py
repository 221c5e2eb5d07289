"""Per-layer coefficients on the mesh: a DG0 function equal to a layer's value on its cells.

The cells of layer ``i`` carry the tags :func:`meshes.skin.layer_tag` ``(i, False)`` outside
the refined columns and ``(i, True)`` inside them.
"""

from __future__ import annotations

import dolfinx.fem as dfem
from dolfinx import mesh

from meshes.skin import layer_tag


def cellwise(V0: dfem.FunctionSpace, cell_tags: mesh.MeshTags, values: list[float], name: str):
    """A DG0 function equal to ``values[i]`` on layer ``i`` (inside and outside the column)."""
    f = dfem.Function(V0, name=name)
    for i, v in enumerate(values):
        for col in (False, True):
            cells = cell_tags.find(layer_tag(i, col))
            f.x.array[cells] = v
    f.x.scatter_forward()
    return f
