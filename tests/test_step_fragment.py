"""The step slider and the graph's toggles are a fragment (streamlit_app.step_and_graph): moving one reruns the
step, the graph and the sidebar's link alone, through a real `streamlit run`, spoken to as the page does."""

import pytest

from bench.protocol import FINISHED, Session
from explorer.engine.limits import CACHE_MAX_ENTRIES
from tests.harness import APP, served

pytestmark = pytest.mark.e2e  # a real `streamlit run` server

CURRENT_STEP = "#ffb347"  # the orange of the step-through's current node (explorer.views.graph)


@pytest.fixture(scope="module")
def server():
    for url in served(APP):
        first = Session(url)  # the process's first page, with its placeholders (tests/e2e/test_first_page.py)
        first.rerun()
        first.close()
        yield url


def step(session, fragment, value):
    return session.rerun(raw={"backward_step": ("double_array_value", [value])}, fragment=fragment)


def links(run):
    return [text for text in run.code if text.startswith("http")]


def test_moving_the_step_reruns_the_step_the_graph_and_the_link_alone(server):
    session = Session(server, link={"reduction": "mean"})
    try:
        first = session.rerun()
        (fragment,) = first.fragments
        moved = step(session, fragment, 3)
    finally:
        session.close()
    assert first.ok and first.plots == 1 and CURRENT_STEP not in first.graph
    assert moved.ok and moved.fragments == {fragment}
    assert moved.plots == 0 and moved.unfragmented == 0, "the plot, the numbers and the sections below: not redrawn"
    assert any(text.startswith("step 3 of 6: PowBackward0") for text in moved.code)
    assert CURRENT_STEP in moved.graph
    assert len(links(moved)) == 1 and "backward_step=3" in links(moved)[0]


def test_after_an_edit_the_step_belongs_to_the_new_input(server):
    session = Session(server, link={"reduction": "mean"})
    try:
        (fragment,) = session.rerun().fragments
        assert step(session, fragment, 6).ok
        edited = session.rerun({"x": "[[2., 2, 3], [3, 2, 1]]"})  # a full run: the plot too
        (fragment,) = edited.fragments
        moved = step(session, fragment, 5)
    finally:
        session.close()
    assert edited.ok and edited.plots == 1
    assert moved.ok and moved.plots == 0
    assert any(text.startswith("step 5 of 6") for text in moved.code)
    assert "x=%5B%5B2." in links(moved)[0], "the link holds the edited x"


def test_a_step_moved_after_its_result_left_the_cache_reruns_the_whole_page(server):
    """The fragment holds its result by a weak reference (its arguments live until the next full run). Once the
    result has left the cache, a step move finds it gone and asks for a full run, which draws the moved step."""
    session, other = Session(server, link={"reduction": "mean"}), Session(server)
    try:
        (fragment,) = session.rerun().fragments
        assert other.rerun().ok
        for i in range(CACHE_MAX_ENTRIES["explorations"] + 1):  # the oldest exploration, the seed's, leaves
            assert other.rerun({"layers": f"y = 3*x + {i}.25\nz = 2*y**2"}).ok
        moved = step(session, fragment, 3)
        page = session.next_run() if moved.status == FINISHED.FINISHED_EARLY_FOR_RERUN else None
    finally:
        session.close()
        other.close()
    assert moved.status == FINISHED.FINISHED_EARLY_FOR_RERUN, "the fragment found its result gone"
    assert page.ok and page.unfragmented > 0, "a full run: the page outside the fragment is drawn again"
    assert any(text.startswith("step 3 of 6: PowBackward0") for text in page.code)
    assert CURRENT_STEP in page.graph
    assert "backward_step=3" in links(page)[0]
