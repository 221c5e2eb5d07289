"""Work and failure across MPI ranks: one mechanism for the whole package.

* :func:`on_root` runs a piece of rank-0 work (result files, a report, gmsh) and hands its
  result, or its error, to every rank of the communicator: no rank returns before the work
  is done, and a failure on rank 0 is raised on every rank instead of leaving the others
  waiting in their next collective call.
* Errors that every rank sees (bad input, a solver that did not converge, the error of
  :func:`on_root`) are handled by the ranks together. Any other error may be raised on one
  rank only, while the others wait in a collective call for ever (on a cluster that burns the
  allocation): :func:`abort_on_error` reports it with the rank and ends every rank of the run
  with status 1 (``MPI_Abort``, the last resort: the only call that reaches a rank blocked in
  a collective). :func:`failed_together` tells, after an error caught on one rank, whether the
  other ranks of a group failed as well (then the group can go on, e.g. a study marks the
  case failed) or are still waiting (then only an abort ends the run).
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from typing import TypeVar

from mpi4py import MPI

log = logging.getLogger(__name__)

T = TypeVar("T")

EXIT_FAILURE = 1
#: Seconds the ranks of a group are given to reach the handler of an error they share.
AGREE_SECONDS = 10.0


def on_root(comm: MPI.Comm, work: Callable[[], T]) -> T:
    """Run ``work()`` on rank 0 of ``comm`` and return its result on every rank once it is
    done, or raise its error on every rank.

    Without this the other ranks would return while rank 0 is still writing (a caller on
    rank 1 would not find ``metrics.json`` yet) or would hang in the next collective call
    when rank 0 fails.
    """
    result = None
    if comm.rank == 0:
        try:
            result = work()
        except Exception as exc:  # noqa: BLE001 - raised below, after telling every rank
            result = exc
    result = comm.bcast(result, root=0)
    if isinstance(result, Exception):
        raise result
    return result


def report_error(exc: BaseException, comm: MPI.Comm = MPI.COMM_WORLD,
                 what: str = "internal error") -> None:
    """Print ``mtz: <what> on rank r of n: Type: message`` and the traceback to stderr (on the
    rank that failed: the others may never get to print)."""
    where = f" on rank {comm.rank} of {comm.size}" if comm.size > 1 else ""
    text = "".join(traceback.format_exception(exc)).rstrip()
    sys.stderr.write(f"mtz: {what}{where}: {type(exc).__name__}: {exc}\n{text}\n")
    sys.stderr.flush()


def abort(comm: MPI.Comm = MPI.COMM_WORLD, code: int = EXIT_FAILURE) -> None:
    """End every rank of the run with ``code`` (returns only on one rank, which then exits)."""
    if comm.size > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        comm.Abort(code)
    raise SystemExit(code)


def abort_on_error(comm: MPI.Comm, work: Callable[[], int],
                   handled: tuple[type[BaseException], ...] = ()) -> int:
    """``work()``, whose errors of the types ``handled`` (those every rank raises together)
    pass through; any other :class:`Exception` is reported with its rank and ends the run with
    status 1: returned on one rank, ``MPI_Abort`` on several (the other ranks may be blocked
    in a collective call, and only an abort frees them).

    Used around a verb of the command line.
    """
    try:
        return work()
    except handled:
        raise
    except Exception as exc:  # noqa: BLE001 - every other error ends the run
        report_error(exc, comm)
        if comm.size > 1:
            abort(comm)
        return EXIT_FAILURE


def failed_together(comm: MPI.Comm, guard: MPI.Comm, seconds: float = AGREE_SECONDS) -> bool:
    """After an error caught on this rank of ``comm``: whether every rank of ``comm`` has
    caught one too (within ``seconds``), as for an error raised together.

    ``guard`` is a duplicate of ``comm`` made before the work began (``comm.Dup()``), kept for
    this alone, so that the barrier cannot meet a collective call of the work that another
    rank is still blocked in.
    """
    if comm.size == 1:
        return True
    request = guard.Ibarrier()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if request.Test():
            return True
        time.sleep(0.01)
    return False
