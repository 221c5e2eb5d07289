"""Checkpoint and restart of the transient heat + damage loop (``mtz run --resume``).

The state after a time step is what the problems of the loop hand over (their ``state()``,
:class:`fem.physics.state.State`): the heat problem its temperature, energy ledger, CG
iterations and the latent heat left where tissue water boils; each damage integral its
accumulated Omega; the loop's history its running peak and end-of-pulse temperatures, the
animation frames kept so far, the probe history, the mechanics rows and the timings. The
checkpoint stores them by problem and field, and hands each problem its state back
(``restore()``). Restarting from it repeats the same arithmetic as an uninterrupted run: the
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

import dolfinx.fem as dfem
import numpy as np

from fem.config import CaseError
from fem.output import names
from fem.parallel import on_root
from fem.physics.state import State, Stateful
from fem.run import signals

log = logging.getLogger(__name__)

FORMAT_VERSION = 3


def case_fingerprint(resolved: dict) -> str:
    """A hash of the resolved case (what makes a checkpoint belong to it), but for what does
    not change the solution (``solver.energy_checks``: a run stopped by its energy checks
    resumes to be kept)."""
    solver = {k: v for k, v in resolved.get("solver", {}).items() if k != "energy_checks"}
    text = json.dumps({**resolved, "solver": solver}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def node_keys(V: dfem.FunctionSpace) -> np.ndarray:
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


def _by_coordinates(f: dfem.Function) -> tuple[np.ndarray, np.ndarray]:
    """The owned dofs of a field on a space other than the temperature's (the displacement of
    any degree): their coordinates and values, ``(n, 3)`` and ``(n, block size)``."""
    V = f.function_space
    n, bs = V.dofmap.index_map.size_local, V.dofmap.index_map_bs
    return V.tabulate_dof_coordinates()[:n].copy(), f.x.array[:n * bs].reshape(n, bs).copy()


def set_by_coordinates(f: dfem.Function, saved: tuple[np.ndarray, np.ndarray]) -> None:
    """Set the owned dofs of ``f`` from what :func:`_by_coordinates` saved (on any partition:
    each dof is found by its coordinates, within a billionth of the mesh size), and update
    the ghosts."""
    from scipy.spatial import cKDTree

    coords, values = saved
    V = f.function_space
    n, bs = V.dofmap.index_map.size_local, V.dofmap.index_map_bs
    mine = V.tabulate_dof_coordinates()[:n]
    scale = float(np.ptp(coords, axis=0).max()) if len(coords) else 1.0
    dist, at = cKDTree(coords).query(mine)
    if np.any(dist > 1e-9 * scale):
        raise CaseError("checkpoint: a saved field was written on another mesh")
    f.x.array[:n * bs] = values[at].ravel()
    f.x.scatter_forward()


def _space(states: dict[str, State]) -> dfem.FunctionSpace:
    """The (shared) temperature space of the problems' fields (the heat problem's, first)."""
    for s in states.values():
        for f in s.fields.values():
            return f.function_space
    raise ValueError("no field to checkpoint")


class Checkpointer:
    """Saves the problems' state every ``every_steps`` steps (or ``every_seconds`` of wall
    time) and restores it on ``resume``.

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
                 every_seconds: float = 60.0, resume: bool = False,
                 state_file: str = names.CHECKPOINT_STATE):
        self.dir = Path(out) / names.CHECKPOINT_DIR
        self.path = Path(out) / state_file
        self.fingerprint = case_fingerprint(resolved)
        self.comm, self.every_steps, self.every_seconds = comm, every_steps, every_seconds
        self.resume = resume
        self._last = time.perf_counter()
        self._keys: np.ndarray | None = None
        self.problems: dict[str, Stateful] | None = None  # those of the loop, once it ran
        self.n_steps = 0
        self.saved = -1  # the step of the last checkpoint written

    def _node_keys(self, V: dfem.FunctionSpace) -> np.ndarray:
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

    def after_step(self, n: int, n_steps: int, problems: dict[str, Stateful]) -> None:
        """Called by the time loop after step ``n`` of ``n_steps``: save when due, and when a
        signal asked the run to stop (on any rank: collective), save and stop
        (:class:`fem.run.signals.Interrupted` on every rank)."""
        self.problems, self.n_steps = problems, n_steps
        signum = signals.requested(self.comm)
        if signum:
            self.save(n, problems)
            signals.stop(self.comm, signum, f"checkpoint written after step {n} of {n_steps} "
                         f"in {self.path}")
        if self.due(n, n_steps):
            self.save(n, problems)

    def stop_saving(self) -> bool:
        """Save the state of the loop's last step unless it is on disk already (a stop between
        phases: ``--resume`` then skips the loop); whether there is one (collective)."""
        if self.problems is None:
            return False
        if self.saved != self.n_steps:
            self.save(self.n_steps, self.problems)
        return True

    def save(self, n: int, problems: dict[str, Stateful]) -> None:
        """Write the state of the problems after step ``n`` (collective; rank 0 writes)."""
        states = {name: p.state() for name, p in problems.items()}
        V = _space(states)
        n_owned = V.dofmap.index_map.size_local
        columns = [(name, field, f) for name, s in states.items() for field, f in s.fields.items()
                   if f.function_space == V]
        others = [(name, field, f) for name, s in states.items() for field, f in s.fields.items()
                  if f.function_space != V]
        local = (self._node_keys(V), np.stack([f.x.array[:n_owned] for *_, f in columns], axis=1),
                 [_by_coordinates(f) for *_, f in others])
        pieces = self.comm.gather(local, root=0)

        def write() -> None:  # rank 0; its error (a full disk) is raised on every rank
            keys = np.concatenate([k for k, _, _ in pieces])
            values = np.concatenate([v for _, v, _ in pieces])
            order = np.argsort(keys)
            meta = {
                "format": FORMAT_VERSION,
                "case": self.fingerprint,
                "step": n,
                "ranks": self.comm.size,
                "columns": [[name, field] for name, field, _ in columns],
                "other_fields": [[name, field] for name, field, _ in others],
                "values": {name: s.values for name, s in states.items()},
                "arrays": {name: list(s.arrays) for name, s in states.items()},
            }
            arrays = {f"{name}.{key}": a for name, s in states.items()
                      for key, a in s.arrays.items()}
            for i, (name, field, _) in enumerate(others):
                arrays[f"field.{name}.{field}.x"] = np.concatenate([p[2][i][0] for p in pieces])
                arrays[f"field.{name}.{field}.v"] = np.concatenate([p[2][i][1] for p in pieces])
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / (self.path.name + ".tmp")
            try:
                with open(tmp, "wb") as f:
                    np.savez(f, keys=keys[order], values=values[order],
                             meta=np.array(json.dumps(meta)), **arrays)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        on_root(self.comm, write)
        self._last = time.perf_counter()
        self.saved = n
        log.debug("checkpoint after step %d", n)

    # ---------------------------------------------------------------------------- restoring

    def restore(self, problems: dict[str, Stateful], n_steps: int) -> int:
        """Hand each problem its saved state; returns the steps already done (0 when not
        resuming or when there is no checkpoint)."""
        if not self.resume:
            return 0
        exists = self.comm.bcast(self.path.is_file() if self.comm.rank == 0 else None, root=0)
        if not exists:
            log.info("resume: no checkpoint in %s, starting from the beginning", self.dir)
            return 0
        with np.load(self.path) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("case") != self.fingerprint:
                raise CaseError(f"{self.path}: the checkpoint belongs to a different case "
                                "(the case file changed); remove the checkpoint or run without "
                                "--resume")
            if meta.get("format") != FORMAT_VERSION:
                raise CaseError(f"{self.path}: a checkpoint of another version of MTZ-FEM "
                                f"(format {meta.get('format')}, this one reads "
                                f"{FORMAT_VERSION}); remove it or run without --resume")
            keys, values = z["keys"], z["values"]
            arrays = {name: {key: z[f"{name}.{key}"] for key in listed}
                      for name, listed in meta["arrays"].items()}
            other = {(name, field): (z[f"field.{name}.{field}.x"], z[f"field.{name}.{field}.v"])
                     for name, field in meta.get("other_fields", [])}
        live = {name: p.state() for name, p in problems.items()}
        saved, held = {}, {}
        for i, (name, field) in enumerate(meta["columns"]):
            saved.setdefault(name, {})[field] = i
        for name, field in meta.get("other_fields", []):
            held.setdefault(name, set()).add(field)
        if meta["step"] > n_steps or set(meta["values"]) != set(problems) or any(
                not set(s.fields) <= set(saved.get(name, {})) | held.get(name, set())
                for name, s in live.items()):
            raise CaseError(f"{self.path}: the checkpoint does not match the time steps or "
                            "damage kinetics of the case")
        mine = self._node_keys(_space(live))
        at = np.searchsorted(keys, mine)
        if np.any(at >= keys.size) or np.any(keys[np.minimum(at, keys.size - 1)] != mine):
            raise CaseError(f"{self.path}: the checkpoint was written on another mesh")
        for name, problem in problems.items():
            fields = {field: values[at, i] for field, i in saved.get(name, {}).items()}
            fields.update({field: saved_field for (owner, field), saved_field in other.items()
                           if owner == name})
            problem.restore(State(fields, meta["values"][name], arrays[name]))
        log.info("resume: continuing after step %d of %d (checkpoint written on %d rank(s))",
                 meta["step"], n_steps, meta["ranks"])
        self.problems, self.n_steps, self.saved = problems, n_steps, meta["step"]
        return meta["step"]

    def finished(self, n_steps: int, problems: dict[str, Stateful]) -> None:
        """Save the state at the end of the loop (a later stage may still be interrupted:
        its resume then skips this loop)."""
        self.save(n_steps, problems)

    def remove(self) -> None:
        """Delete the checkpoint (rank 0) once the case has finished."""
        if self.comm.rank == 0 and self.dir.is_dir():
            for p in self.dir.iterdir():
                p.unlink(missing_ok=True)
            self.dir.rmdir()
