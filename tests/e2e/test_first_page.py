"""A process's first page (streamlit_app.STARTING): while PyTorch imports, it says so and draws an empty chart of
each kind, so the browser loads plotly.js and Graphviz's WebAssembly meanwhile; the imports done, both are gone.
Later pages never draw them. Each test starts its own server: only a fresh process has a first page."""

from bench.protocol import Session
from tests.harness import APP, open_app, served

STARTING = "PyTorch is loading"


def test_the_first_page_of_a_process_leaves_one_chart_of_each_kind_and_no_notice(browser):
    for url in served(APP):
        context = browser.new_context(viewport={"width": 1400, "height": 2200})
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            open_app(page, url)
            page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
            plots = page.locator('[data-testid="stPlotlyChart"]').count()
            graphs = page.locator('[data-testid="stGraphVizChart"]').count()
            notice = page.get_by_text(STARTING).count()
        finally:
            context.close()
    assert (plots, graphs, notice) == (1, 1, 0)


def test_only_a_process_first_page_draws_the_placeholders():
    for url in served(APP):
        first, second = Session(url), Session(url)
        try:
            cold, warm = first.rerun(), second.rerun()
        finally:
            first.close()
            second.close()
    assert cold.ok and warm.ok
    assert (cold.plots, warm.plots) == (2, 1), "the empty placeholder's, then the tangent plot"
    assert "y = " in cold.graph, "the page's graph replaced the empty one"
