"""Issue 11 in Chromium: micrograd's neuron shows its numbers in the graph, the gradients and the check,
and choosing w[0] moves the tangent, whose slope reads w.grad[0] = 1."""

from urllib.parse import urlencode

from explorer.page import presets
from tests.harness import screenshot, wait_idle, wait_text

GRAPH = '[data-testid="stGraphVizChart"] svg'
NEURON = presets.BY_KEY["neuron"]


def test_the_neuron_shows_its_numbers_everywhere_and_w0_moves_the_tangent(open_page, server):
    page = open_page(server + "/?" + urlencode({"preset": NEURON.title, "verify": "true"}))
    page.wait_for_selector(GRAPH)
    graph = " ".join(page.locator(GRAPH).first.text_content().split())  # SVG text keeps no double spaces
    for shown in ("o = tanh(x @ w + b)", "value 0.7071", "grad [1., 0.]", "grad [-1.5, 0.5]", "grad 0.5"):
        assert shown in graph, shown
    wait_text(page, "print(w.grad)")
    body = page.locator("body").inner_text()
    for printed in ("tensor([1.0000, 0.0000])", "tensor(0.5000)", "tensor([-1.5000,  0.5000])"):
        assert printed in body, printed
    assert body.count("✓ agree") == 3, "autograd, symbolic and finite differences agree for every leaf"
    screenshot(page, "neuron")
    page.locator(".st-key-element input[role='combobox']").click()
    page.get_by_role("option", name="w[0]", exact=True).click()
    wait_idle(page)
    wait_text(page, "slope at the point = 1")
    assert page.locator('[data-testid="stPlotlyChart"] .xtitle').first.text_content() == "w[0]"
