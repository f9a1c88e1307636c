"""Admission control: small requests never wait, heavy ones share a memory budget, a long queue is refused."""

import threading
import time
from contextlib import contextmanager

import pytest

from explorer.engine import limits
from explorer.engine.cost import Cost, exploration_cost
from explorer.serving.admission import Admission, ServerBusy

SMALL_BYTES = 10  # in these tests a request of at most this many bytes is in the small lane


def gate(**overrides):
    settings = {"memory_budget": 100, "max_queue": 2, "wait_seconds": 5.0}
    settings.update(overrides)
    return Admission(**settings)


def cost(estimate):
    return Cost(0, 0, estimate, "small" if estimate <= SMALL_BYTES else "heavy")


@contextmanager
def admit(admission, estimate, on_wait=None):
    """A request of `estimate` bytes, admitted for the length of a with-block."""
    reservation = admission.reserve(cost(estimate), on_wait)
    try:
        yield
    finally:
        reservation.release()


def exploration_bytes(elements, operations):
    return exploration_cost(elements, elements * operations).bytes


def hold(admission, work, started, release, outcome):
    """A request that runs until `release` is set; records 'ran' or the refusal."""
    try:
        with admit(admission, work):
            started.set()
            release.wait(5)
            outcome.append("ran")
    except ServerBusy:
        outcome.append("busy")
        started.set()


def running_request(admission, work=10**6):
    """A request that holds the lane until the returned event is set, running on return."""
    started, release, outcome = threading.Event(), threading.Event(), []
    thread = threading.Thread(target=hold, args=(admission, work, started, release, outcome))
    thread.start()
    started.wait(5)
    return thread, release, outcome


def test_estimates_follow_the_measured_peaks():
    # Measured: 10^5 elements through 4 operations peaked at +53 MB; 7,575 through 264 at +122 MB.
    assert 45e6 <= exploration_bytes(100_000, 4) <= 65e6
    assert 110e6 <= exploration_bytes(7_575, 264) <= 140e6
    widest = exploration_bytes(limits.MAX_X_ELEMENTS, limits.MAX_WORK // limits.MAX_X_ELEMENTS)
    assert widest <= limits.HEAVY_MEMORY_BYTES, "one request at the limits fits alone"


def test_small_requests_run_while_the_heavy_lane_is_full():
    admission = gate()
    heavy, release, outcome = running_request(admission)
    assert admission.running == 1
    begin = time.monotonic()
    with admit(admission, 5):
        waited = time.monotonic() - begin
    release.set()
    heavy.join()
    assert waited < 0.1 and outcome == ["ran"]


def test_heavy_requests_wait_their_turn_and_are_told_their_place():
    admission = gate()
    first, release, outcome = running_request(admission)
    places = []
    threading.Timer(0.7, release.set).start()
    with admit(admission, 10**6, on_wait=places.append):
        assert admission.running == 1  # the first one has finished
    first.join()
    assert places and places[0] == 1 and outcome == ["ran"]  # told at once: one request ahead


def test_requests_that_fit_the_budget_together_run_together():
    admission = gate(memory_budget=200)
    first, release, outcome = running_request(admission, 100)
    with admit(admission, 100):
        assert admission.running == 2
    release.set()
    first.join()


def test_a_full_queue_refuses_at_once_with_a_clear_message():
    admission = gate(max_queue=1)
    running, release, outcome = running_request(admission)
    waiting = threading.Thread(target=hold, args=(admission, 10**6, threading.Event(), release, outcome))
    waiting.start()
    time.sleep(0.2)
    begin = time.monotonic()
    with pytest.raises(ServerBusy, match="busy"):
        with admit(admission, 10**6):
            pass
    assert time.monotonic() - begin < 0.1
    release.set()
    running.join()
    waiting.join()
    assert outcome == ["ran", "ran"]


def test_a_request_that_waits_too_long_is_refused():
    admission = gate(wait_seconds=0.3)
    running, release, outcome = running_request(admission)
    with pytest.raises(ServerBusy):
        with admit(admission, 10**6):
            pass
    assert admission.waiting == 0  # a refused request leaves the queue
    release.set()
    running.join()


def test_an_interrupted_wait_leaves_the_queue():
    """A Streamlit rerun interrupts a waiting script through on_wait; its place must not stay taken."""
    admission = gate()
    running, release, outcome = running_request(admission)

    def interrupt(place):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with admit(admission, 10**6, on_wait=interrupt):
            pass
    assert admission.waiting == 0
    release.set()
    running.join()


def test_with_no_room_to_wait_a_request_still_runs_when_the_lane_is_free():
    admission = gate(max_queue=0)
    with admit(admission, 10**6):
        assert admission.running == 1
        with pytest.raises(ServerBusy):
            with admit(admission, 10**6):
                pass


def test_a_reservation_holds_its_share_until_released_once():
    admission = gate(memory_budget=100)
    reservation = admission.reserve(cost(80))
    assert reservation.held and admission.running == 1
    with pytest.raises(ServerBusy):  # 80 + 80 > 100 and no room to wait for it
        admission.reserve(cost(80), on_wait=lambda place: (_ for _ in ()).throw(ServerBusy("gave up")))
    reservation.release()
    reservation.release()  # a second release gives back nothing more
    assert admission.running == 0
    assert admission.reserve(cost(80)).held


def test_a_small_request_reserves_nothing():
    assert not gate().reserve(cost(5)).held


# ---------------------------------------------------------------- a ceiling on what the server really holds


class Held:
    """A stand-in for memory.resident_bytes: the bytes the server holds, set by the test."""

    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value


def test_under_a_ceiling_heavy_work_waits_while_the_server_holds_too_much_and_starts_when_it_gives_back():
    held = Held(950)
    admission = gate(memory_budget=100, ceiling=1000, resident=held)
    threading.Timer(0.6, lambda: setattr(held, "value", 900)).start()  # a trim gives 50 back
    places = []
    begin = time.monotonic()
    with admit(admission, 80, on_wait=places.append):  # 950 + 80 > 1000; then 900 + 80 fits
        assert admission.running == 1
    assert time.monotonic() - begin >= 0.5 and places == [0] * len(places) and places


def test_under_a_ceiling_the_running_works_estimate_counts_besides_what_is_measured():
    # The share has room for two (80 + 80 <= 200); the ceiling has not: 850 held + 80 running + 80 > 1000.
    admission = gate(memory_budget=200, ceiling=1000, resident=Held(850), wait_seconds=0.3)
    running, release, outcome = running_request(admission, 80)
    with pytest.raises(ServerBusy, match="waited"):
        with admit(admission, 80):
            pass
    release.set()
    running.join()
    assert outcome == ["ran"]
    roomy = gate(memory_budget=200, ceiling=1000, resident=Held(800), wait_seconds=0.3)
    running, release, outcome = running_request(roomy, 80)
    with admit(roomy, 80):  # 800 + 80 + 80 fits: both run
        assert roomy.running == 2
    release.set()
    running.join()


def test_a_refusal_under_the_ceiling_says_how_much_the_server_holds():
    admission = gate(memory_budget=100_000_000, ceiling=700_000_000, resident=Held(650_000_000), wait_seconds=0.2)
    with pytest.raises(ServerBusy, match="it holds 650 MB of its 700 MB, and this one needs about 60 MB more"):
        admission.reserve(Cost(0, 0, 60_000_000, "heavy"))


def test_without_a_ceiling_what_the_server_holds_is_not_read():
    def unread():
        raise AssertionError("read without a ceiling")

    with admit(gate(resident=unread), 80):
        pass


def test_small_requests_run_under_a_ceiling_however_much_the_server_holds():
    with admit(gate(ceiling=1000, resident=Held(10**9)), SMALL_BYTES):
        pass
