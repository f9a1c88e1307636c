"""The sympy workers: the JSON that crosses the pipes, a worker's own limits, the warm pool, and its fairness."""

import base64
import math
import os
import struct
import sys
import threading
import time

import numpy as np
import pytest

from explorer.engine import limits
from explorer.engine.parse import parse_layers
from explorer.engine.tree import Binary, Call, Layer, Name, Num, Program, Unary
from explorer.symbolic import client, wire
from explorer.symbolic.client import symbolic_derivation
from explorer.symbolic.pool import Outcome, Pool, Worker

SEED_X = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
FOLDING_TRAPS = [
    "y = (x+1)**(0*x+2000) + x",  # sympy folds 0*x + 2000 into an exact 2000
    "a = 0*x + 99\nb = a**a\nc = b**b",  # an integer tower, built when b is written in x
    "y = (x+1)**(0*x+50000000) + x",  # took the old worker to 1.2 GB within 2 s
]


def slow_trap(k):
    """Distinct formulas that sympy needs 10 s or more to build (the first measured 13.8 s with k = 59)."""
    return f"y = (tan(8**((x**x/(pi-sqrt(sigmoid(x))))**(-{k})))**x)**x"


def request(layers_text, x_values):
    plain_x = wire.array_to_plain(np.asarray(x_values, dtype=np.float64))
    return wire.dumps({"program": wire.program_to_plain(parse_layers(layers_text)), "x": plain_x})


def derivation_from(line):
    return wire.derivation_from_plain(wire.loads(line))


# ---------------------------------------------------------------- the wire


def test_a_program_crosses_the_wire_as_the_same_tree():
    expr = Binary("+", Unary("-", Call("sin", Binary("**", Name("x"), Num(2.0, "2")))), Name("pi"))
    program = Program((Layer("y", expr, 1), Layer("z", Binary("*", Num(0.5, "0.5"), Name("y")), 2)))
    plain = wire.loads(wire.dumps(wire.program_to_plain(program)))
    assert plain[1] == ["z", 2, ["binary", "*", ["num", 0.5, "0.5"], ["name", "y"]]]
    assert wire.program_from_plain(plain) == program


def test_leaves_and_detached_lists_cross_the_wire():
    from explorer.engine.tree import Leaf, Lit

    expr = Binary("@", Name("w"), Call("detach", Lit((1.0, 0.0), (2,))))
    program = Program((Layer("y", expr, 2),), (Leaf("w", (0.5, -1.0), (2,), 1),))
    plain = wire.loads(wire.dumps(wire.program_to_plain(program)))
    assert plain[1] == ["leaf", "w", 1, [2], [0.5, -1.0]]
    assert wire.program_from_plain(plain) == program


@pytest.mark.parametrize(
    "plain",
    [
        [["y", 1, ["name", "x"]], ["leaf", "w", 1, [2], [0.5]]],  # fewer values than the shape holds
        [["y", 1, ["name", "x"]], ["leaf", "w", 1, [-2], []]],  # not a shape
        [["y", 1, ["lit", [1], ["1"]]]],  # a list value given as text
        [["leaf", "w", 1, [], [0.5]]],  # leaves and no layer
        [["y", 1, ["call", "__import__", ["name", "x"]]]],  # not a function of the whitelist
        [["y", 1, ["binary", "//", ["name", "x"], ["name", "x"]]]],  # not an operator of the language
        [["y", 1, ["attribute", "x", "real"]]],  # not a kind of node
        [["y", 1, ["num", "1e9999", "1"]]],  # a number given as text
        [["y z", 1, ["name", "x"]]],  # not a layer name
    ],
)
def test_the_wire_refuses_what_the_whitelist_does_not_hold(plain):
    with pytest.raises(wire.WireError):
        wire.program_from_plain(plain)


def test_arrays_cross_as_little_endian_float64_bytes():
    plain = wire.array_to_plain([[1.5, -2.0]])
    assert plain == {"shape": [1, 2], "float64": base64.b64encode(struct.pack("<2d", 1.5, -2.0)).decode()}
    values = wire.array_from_plain(plain)
    assert values.shape == (1, 2) and values.tolist() == [[1.5, -2.0]] and not values.flags.writeable
    assert wire.array_from_plain(wire.array_to_plain(93.0)).shape == ()


# ---------------------------------------------------------------- one worker, on its own


def _proc(pid, name):
    with open(f"/proc/{pid}/{name}") as file:
        return file.read()


def address_space_limit(pid):
    line = next(line for line in _proc(pid, "limits").splitlines() if line.startswith("Max address space"))
    return int(line.split()[3])  # the soft limit, in bytes


def peak_address_space(pid):
    line = next(line for line in _proc(pid, "status").splitlines() if line.startswith("VmPeak:"))
    return int(line.split()[1]) * 1024


def cpu_seconds(pid):
    fields = _proc(pid, "stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.fixture(scope="module")
def worker():
    worker = Worker()
    ready = worker.read_line(60)
    assert ready is not None, "the worker was not ready within 60 s"
    worker.ready = wire.loads(ready)
    yield worker
    worker.kill()


def test_worker_is_torch_free(worker):
    assert worker.ready == {"ready": True, "torch_loaded": False}
    derivation = derivation_from(worker.ask(request("y = relu(sin(x))*abs(x)", SEED_X), 30))
    assert derivation.status == "ok"
    assert "libtorch" not in _proc(worker.pid, "maps")  # torch not loaded since, either


def test_worker_answers_the_seed_with_values_shaped_like_x(worker):
    derivation = derivation_from(worker.ask(request(SEED_LAYERS, SEED_X), 30))
    assert derivation.layers[1].derivative == r"12 \left(3 x + 2\right)"
    assert derivation.reductions["mean"].values.tolist() == [[10.0, 16.0, 22.0], [22.0, 16.0, 10.0]]
    assert derivation.reductions["sum"].values.shape == (2, 3)


def test_worker_caps_its_own_address_space(worker):
    assert address_space_limit(worker.pid) == limits.SYMBOLIC_MEMORY_BYTES <= 300_000_000


@pytest.mark.parametrize("layers", FOLDING_TRAPS)
def test_folding_traps_are_refused_at_once_and_within_the_memory_cap(worker, layers):
    before = cpu_seconds(worker.pid)
    derivation = derivation_from(worker.ask(request(layers, SEED_X), 30))
    assert derivation.status == "too_large" and "too large to show symbolically" in derivation.message
    assert cpu_seconds(worker.pid) - before < 0.5
    assert peak_address_space(worker.pid) <= limits.SYMBOLIC_MEMORY_BYTES
    assert worker.process.poll() is None  # still serving


def test_a_malformed_request_is_an_error_answer(worker):
    line = wire.dumps({"program": [["y", 1, ["call", "eval", ["name", "x"]]]], "x": wire.array_to_plain(1.0)})
    derivation = derivation_from(worker.ask(line, 30))
    assert derivation.status == "error" and "malformed" in derivation.message
    assert worker.process.poll() is None


def test_a_slow_formula_is_interrupted_and_the_worker_serves_the_next(worker):
    derivation = derivation_from(worker.ask(request(slow_trap(59), 1.0), limits.SYMBOLIC_SECONDS + 30))
    assert derivation.status == "timeout" and "more than 2 s" in derivation.message
    assert derivation_from(worker.ask(request("y = x**3", 2.0), 30)).reductions["sum"].values == 12.0


# ---------------------------------------------------------------- the shared pool, through symbolic_derivation


@pytest.mark.slow  # over 5 s (--durations)
def test_values_are_read_only_arrays_shaped_like_x():
    derivation = symbolic_derivation(parse_layers(SEED_LAYERS), np.array(SEED_X), owner="test-shape")
    mean = derivation.reductions["mean"].values
    assert isinstance(mean, np.ndarray) and mean.shape == (2, 3) and not mean.flags.writeable
    assert np.ravel(mean)[4] == 16.0  # 2(3·2 + 2)
    scalar = symbolic_derivation(parse_layers("y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1"), 2.0, owner="test-shape")
    assert scalar.reductions["sum"].values.shape == () and np.ravel(scalar.reductions["sum"].values)[0] == 93.0


def test_warm_up_fills_the_pool_in_the_background():
    client._POOL.warm_up()
    deadline = time.monotonic() + 120
    while len(client._POOL._idle) + client._POOL._busy < limits.SYMBOLIC_WORKERS:
        assert time.monotonic() < deadline, "the pool did not fill within 120 s"
        time.sleep(0.05)


def test_a_victim_is_served_while_two_sessions_send_traps():
    """Two attackers loop distinct slow formulas; the victim's derivations still come back ok."""
    client._POOL.warm_up()
    stop, attacks = threading.Event(), {"a1": [], "a2": []}

    def attack(owner, k):
        while not stop.is_set():
            attacks[owner].append(symbolic_derivation(parse_layers(slow_trap(k)), SEED_X, owner=owner).status)
            k += 1

    attackers = [threading.Thread(target=attack, args=(owner, k)) for owner, k in (("a1", 20), ("a2", 60))]
    for thread in attackers:
        thread.start()
    try:
        time.sleep(1.0)  # both attackers hold a worker
        latencies = []
        for _ in range(3):
            started = time.monotonic()
            derivation = symbolic_derivation(parse_layers("k = 0*x + 3\ny = sin(x)*k"), SEED_X, owner="victim")
            latencies.append(time.monotonic() - started)
            assert derivation.status == "ok", derivation.message
            hand = [[3 * math.cos(value) for value in row] for row in SEED_X]
            np.testing.assert_allclose(derivation.reductions["sum"].values, hand, rtol=1e-12)
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    print(f"victim latencies under attack: {', '.join(f'{s:.2f} s' for s in latencies)}")
    assert max(latencies) < 6  # the target is 2.5 s; the machine is shared
    assert "timeout" in attacks["a1"] + attacks["a2"]  # the attack was real


# ---------------------------------------------------------------- the pool's turns and failures, with stand-ins


class FakeWorker:
    """A worker in this process: `ask` records the request and waits until the test lets it answer."""

    served = []  # requests, in the order workers took them
    release = threading.Event()

    def __init__(self):
        self.pid = 0

    def read_line(self, seconds):
        return b'{"ready":true}'

    def ask(self, request, seconds):
        FakeWorker.served.append(request)
        FakeWorker.release.wait(10)
        return b"answer"

    def kill(self):
        pass

    def close(self):
        pass


def wait_until(condition):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_owners_take_turns_rather_than_first_come_first_served():
    FakeWorker.served, FakeWorker.release = [], threading.Event()
    pool = Pool(1, 10, start=FakeWorker)
    threads = []

    def arrived():
        return len(FakeWorker.served) + sum(map(len, pool._waiting.values())) == len(threads)

    # a1 holds the one worker; then a2, a3 (a again), b1 and c1 queue, in this order
    for owner, name in (("a", b"a1"), ("a", b"a2"), ("a", b"a3"), ("b", b"b1"), ("c", b"c1")):
        thread = threading.Thread(target=pool.run, args=(owner, name, 10, 10))
        thread.start()
        threads.append(thread)
        wait_until(arrived)
    FakeWorker.release.set()
    for thread in threads:
        thread.join()
    assert FakeWorker.served == [b"a1", b"a2", b"b1", b"c1", b"a3"]  # first come first served: a1 a2 a3 b1 c1


@pytest.mark.slow  # over 5 s (--durations)
def test_an_owner_runs_one_job_at_a_time_even_with_idle_workers():
    FakeWorker.served, FakeWorker.release = [], threading.Event()
    pool = Pool(2, 10, start=FakeWorker)
    pool.warm_up()
    wait_until(lambda: len(pool._idle) == 2)
    threads = [threading.Thread(target=pool.run, args=("a", name, 10, 10)) for name in (b"a1", b"a2")]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(FakeWorker.served) == 1 and sum(map(len, pool._waiting.values())) == 1)
    time.sleep(0.2)
    assert len(FakeWorker.served) == 1 and len(pool._idle) == 1  # a2 waits although a worker is idle
    FakeWorker.release.set()
    for thread in threads:
        thread.join()
    assert FakeWorker.served == [b"a1", b"a2"]


def test_a_job_that_finds_no_worker_in_time_is_busy():
    FakeWorker.served, FakeWorker.release = [], threading.Event()
    pool = Pool(1, 10, start=FakeWorker)
    holder = threading.Thread(target=pool.run, args=("a", b"a1", 10, 10))
    holder.start()
    wait_until(lambda: FakeWorker.served == [b"a1"])
    assert pool.run("b", b"b1", 10, 0.2) == Outcome("busy")
    FakeWorker.release.set()
    holder.join()
    assert not pool._waiting and not pool._turns


def stand_in(script):
    """A real worker process running `script` after it says it is ready."""
    ready = "import sys; sys.stdout.write('{\"ready\":true}\\n'); sys.stdout.flush(); "
    return lambda: Worker((sys.executable, "-c", ready + script))


def test_a_worker_that_never_answers_is_killed_and_replaced():
    workers = []
    start = stand_in("import time\nif sys.stdin.readline(): time.sleep(60)")
    pool = Pool(1, 30, start=lambda: workers.append(start()) or workers[-1])
    assert pool.run("a", b"{}\n", 0.5, 30) == Outcome("timeout")
    assert workers[0].process.poll() is not None  # killed
    wait_until(lambda: len(pool._idle) == 1 and pool._idle[0] is not workers[0])
    pool.close()


def test_a_worker_that_dies_without_answering_is_replaced():
    pool = Pool(1, 30, start=stand_in("sys.stdin.readline(); sys.exit(3)"))
    outcome = pool.run("a", b"{}\n", 10, 30)
    assert outcome.kind == "died" and "exit code" in outcome.reason
    wait_until(lambda: len(pool._idle) == 1)
    pool.close()


def test_a_worker_that_cannot_start_fails_fast():
    pool = Pool(1, 30, start=_never_ready)
    started = time.monotonic()
    outcome = pool.run("a", b"{}\n", 10, 30)
    assert outcome.kind == "failed" and "could not start" in outcome.reason
    assert time.monotonic() - started < 30  # not the whole wait for a worker


def _never_ready():
    raise OSError("no such program")


def test_idle_workers_exit_after_a_while_and_come_back_for_the_next_job():
    FakeWorker.served, FakeWorker.release = [], threading.Event()
    FakeWorker.release.set()
    pool = Pool(2, 10, start=FakeWorker, idle_seconds=0.4)
    assert pool.run("a", b"a1", 10, 10) == Outcome("answer", b"answer")
    assert pool.workers == 2
    wait_until(lambda: pool.workers == 0)  # nobody asked for 0.4 s: the memory goes back
    assert pool.run("b", b"b1", 10, 10) == Outcome("answer", b"answer")
    assert FakeWorker.served == [b"a1", b"b1"]


def test_a_closed_worker_is_waited_for_not_left_a_zombie():
    worker = Worker()
    assert worker.read_line(60) is not None, "the worker was not ready within 60 s"
    worker.close()
    assert worker.process.returncode == 0, "it exited on end of input, and was reaped"
