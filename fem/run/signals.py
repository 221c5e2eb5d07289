"""Stopping on a signal: SIGTERM (Slurm at the time limit or on preemption) and SIGINT (Ctrl-C).

``mtz run``, ``mtz study``, ``mtz calibrate`` and ``mtz plan`` install :func:`catch_stop`: the
first signal only records that a stop was asked for. The time loops ask at the end of every
step (:meth:`fem.run.checkpoint.Checkpointer.after_step`), the case's phases between one phase
and the next (:func:`fem.run.driver.CaseRun.stop_point`); the ranks agree on it with one
reduction, so every rank stops after the same step. Then the state is checkpointed, one line
says where, and :class:`Interrupted` unwinds every rank together: the command exits with 128 +
the signal's number (143 for SIGTERM, 130 for SIGINT), with no file half written (the files of a
result are written whole, by a rename) and ``metrics.json`` absent (the case is not finished).
``--resume`` continues from the checkpoint. A second signal ends the process at once.

``mpiexec`` (MPICH's Hydra) forwards SIGTERM and SIGINT to every rank and exits with the ranks'
status; Slurm's ``--signal=TERM@SECONDS`` (the scripts of :mod:`fem.run.slurm`) sends it early
enough for the step and the checkpoint to finish.
"""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager

from mpi4py import MPI

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_pending: list[int] = []  # signals received and not yet acted on (this process)
_active: list[bool] = []  # inside catch_stop


class Interrupted(Exception):
    """A signal asked the run to stop; raised on every rank of the run together."""

    def __init__(self, signum: int, where: str):
        self.signum, self.where = signum, where
        super().__init__(f"{signal.Signals(signum).name}: {where}")

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it."""
        return 128 + self.signum


def _record(signum, frame) -> None:
    if _pending:  # the second signal: stop now
        signal.signal(signum, signal.SIG_DFL)
        raise KeyboardInterrupt
    _pending.append(signum)


@contextmanager
def catch_stop():
    """Within the block SIGTERM and SIGINT are recorded, to be acted on at the next safe point;
    the previous handlers come back after it. PETSc is initialised first: it installs a
    handler of its own that would end the process at once."""
    from petsc4py import PETSc  # noqa: F401 - initialises PETSc (and its signal handlers)

    if _main_thread():
        previous = {s: signal.signal(s, _record) for s in SIGNALS}
    else:  # signal handlers can only be set from the main thread
        previous = {}
    _active.append(True)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending.clear()
        _active.pop()


def reinstall() -> None:
    """Set the handlers again inside :func:`catch_stop` (after a library, gmsh, replaced them
    at the C level, where Python does not see it)."""
    if _active and _main_thread():
        for s in SIGNALS:
            signal.signal(s, _record)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def pending() -> int:
    """The signal that asked this process to stop (0: none)."""
    return _pending[0] if _pending else 0


def requested(comm: MPI.Comm) -> int:
    """The signal that asked the run to stop on any rank of ``comm`` (0: none); collective."""
    return comm.allreduce(pending(), op=MPI.MAX)


def request(signum: int = signal.SIGTERM) -> None:
    """Ask for a stop as a signal would (tests, and a caller that wants the run to stop)."""
    if not _pending:
        _pending.append(signum)


def stop(comm: MPI.Comm, signum: int, where: str) -> None:
    """Say where the run stopped (rank 0, one line) and raise :class:`Interrupted`."""
    if comm.rank == 0:
        log.warning("%s: %s; continue with --resume", signal.Signals(signum).name, where)
    raise Interrupted(signum, where)
