"""Checkpoint and restart of the transient heat + damage loop (``mtz run --resume``).

The state after a time step is everything the rest of the run depends on: the temperature,
both damage integrals, the running peak temperature and the temperature at the end of the
pulse, the latent heat left where tissue water boils, the animation frames kept so far (nodal
P1 arrays), the energy ledger, the probe history, the CG iteration count and the index of the
step. Restarting from it repeats the same arithmetic as an uninterrupted run: the
damage rate of the last step is recomputed from the saved temperature (it is ``rate(T)``), the
step matrices and solvers are rebuilt identically, and CG starts from the saved temperature as
it would have. So a resumed run gives the same metrics as an uninterrupted one.

Format: one ``checkpoint/state.npz`` in the result directory, written by rank 0 through a
temporary file and a rename (never half-written). Nodal values are stored keyed by the node's
index in the mesh as gmsh wrote it (``mesh.geometry.input_global_indices``), which does not
depend on the partition, so a run checkpointed on 4 ranks can be resumed on 1 or 8 (the mesh
itself is rebuilt deterministically, from the mesh cache or by gmsh on rank 0). Every rank
reads the file and picks its own nodes. This is plain numpy rather than adios4dolfinx: it
needs no extra dependency and the state is a few nodal arrays of one P1 space; the fields for
ParaView are still written with ADIOS2 (``fields/*.bp``).

A checkpoint also stores a fingerprint of the resolved case; resuming with a different case
is an input error (exit status 2).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from mpi4py import MPI

import numpy as np
from dolfinx import fem

from fem.config import CaseError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.npz"
FORMAT_VERSION = 1


def case_fingerprint(resolved: dict) -> str:
    """A hash of the resolved case (what makes a checkpoint belong to it)."""
    text = json.dumps(resolved, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def node_keys(V: fem.FunctionSpace) -> np.ndarray:
    """Partition-independent key of each owned dof of a scalar P1 space: its input node index.

    For a P1 space on a mesh with affine (P1) geometry the cell dofs and the cell geometry
    nodes follow the same reference-vertex order, which maps dofs to geometry nodes.
    """
    mesh = V.mesh
    n_local = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
    node_of_dof = np.empty(n_local, dtype=np.int64)
    node_of_dof[V.dofmap.list.ravel()] = mesh.geometry.dofmaps[0].ravel()
    n_owned = V.dofmap.index_map.size_local
    return np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)[node_of_dof[:n_owned]]


class Checkpointer:
    """Saves the loop state every ``every_steps`` steps (or ``every_seconds`` of wall time)
    and restores it on ``resume``.

    Args:
        out: the result directory of the case.
        resolved: the resolved case (its fingerprint is checked on restore).
        comm: the communicator of the case.
        every_steps: save after every this many steps; None: by wall time.
        every_seconds: with ``every_steps`` None, save when this much wall time has passed
            since the last save (decided on rank 0, so every rank agrees).
        resume: restore the saved state, if there is one, before the first step.
    """

    def __init__(self, out: Path, resolved: dict, comm: MPI.Comm, every_steps: int | None = None,
                 every_seconds: float = 60.0, resume: bool = False):
        self.dir = Path(out) / CHECKPOINT_DIR
        self.path = self.dir / STATE_FILE
        self.fingerprint = case_fingerprint(resolved)
        self.comm, self.every_steps, self.every_seconds = comm, every_steps, every_seconds
        self.resume = resume
        self._last = time.perf_counter()
        self._keys: np.ndarray | None = None
        self.saved_step = 0

    def _node_keys(self, V: fem.FunctionSpace) -> np.ndarray:
        if self._keys is None:
            self._keys = node_keys(V)
        return self._keys

    # ----------------------------------------------------------------------------- saving

    def due(self, n: int, n_steps: int) -> bool:
        """Whether to save after step ``n`` (never after the last step: the run ends)."""
        if n >= n_steps:
            return False
        if self.every_steps is not None:
            return n % self.every_steps == 0
        due = time.perf_counter() - self._last >= self.every_seconds
        return bool(self.comm.bcast(due, root=0))

    def after_step(self, n: int, n_steps: int, heat, damage: dict, hist) -> None:
        """Called by the time loop after step ``n`` of ``n_steps``: save when due."""
        if self.due(n, n_steps):
            self.save(n, heat, damage, hist)

    def save(self, n: int, heat, damage: dict, hist) -> None:
        """Write the state after step ``n`` (collective; rank 0 writes)."""
        V = heat.V
        n_owned = V.dofmap.index_map.size_local
        fields = {"T": heat.T, "T_peak": hist.T_peak}
        if hist.T_end_of_pulse is not None:
            fields["T_end_of_pulse"] = hist.T_end_of_pulse
        for purpose, d in damage.items():
            fields[f"omega_{purpose}"] = d.omega
        if getattr(heat, "latent_left", None) is not None:  # water not yet boiled off
            fields["latent_left"] = heat.latent_left
        frames = getattr(hist, "frames", [])  # temperatures kept for the animation
        for i, (_, f) in enumerate(frames):
            fields[f"frame_{i}"] = f
        local = (self._node_keys(V),
                 np.stack([f.x.array[:n_owned] for f in fields.values()], axis=1))
        pieces = self.comm.gather(local, root=0)
        if self.comm.rank == 0:
            keys = np.concatenate([k for k, _ in pieces])
            values = np.concatenate([v for _, v in pieces])
            order = np.argsort(keys)
            meta = {
                "format": FORMAT_VERSION,
                "case": self.fingerprint,
                "step": n,
                "ranks": self.comm.size,
                "frame_times": [t for t, _ in frames],
                "outputs": getattr(hist, "outputs", []),
                "fields": list(fields),
                "ledger": vars(heat.ledger),
                "iterations": heat.iterations,
                "heat_seconds": hist.heat_seconds,
                "damage_seconds": hist.damage_seconds,
            }
            probe_values = (np.stack(hist.probe_values) if hist.probe_values
                            else np.zeros((0, 0, 0)))
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / (STATE_FILE + ".tmp")
            with open(tmp, "wb") as f:
                np.savez(f, keys=keys[order], values=values[order],
                         probe_times=np.asarray(hist.probe_times, dtype=float),
                         probe_values=probe_values, meta=np.array(json.dumps(meta)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        self.comm.Barrier()
        self._last = time.perf_counter()
        self.saved_step = n
        log.debug("checkpoint after step %d", n)

    # ---------------------------------------------------------------------------- restoring

    def restore(self, heat, damage: dict, hist, n_steps: int) -> int:
        """Load the saved state into the loop's objects; returns the steps already done (0
        when not resuming or when there is no checkpoint)."""
        if not self.resume:
            return 0
        exists = self.comm.bcast(self.path.is_file() if self.comm.rank == 0 else None, root=0)
        if not exists:
            log.info("resume: no checkpoint in %s, starting from the beginning", self.dir)
            return 0
        with np.load(self.path) as z:
            meta = json.loads(str(z["meta"]))
            keys, values = z["keys"], z["values"]
            probe_times, probe_values = z["probe_times"], z["probe_values"]
        if meta.get("case") != self.fingerprint:
            raise CaseError(f"{self.path}: the checkpoint belongs to a different case "
                            "(the case file changed); remove the checkpoint or run without "
                            "--resume")
        state = {name for name in meta["fields"] if not name.startswith("frame_")}
        if meta["step"] >= n_steps or state - {"T", "T_peak", "T_end_of_pulse", "latent_left"} \
                != {f"omega_{p}" for p in damage} \
                or ("latent_left" in meta["fields"]) != (heat.latent_left is not None):
            raise CaseError(f"{self.path}: the checkpoint does not match the time steps or "
                            "damage kinetics of the case")
        V = heat.V
        mine = self._node_keys(V)
        at = np.searchsorted(keys, mine)
        if np.any(at >= keys.size) or np.any(keys[np.minimum(at, keys.size - 1)] != mine):
            raise CaseError(f"{self.path}: the checkpoint was written on another mesh")
        n_owned = V.dofmap.index_map.size_local
        col = {name: i for i, name in enumerate(meta["fields"])}

        def load(f: fem.Function, name: str) -> None:
            f.x.array[:n_owned] = values[at, col[name]]
            f.x.scatter_forward()

        load(heat.T, "T")
        heat.T_n.x.array[:] = heat.T.x.array
        load(hist.T_peak, "T_peak")
        if "T_end_of_pulse" in col:
            hist.T_end_of_pulse = heat.T.copy()
            hist.T_end_of_pulse.name = "temperature_end_of_pulse"
            load(hist.T_end_of_pulse, "T_end_of_pulse")
        if "latent_left" in col:
            load(heat.latent_left, "latent_left")
        if hasattr(hist, "outputs"):
            hist.outputs = list(meta.get("outputs", []))
        if hasattr(hist, "frames"):
            hist.frames = []
            for i, t in enumerate(meta.get("frame_times", [])):
                frame = heat.T.copy()
                load(frame, f"frame_{i}")
                hist.frames.append((t, frame))
        for purpose, d in damage.items():
            load(d.omega, f"omega_{purpose}")
            d.start(heat.T)  # the rate at the last temperature, as the trapezoid rule keeps it
        for key, value in meta["ledger"].items():
            setattr(heat.ledger, key, value)
        heat.iterations = meta["iterations"]
        hist.heat_seconds, hist.damage_seconds = meta["heat_seconds"], meta["damage_seconds"]
        hist.probe_times = [float(t) for t in probe_times]
        hist.probe_values = [v for v in probe_values]
        self.saved_step = meta["step"]
        log.info("resume: continuing after step %d of %d (checkpoint written on %d rank(s))",
                 meta["step"], n_steps, meta["ranks"])
        return meta["step"]

    def remove(self) -> None:
        """Delete the checkpoint (rank 0) once the case has finished."""
        if self.comm.rank == 0 and self.dir.is_dir():
            for p in self.dir.iterdir():
                p.unlink(missing_ok=True)
            self.dir.rmdir()
