"""The sympy worker process: `python -m explorer.symbolic.worker`, one of the pool in explorer/symbolic_pool.py.

It reads one request a line on stdin, {"program": tree, "x": array} in the
form of explorer/wire.py, and writes one derivation a line on stdout. Before
its first line, {"ready": true, ...}, it imports sympy and numpy (never
torch), derives two small formulas so that sympy's lazy imports are done,
and caps its own address space at limits.SYMBOLIC_MEMORY_BYTES; a request
that needs more fails with MemoryError (answered as too large) or kills the
worker, which the pool replaces. A request that overruns limits.SYMBOLIC_SECONDS
is interrupted by an alarm and answered "timeout", and the worker serves the
next one. Each request also gets a CPU-time limit, a backstop for a parent
that died before it could kill us; the end of stdin (the parent closed it, or
died) ends the worker.
"""

import math
import os
import resource
import signal
import sys

from explorer.engine import limits
from explorer.engine.tree import Binary, Call, Layer, Name, Num, Program
from explorer.symbolic import wire
from explorer.symbolic.calculus import describe
from explorer.symbolic.derivation import Derivation, timed_out

_SEED = Program(
    (
        Layer("y", Binary("+", Binary("*", Num(3.0, "3"), Name("x")), Num(2.0, "2")), 1),
        Layer("z", Binary("*", Num(2.0, "2"), Binary("**", Name("y"), Num(2.0, "2"))), 2),
    )
)
_FUNCTIONS = Program((Layer("y", Call("relu", Call("sin", Binary("*", Call("abs", Name("x")), Name("x")))), 1),))


def warm_up():
    """Derive the seed and a formula with functions once: sympy imports printing, lambdify and
    Piecewise code on first use, which would otherwise land after the memory cap, in a user's time."""
    describe(_SEED, [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    describe(_FUNCTIONS, [0.5, -0.5])


def limit_memory():
    memory = limits.SYMBOLIC_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_cpu_for_one_request():
    """The kernel stops us if this request uses more CPU than its time limit and a margin."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + limits.SYMBOLIC_SECONDS) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


class OutOfTime(BaseException):
    """Raised by the alarm inside sympy's work; a BaseException, so describe's `except Exception` lets it by."""


def _out_of_time(signum, frame):
    raise OutOfTime


def answer_in_time(line):
    """answer(line), or a timeout after limits.SYMBOLIC_SECONDS: the alarm interrupts sympy between two
    Python steps, and this worker stays warm for the next request. (Work stuck in one C call ignores the
    alarm: the pool kills the worker a grace period later.)"""
    try:
        signal.setitimer(signal.ITIMER_REAL, limits.SYMBOLIC_SECONDS)
        try:
            return answer(line)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except OutOfTime:
        return timed_out()


def answer(line):
    try:
        request = wire.loads(line)
        program = wire.program_from_plain(request["program"])
        x_values = wire.array_from_plain(request["x"])
    except (ValueError, KeyError, TypeError) as error:
        return Derivation("error", f"the symbolic worker got a malformed request: {error}"[:500])
    return describe(program, x_values)


def _protocol_output():
    """The real stdout, for answers only; anything else printing to stdout goes to stderr instead."""
    output = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return output


def send(output, message):
    output.write(wire.dumps(message))
    output.flush()


def main():
    output = _protocol_output()
    signal.signal(signal.SIGALRM, _out_of_time)
    warm_up()
    limit_memory()
    send(output, {"ready": True, "torch_loaded": "torch" in sys.modules})
    for line in sys.stdin.buffer:
        limit_cpu_for_one_request()
        send(output, wire.derivation_to_plain(answer_in_time(line)))


if __name__ == "__main__":
    main()
