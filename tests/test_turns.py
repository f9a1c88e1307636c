"""Turns: small reruns run one at a time, in arrival order; waits and heavy work give the turn up."""

import threading
import time
from contextlib import contextmanager

from explorer.engine import limits
from explorer.engine.cost import exploration_cost
from explorer.serving import facade
from explorer.serving.cache import BytesBoundedCache
from explorer.serving.turns import TURNS, Turns


def holder(turns, ready, release, log, name):
    """A rerun that takes a turn, says it has it, and keeps it until `release` is set."""
    with turns.turn():
        log.append(f"{name} runs")
        ready.set()
        release.wait(5)
    log.append(f"{name} done")


@contextmanager
def held(turns, log, name="small"):
    """A rerun that holds a turn for the with-block; it gives it up and has ended after."""
    ready, release = threading.Event(), threading.Event()
    thread = started(holder, turns, ready, release, log, name)
    ready.wait(5)
    try:
        yield thread
    finally:
        release.set()
        thread.join(5)


def started(target, *args):
    thread = threading.Thread(target=target, args=args)
    thread.start()
    return thread


def wait_until(condition, seconds=5.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_one_at_a_time_in_arrival_order():
    turns, log = Turns(wait_seconds=5), []
    first_ready, release_first = threading.Event(), threading.Event()
    first = started(holder, turns, first_ready, release_first, log, "first")
    first_ready.wait(5)
    releases = [threading.Event() for _ in range(4)]
    waiting = []
    for index, release in enumerate(releases):  # they line up one by one, in this order
        waiting.append(started(holder, turns, threading.Event(), release, log, f"w{index}"))
        wait_until(lambda n=index + 1: turns.waiting == n)
        release.set()  # each will finish as soon as it runs
    assert log == ["first runs"], "nobody runs beside the turn's holder"
    release_first.set()
    for thread in [first, *waiting]:
        thread.join(5)
    runs = [entry for entry in log if entry.endswith("runs")]
    assert runs == ["first runs", "w0 runs", "w1 runs", "w2 runs", "w3 runs"]
    assert log.index("first done") < log.index("w0 runs") < log.index("w0 done") < log.index("w1 runs")
    assert turns.late == 0 and turns.waiting == 0


def test_a_rerun_that_steps_aside_lets_the_next_one_run():
    turns, log = Turns(wait_seconds=5), []
    aside, release = threading.Event(), threading.Event()

    def heavy():
        with turns.turn():
            turns.step_aside()
            assert not turns.holds()
            aside.set()
            release.wait(5)  # the heavy work, sharing the CPU
            log.append("heavy done")

    thread = started(heavy)
    aside.wait(5)
    begin = time.monotonic()
    with turns.turn():
        log.append("small runs")
    assert time.monotonic() - begin < 0.5
    release.set()
    thread.join(5)
    assert log == ["small runs", "heavy done"]


def test_a_wait_gives_the_turn_up_and_takes_a_new_one_after():
    turns, log = Turns(wait_seconds=5), []
    waiting, release = threading.Event(), threading.Event()

    def waiter():
        with turns.turn():
            with turns.aside():
                assert not turns.holds()
                waiting.set()
                release.wait(5)  # another process's work, say
            assert turns.holds(), "back in turn after the wait"
            log.append("waiter resumes")

    thread = started(waiter)
    waiting.wait(5)
    with turns.turn():
        log.append("other runs")
        release.set()
        time.sleep(0.05)  # the waiter is done waiting, but must queue behind this turn
        log.append("other done")
    thread.join(5)
    assert log == ["other runs", "other done", "waiter resumes"]


def test_aside_outside_a_turn_changes_nothing():
    turns = Turns(wait_seconds=5)
    with turns.aside():
        assert not turns.holds()
    assert not turns.holds() and turns.waiting == 0


def test_an_exception_gives_the_turn_back():
    turns = Turns(wait_seconds=5)
    try:
        with turns.turn():
            raise KeyError("a rerun stopped by Streamlit")
    except KeyError:
        pass
    assert not turns.holds()
    log, release = [], threading.Event()
    release.set()
    begin = time.monotonic()
    started(holder, turns, threading.Event(), release, log, "next").join(5)
    assert log == ["next runs", "next done"] and time.monotonic() - begin < 0.5


def test_a_turn_inside_a_turn_is_the_same_turn():
    turns, log, release = Turns(wait_seconds=5), [], threading.Event()
    release.set()
    begin = time.monotonic()
    with turns.turn():
        with turns.turn():  # a fragment drawn by the page's full run takes no second turn
            assert turns.holds()
        assert turns.holds(), "the inner block gives the outer turn up with it"
        later = started(holder, turns, threading.Event(), release, log, "later")
        time.sleep(0.1)
        assert log == [], "a rerun that arrived later waits for the outer block"
    later.join(5)
    assert log == ["later runs", "later done"] and turns.late == 0 and time.monotonic() - begin < 1.0


def test_a_turn_held_too_long_is_waited_for_no_longer_than_the_limit():
    turns, log = Turns(wait_seconds=0.2), []
    with held(turns, log, "stuck"):
        begin = time.monotonic()
        with turns.turn():
            waited = time.monotonic() - begin
            assert not turns.holds(), "it runs anyway, beside the holder"
    assert 0.15 <= waited < 1.0 and turns.late == 1


def small_enough(elements, operations):
    return exploration_cost(elements, elements * operations).small


def test_what_is_small_enough_for_a_turn():
    """One meaning of small for turns and admission alike: within the turn's elements and operations, and within
    admission control's small lane in bytes."""
    assert small_enough(6, 4)  # the seed
    assert small_enough(limits.TURN_MAX_ELEMENTS, 20)
    assert not small_enough(limits.TURN_MAX_ELEMENTS + 1, 1)
    assert not small_enough(1, limits.TURN_MAX_OPERATIONS + 1)  # 12 layers of deep sin chains on a scalar
    assert not small_enough(limits.TURN_MAX_ELEMENTS, limits.TURN_MAX_OPERATIONS)  # ~6.4 MB: over the small lane


def test_large_explorations_give_the_turn_up_and_small_ones_keep_it():
    deep = "\n".join(f"y{i} = " + "sin(" * 9 + ("x" if i == 0 else f"y{i - 1}") + ")" * 9 for i in range(8))
    with TURNS.turn():
        facade.explore("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2")
        assert TURNS.holds()
        facade.explore("0.25", deep)  # 72 operations on one element: a graph of 72 nodes to draw
        assert not TURNS.holds()
    with TURNS.turn():
        facade.explore(str([i / 7 for i in range(limits.TURN_MAX_ELEMENTS + 1)]), "y = 3*x")
        assert not TURNS.holds()


def test_waiting_for_another_sessions_computation_gives_the_turn_up():
    """A computes an input and waits on a worker (turn given up); B, in turn, asks for the same input and waits
    for A; A, done waiting, needs a turn again to finish. Without B giving its turn up, the two would wait for
    each other until the turn's time limit."""
    cache, worker_done, answers = BytesBoundedCache(10**6), threading.Event(), []

    def compute():
        with TURNS.aside():
            worker_done.wait(5)
        assert TURNS.holds()
        return 42

    def session(name):
        with TURNS.turn():
            answers.append((name, cache.get("key", compute)))

    late_before = TURNS.late
    first = started(session, "A")
    wait_until(lambda: "key" in cache._running)
    second = started(session, "B")
    time.sleep(0.1)  # B is waiting for A's computation
    begin = time.monotonic()
    worker_done.set()
    first.join(5)
    second.join(5)
    assert sorted(answers) == [("A", 42), ("B", 42)]
    assert time.monotonic() - begin < 1.0 and TURNS.late == late_before


def test_an_exploration_admission_counts_as_heavy_gives_the_turn_up():
    """Within the turn's size (2,000 elements, 40 operations) but over admission control's small lane (~5 MB):
    it may wait in the heavy queue, and must not hold every small rerun's turn while it does."""
    layers = "\n".join(f"y{i} = " + "sin(" * 4 + ("x" if i == 0 else f"y{i - 1}") + ")" * 4 for i in range(10))
    x_text = str([i / 2000 for i in range(limits.TURN_MAX_ELEMENTS)])
    with TURNS.turn():
        facade.explore(x_text, layers)
        assert not TURNS.holds()


def test_a_rerun_coming_back_from_a_wait_keeps_its_place_before_later_arrivals():
    turns, log = Turns(wait_seconds=5), []
    back_waiting, back_release = threading.Event(), threading.Event()

    def coming_back():
        with turns.turn():
            with turns.aside():  # waits for something else: the turn goes on meanwhile
                back_waiting.set()
                back_release.wait(5)
            log.append("back runs")

    back = started(coming_back)
    back_waiting.wait(5)
    second_ready, release_second = threading.Event(), threading.Event()
    second = started(holder, turns, second_ready, release_second, log, "second")  # arrives after "back"
    second_ready.wait(5)
    newcomer = started(holder, turns, threading.Event(), release_second, log, "newcomer")
    wait_until(lambda: turns.waiting == 1)
    back_release.set()  # "back" queues behind "newcomer" in time, but it arrived first
    wait_until(lambda: turns.waiting == 2)
    release_second.set()
    for thread in (second, back, newcomer):
        thread.join(5)
    runs = [entry for entry in log if entry.endswith("runs")]
    assert runs == ["second runs", "back runs", "newcomer runs"]
    assert turns.late == 0


def test_a_turn_held_past_its_quantum_is_given_up_at_a_checkpoint_only_when_others_wait():
    turns, log = Turns(wait_seconds=5), []
    with turns.turn():
        time.sleep(0.03)
        turns.checkpoint(quantum=0.01)
        assert turns.holds() and turns.preempted == 0, "nobody waits: the turn is kept"

    long_started, go_on = threading.Event(), threading.Event()

    def long_rerun():
        with turns.turn():
            log.append("long starts")
            long_started.set()
            go_on.wait(5)
            turns.checkpoint(quantum=0.01)  # held past its quantum, and "short" waits
            log.append("long resumes")

    long = started(long_rerun)
    long_started.wait(5)
    short = started(holder, turns, threading.Event(), go_on, log, "short")
    wait_until(lambda: turns.waiting == 1)
    time.sleep(0.02)
    go_on.set()
    long.join(5)
    short.join(5)
    assert log.index("short runs") < log.index("long resumes")
    assert turns.preempted == 1 and turns.late == 0


def test_a_checkpoint_within_the_quantum_keeps_the_turn():
    turns, log = Turns(wait_seconds=5), []
    release = threading.Event()
    with turns.turn():
        waiter = started(holder, turns, threading.Event(), release, log, "waiter")
        wait_until(lambda: turns.waiting == 1)
        turns.checkpoint(quantum=60)
        assert turns.holds() and turns.preempted == 0
        log.append("holder done")
    release.set()
    waiter.join(5)
    assert log[0] == "holder done"


def test_heavy_work_defers_to_a_small_rerun_running_and_then_goes_on():
    turns, log = Turns(wait_seconds=5), []

    def heavy_piece():
        turns.defer(seconds=5)
        log.append("heavy piece")

    with held(turns, log):
        heavy = started(heavy_piece)
        time.sleep(0.1)
        assert log == ["small runs"], "the heavy piece waits while the small rerun holds the turn"
    heavy.join(5)
    assert "heavy piece" in log and turns.deferred == 1


def test_heavy_work_defers_no_longer_than_its_limit():
    turns, log = Turns(wait_seconds=5), []
    with held(turns, log):
        begin = time.monotonic()
        turns.defer(seconds=0.1)
        waited = time.monotonic() - begin
    assert 0.08 <= waited < 1.0, "heavy work always moves on"


def test_quiet_waits_for_the_turns_to_stop_and_then_for_the_quiet_time():
    """The warm-up's wait (facade.warm_up): not while a rerun holds a turn, and not until none has for a while."""
    turns, log = Turns(wait_seconds=5), []
    quiet = threading.Event()
    with held(turns, log):
        waiter = started(lambda: (turns.wait_quiet(0.2), quiet.set()))
        time.sleep(0.3)
        assert not quiet.is_set(), "a turn is held: not quiet, however long"
    released = time.monotonic()
    waiter.join(5)
    assert quiet.is_set() and time.monotonic() - released >= 0.15, "quiet only after the quiet time"
    begin = time.monotonic()
    turns.wait_quiet(0.2)  # already quiet for longer than that: at once
    assert time.monotonic() - begin < 0.1
