"""Bad values from outside, to a real `streamlit run`: a link in Chromium, and hand-made websocket messages.

A browser only sends what its widgets hold; bench/protocol.Session sends what a script wants, as
Streamlit's own BackMsg protobuf, so these reach the server exactly as a hostile client's would.
"""

import math
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.protocol import FINISHED, Session
from tests.harness import open_app

ONES = "[" + ",".join(["1"] * 100) + "]"  # more elements than the element menu holds: the flat-index box shows


@pytest.fixture
def session(server):
    session = Session(server)
    yield session
    session.close()


def assert_finished_clean(run):
    assert run.status == FINISHED.FINISHED_SUCCESSFULLY, run.status
    assert not run.errors, run.errors  # no exception element, and no section failed
    assert "AccumulateGrad" in run.graph, "the graph is still drawn"


def notices(run):
    return " ".join(run.warnings).replace("\\", "")


def test_a_message_with_text_for_the_element_index_and_an_unknown_preset_runs_clean(session):
    assert_finished_clean(session.rerun())
    assert_finished_clean(session.rerun({"x": ONES}))
    assert "element_index" in session.widget_ids

    run = session.rerun({"element_index": "abc", "preset": "no such preset"})
    assert_finished_clean(run)
    assert "element_index 'abc' is not a whole number" in notices(run)
    assert "preset 'no such preset' is not one of the choices" in notices(run)

    run = session.rerun()  # the session goes on: the bad values were replaced, not kept
    assert_finished_clean(run)
    assert not run.warnings


def test_a_message_with_numbers_where_texts_belong_runs_clean(session):
    assert_finished_clean(session.rerun())  # the page names its widgets
    assert_finished_clean(session.rerun({"x": ONES}))
    run = session.rerun(raw={"element_index": ("double_value", math.inf), "x": ("double_value", 1e400)})
    assert_finished_clean(run)
    assert "element_index inf is not a text" in notices(run)
    assert "x inf is not a text" in notices(run)
    assert "MulBackward0" in run.graph  # the first example's graph, from the default x

    run = session.rerun(raw={"element_index": ("int_value", 2**62), "preset": ("string_value", "p" * 100_000)})
    assert_finished_clean(run)
    assert "element_index" in notices(run) and "preset" in notices(run)


def test_a_link_with_an_infinite_element_index_opens_the_page_and_is_fixed_in_the_address_bar(page, server):
    open_app(page, f"{server}/?x={ONES}&element_index=1e400")
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg')
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "element_index '1e400' is not a whole number" in page.locator("body").inner_text()
    query = parse_qs(urlsplit(page.url).query)
    assert "element_index" not in query and query["x"] == [ONES]
