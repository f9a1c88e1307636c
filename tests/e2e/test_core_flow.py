"""The two-layer seed as a person sees it in Chromium: the graph, the plot and the numbers."""

from tests.harness import open_app, screenshot, wait_idle, wait_text


def graph_text(page):
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg')
    return page.locator('[data-testid="stGraphVizChart"] svg').first.text_content()


def test_seed_shows_graph_plot_and_notebook_numbers(page, server):
    open_app(page, server)
    assert "PowBackward0" in graph_text(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
    body = page.locator("body").inner_text()
    assert "tensor(140., grad_fn=<MeanBackward0>)" in body
    assert "[[10., 16., 22.]," in body and "[22., 16., 10.]]" in body.replace("        ", "")
    assert "[[ 60.,  96., 132.]," in body
    screenshot(page, "seed")


def test_typing_a_formula_updates_numbers_and_bad_input_recovers(page, server):
    open_app(page, server)
    x_input = page.locator(".st-key-x input")
    x_input.fill("2.0")
    x_input.press("Enter")
    wait_idle(page)
    layers = page.locator(".st-key-layers textarea")
    layers.fill("y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1")
    layers.press("Control+Enter")
    wait_idle(page)
    assert "tensor(93.)" in page.locator("body").inner_text()
    page.get_by_role("tab", name="Forward pass").click()  # a lazy tab: it runs once opened
    wait_text(page, "tensor(63., grad_fn=<AddBackward0>)")
    page.get_by_role("tab", name="x.grad").click()
    wait_text(page, "tensor(93.)")
    layers.fill("y = 2*x + q")
    layers.press("Control+Enter")
    wait_idle(page)
    error = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert "unknown name 'q'" in error
    assert page.locator('[data-testid="stException"]').count() == 0
    assert layers.input_value() == "y = 2*x + q", "the user's text stays in the editor"
    assert "tensor(93.)" in page.locator("body").inner_text(), "the last good result stays visible"
    layers.fill("y = sin(x)")
    layers.press("Control+Enter")
    wait_idle(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert "SinBackward0" in graph_text(page)


def test_an_edit_asks_the_server_for_nothing_but_its_rerun_and_the_tab_shows_an_icon(page, server):
    """Given "∂" as its icon, Streamlit sent it as an image address: every rerun made the browser fetch "/∂",
    the page's own HTML, costing the server a request per edit and showing no icon."""
    open_app(page, server)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    layers = page.locator(".st-key-layers textarea")
    layers.fill("y = 3*x + 5\nz = 2*y**2")
    layers.press("Control+Enter")
    wait_idle(page)
    assert "tensor(" in page.locator("body").inner_text()
    assert [url for url in requests if url.startswith("http") and "/static/" not in url] == []  # code chunks load once
    icon = page.locator('link[rel="icon"], link[rel="shortcut icon"]').first.get_attribute("href")
    assert icon.startswith("data:image/svg+xml,") and "%E2%88%82" in icon  # the ∂, percent-encoded
