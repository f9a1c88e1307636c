"""Admission control through a real `streamlit run`, spoken to as browsers do (Streamlit's websocket protocol)."""

import threading

import pytest

from bench.protocol import Session
from explorer.engine import limits
from tests.harness import APP, ROOT, served

pytestmark = pytest.mark.e2e  # real `streamlit run` servers

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
ELEMENTS = 20_000


def heavy_input(k):
    """Distinct large inputs at the work limit: 20,000 elements through 10 layers of 10 operations."""
    x = "[" + ",".join(f"{(i % 89) / 40 + k / 1000:.3f}" for i in range(ELEMENTS)) + "]"
    layer_ops = limits.MAX_WORK // ELEMENTS // 10
    chain = "sin(" * (layer_ops // 2) + "{}" + ")*1.5" * (layer_ops // 2)
    layers = "\n".join(f"a{i} = " + chain.format("x" if i == 0 else f"a{i - 1}") for i in range(10))
    return x, layers


@pytest.fixture(scope="module")
def server():
    yield from served(ROOT / "tests" / "apps" / "no_waiting_app.py")


@pytest.fixture(scope="module")
def real_server():
    yield from served(APP)


def send_together(sessions, inputs):
    """Each session sends its input at the same moment; returns {index: Run}."""
    start, runs = threading.Barrier(len(sessions)), {}

    def send(k):
        start.wait()
        x, layers = inputs[k]
        runs[k] = sessions[k].rerun({"x": x, "layers": layers})

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return runs


def test_large_requests_that_must_wait_say_they_are_queued_then_run(real_server):
    sessions = [Session(real_server) for _ in range(4)]
    try:
        for session in sessions:
            assert session.rerun().ok
        runs = send_together(sessions, [heavy_input(10 + k) for k in range(len(sessions))])
    finally:
        for session in sessions:
            session.close()
    assert all(run.ok for run in runs.values()), [run.errors for run in runs.values()]
    assert any(any(alert.startswith("Queued:") for alert in run.alerts) for run in runs.values())
    assert not any(any("Server busy" in alert for alert in run.alerts) for run in runs.values())


def test_overlapping_large_requests_are_refused_clearly_while_a_small_edit_runs(server):
    sessions = [Session(server) for _ in range(6)]
    victim = Session(server)
    try:
        for session in [*sessions, victim]:
            assert session.rerun().ok  # the first load learns the widgets' ids
        inputs = [heavy_input(k) for k in range(len(sessions))]
        small = {}
        victim_edit = threading.Timer(0.05, lambda: small.setdefault(
            "run", victim.rerun({"x": SEED_X, "layers": "y = 3*x + 5\nz = 2*y**2"})))
        victim_edit.start()
        runs = send_together(sessions, inputs)
        victim_edit.join(120)
        small = small["run"]
    finally:
        for session in [*sessions, victim]:
            session.close()

    assert small.ok and any("tensor([[ 96., 132., 168.]," in code for code in small.code)  # 12(3x + 5)
    refused = [k for k, run in runs.items() if any("Server busy" in alert for alert in run.alerts)]
    computed = [k for k, run in runs.items() if any("print(x.grad)" in code for code in run.code) and k not in refused]
    assert all(run.status is not None and not any(e.startswith("exception") for e in run.errors)
               for run in runs.values())
    assert computed or refused, [(run.alerts, run.errors) for run in runs.values()]
    assert refused, "overlapping large requests with no room to wait are refused"
    assert computed, [(run.alerts, run.errors, [c[:60] for c in run.code]) for run in runs.values()]
    assert len(refused) + len(computed) == len(sessions)
