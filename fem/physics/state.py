"""What a problem hands the checkpoint: its state after a time step.

A problem (heat, a damage integral, the loop's history) owns its state: :meth:`state` returns a
:class:`State`, :meth:`restore` takes one back. The checkpoint (:mod:`fem.run.checkpoint`)
stores what it is handed and never reaches into the problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import dolfinx.fem as dfem
import numpy as np


@dataclass
class State:
    """The state of one problem.

    Attributes:
        fields: nodal fields, as functions when handed to the checkpoint; handed back, those on
            the temperature space (P1) as arrays of the owned values, those on another space
            (the displacement) as what :func:`fem.run.checkpoint.set_by_coordinates` takes.
        values: numbers and lists (JSON).
        arrays: other arrays, the same on every rank.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class Stateful(Protocol):
    """A problem whose state a checkpoint can save and restore."""

    def state(self) -> State: ...

    def restore(self, state: State) -> None: ...


def set_owned(f: dfem.Function, values: np.ndarray) -> None:
    """Set the owned values of ``f`` and update its ghosts."""
    f.x.array[:values.size] = values
    f.x.scatter_forward()
