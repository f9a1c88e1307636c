"""Issue 10 on one projector screen, and the classroom fixes that live in the page's layout.

At 1024x768 in presentation mode a teacher must see the annotated graph, the step control, the
current step's text and the plot without scrolling, for every example. The other tests here: the sidebar link on
a first load (#2), a way back to an example (#9), hide= that hides and reflows (#11), and presentation
mode enlarging the whole page (#12).
"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from explorer.page import presets
from tests.harness import screenshot, wait_idle, wait_text

GRAPH = '[data-testid="stGraphVizChart"] svg'
STEP_TEXT = '.st-key-backward_step ~ div [data-testid="stCode"], [data-testid="stCode"]:has-text("step ")'
PROJECTOR = {"width": 1024, "height": 768}


def link(server, **params):
    return server + "/?" + urlencode(params)


def inside_viewport(page, selector):
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not drawn"
    size = page.viewport_size
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] + 1
            and box["y"] + box["height"] <= size["height"] + 1), box


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.key)
def test_one_projector_screen_holds_the_graph_the_step_and_its_text(open_page, server, preset):
    page = open_page(link(server, present="true", preset=preset.title, backward_step="2"), **PROJECTOR)
    wait_text(page, "step 2 of")
    page.wait_for_selector(GRAPH)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
    for what, selector in (("graph", GRAPH), ("step slider", ".st-key-backward_step"),
                           ("step text", '[data-testid="stCode"]:has-text("step 2 of")'),
                           ("plot", '[data-testid="stPlotlyChart"]')):
        fits, box = inside_viewport(page, selector)
        assert fits, f"{preset.key}: the {what} is not on the screen: {box}"
    scrolled = page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollTop))")
    assert scrolled == 0, f"{preset.key}: the page had to scroll {scrolled} px"
    if preset is presets.DEFAULT:
        screenshot(page, "projector")


def test_the_first_load_from_a_link_offers_that_same_link(open_page, server):
    page = open_page(link(server, x="0.5", layers="y = sin(x)*exp(x)", reduction="mean"))
    shared = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first.inner_text()
    query = parse_qs(urlsplit(shared.replace("\n", "")).query)
    assert query["x"] == ["0.5"] and query["layers"] == ["y = sin(x)*exp(x)"] and query["reduction"] == ["mean"]


def test_reset_brings_an_edited_example_back(open_page, server):
    page = open_page(server)
    layers = page.locator(".st-key-layers textarea")
    layers.fill("y = 3*x + 2\nz = 5*y")
    layers.press("Control+Enter")
    wait_idle(page)
    page.get_by_role("button", name="Reset to this example").click()
    wait_text(page, "[[ 60.,  96., 132.],")
    assert layers.input_value() == "y = 3*x + 2\nz = 2*y**2"


def test_a_link_with_only_a_preset_shows_its_formulas(open_page, server):
    sigmoid = next(preset for preset in presets.PRESETS if preset.layers == "y = sigmoid(x)")
    page = open_page(link(server, preset=sigmoid.title))
    page.wait_for_function("() => document.querySelector('.st-key-layers textarea')?.value.length > 0")
    assert page.locator(".st-key-layers textarea").input_value() == "y = sigmoid(x)"
    assert "SigmoidBackward0" in page.locator(GRAPH).first.text_content()


def test_hide_removes_sections_and_the_page_reflows(open_page, server):
    page = open_page(link(server, hide="editor,graph,bogus"))
    assert page.locator(".st-key-x").count() == 0 and page.locator(".st-key-layers").count() == 0
    assert page.locator(GRAPH).count() == 0
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    slider = page.locator(".st-key-backward_step").bounding_box()
    assert slider["width"] > 0.8 * main["width"], "with the graph hidden, the controls take the whole width"
    assert "bogus" in page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()


def font_px(page, selector):
    return page.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def test_presentation_mode_enlarges_captions_plot_text_and_latex(open_page, server):
    normal = open_page(link(server, chain="true"))
    present = open_page(link(server, chain="true", present="true"), **PROJECTOR)
    for page in (normal, present):
        page.wait_for_selector('[data-testid="stPlotlyChart"] .gtitle')
        page.wait_for_selector(".katex")
    caption = '[data-testid="stMain"] [data-testid="stCaptionContainer"] p'
    for selector in (caption, '[data-testid="stPlotlyChart"] .gtitle', '[data-testid="stPlotlyChart"] .xtick text',
                     '[data-testid="stPlotlyChart"] .ytick text', '[data-testid="stMain"] .katex'):
        assert font_px(present, selector) >= 1.2 * font_px(normal, selector), selector
