"""The symbolic derivation, computed in a bounded worker process: the server never runs sympy itself.

`symbolic_derivation` sends the tree, as JSON, to one of a few warm worker
processes (`python -m explorer.symbolic.worker`, see explorer.symbolic.pool):
sympy and numpy only, an address space capped at limits.SYMBOLIC_MEMORY_BYTES,
an alarm at limits.SYMBOLIC_SECONDS, and a kill a grace period later. Each
session runs one derivation at a time, and sessions take turns.
"""

import numpy as np

from explorer.engine import limits
from explorer.symbolic import wire
from explorer.symbolic.derivation import Derivation, timed_out
from explorer.symbolic.pool import Pool

_POOL = Pool(limits.SYMBOLIC_WORKERS, limits.SYMBOLIC_START_SECONDS, idle_seconds=limits.SYMBOLIC_IDLE_SECONDS)


def _float64(x_values):
    """x as a float64 numpy array (0-d for a number), the only form of x that crosses to the worker."""
    if hasattr(x_values, "detach"):
        x_values = x_values.detach().cpu().double().numpy()
    return np.asarray(x_values, dtype=np.float64)


def symbolic_derivation(program, x_values, owner=None):
    """describe(program, x_values), computed in a worker process limited to limits.SYMBOLIC_SECONDS and
    limits.SYMBOLIC_MEMORY_BYTES. x_values: a tensor, an array, nested lists or a number. `owner` (a
    session id) runs one derivation at a time and takes turns with other owners; every caller that
    passes None shares one turn. Never raises, never hangs: every status but "busy" depends on the
    formula and x alone (and, near the time limit, on the machine's load), so it may be cached."""
    try:
        request = {"program": wire.program_to_plain(program), "x": wire.array_to_plain(_float64(x_values))}
        seconds = limits.SYMBOLIC_SECONDS + limits.SYMBOLIC_KILL_GRACE_SECONDS
        outcome = _POOL.run(owner, wire.dumps(request), seconds, limits.SYMBOLIC_QUEUE_SECONDS)
        return _derivation(outcome)
    except Exception as error:  # starting a process can fail (no memory, too many processes)
        return Derivation("error", f"the symbolic worker could not run: {type(error).__name__}: {error}"[:500])


def _derivation(outcome):
    if outcome.kind == "answer":
        return wire.derivation_from_plain(wire.loads(outcome.line))
    if outcome.kind == "timeout":  # the worker did not stop itself, and was killed
        return timed_out()
    if outcome.kind == "died":  # its memory cap, most likely: a MemoryError it could not even answer
        return Derivation("too_large", "too large to show symbolically: sympy ran out of its memory budget")
    if outcome.kind == "busy":
        seconds = limits.SYMBOLIC_QUEUE_SECONDS
        return Derivation("busy", f"every symbolic worker stayed busy for {seconds:g} s; try again")
    return Derivation("error", outcome.reason or "the symbolic worker could not run")
