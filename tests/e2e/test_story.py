"""Issue 18 in the browser: the step-through explains each step with its local rule and shows gradients meeting,
on a normal screen and on a 1024x768 projector; the screenshots of these tests are the README's."""

from urllib.parse import urlencode

import pytest

from explorer.page import presets
from tests.harness import screenshot, wait_text

PROJECTOR = {"width": 1024, "height": 768}
STEPS = {  # preset: (the step to show, what the teacher must read there)
    "neuron": (5, "= 0.5 · [-3, 1] = [-1.5, 0.5]"),  # DotBackward0: x gets 0.5 · w
    "softmax_cross_entropy": (10, "= [0.09, 0.2447, 0.6652] + [0, -1, 0]"),  # s: where the two paths meet
}


def story_link(server, key, **params):
    preset = presets.BY_KEY[key]
    step, _ = STEPS[key]
    return server + "/?" + urlencode({"preset": preset.title, "backward_step": str(step), **params})


def step_text(page, expected):
    block = page.locator('[data-testid="stCode"]', has_text=expected).first
    block.wait_for()
    return block


@pytest.mark.parametrize("key", STEPS)
def test_the_step_through_shows_the_rule_and_the_meeting_in_the_browser(open_page, server, key):
    _, expected = STEPS[key]
    page = open_page(story_link(server, key))
    wait_text(page, expected)
    if key == "neuron":  # and w's: 0.5 · x
        assert "0.5 · [2, 0] = [1, 0]" in page.locator("body").inner_text()
    screenshot(page, f"story_{key}")


@pytest.mark.parametrize("key", STEPS)
def test_a_projector_shows_the_whole_explanation_without_scrolling(open_page, server, key):
    _, expected = STEPS[key]
    page = open_page(story_link(server, key, present="true"), **PROJECTOR)
    wait_text(page, expected)
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg')
    box = step_text(page, expected).bounding_box()
    screenshot(page, f"story_{key}_projector")
    assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"] + 1, box
    assert box["x"] + box["width"] <= PROJECTOR["width"] + 1, box


FORMULAS = """() => [...document.querySelectorAll('.st-key-chain .katex-display')].map(e => ({
    wide: e.scrollWidth > e.clientWidth + 2,  // the formula is wider than its column
    bar: e.offsetHeight - e.clientHeight,  // a scrollbar that takes room is one a reader sees
}))"""


@pytest.mark.parametrize("key, width", [("neuron", 1400), ("softmax_cross_entropy", 1400),
                                        ("softmax_cross_entropy", 480)])
def test_the_chain_rule_fits_its_column_or_scrolls_with_a_visible_bar(browser, server, key, width):
    """Headless Chromium hides every scrollbar (Playwright passes --hide-scrollbars): this test's browser shows
    them, as a reader's does, so a scrollbar that takes room can be measured."""
    from tests.harness import CHROMIUM, CHROMIUM_ARGS, open_app

    preset = presets.BY_KEY[key]
    showing = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                          ignore_default_args=["--hide-scrollbars"])
    try:
        page = showing.new_page(viewport={"width": width, "height": 1400})
        page.set_default_timeout(60_000)
        open_app(page, server + "/?" + urlencode({"preset": preset.title, "chain": "true"}))
        formulas = _formulas(page)
    finally:
        showing.close()
    assert len(formulas) >= 5, formulas  # stacked: each local derivative on its own, not side by side
    assert all(not formula["wide"] or formula["bar"] > 0 for formula in formulas), formulas
    if width == 1400:  # ∂o/∂w and ∂o/∂b no longer sit past the right edge: everything fits
        assert not any(formula["wide"] for formula in formulas), formulas
    else:
        assert any(formula["wide"] for formula in formulas), "a narrow window must exercise the scrollbar"


def _formulas(page):
    page.wait_for_selector(".st-key-chain .katex-display")
    page.wait_for_timeout(500)  # KaTeX lays out after the element arrives
    return page.evaluate(FORMULAS)


CLIPPED = """() => [...document.querySelectorAll('.st-key-verify [data-testid="stTable"]')].map(t => {
    const box = t.getBoundingClientRect(), cells = [...t.querySelectorAll('tr > *:last-child')];
    return {cut: t.scrollWidth > t.clientWidth + 1 || cells.some(c => c.getBoundingClientRect().right > box.right + 1),
            last: cells.map(c => c.innerText).join(' ')};
})"""


def test_check_tables_show_every_column_of_many_digit_values(open_page, server):
    layers = "w = [-3.0, 1.0]\nb = 2\no = tanh(x @ w + b)"  # b = 2: -0.00402285 and its like, many digits
    page = open_page(server + "/?" + urlencode({"x": "[2.0, 0.0]", "layers": layers, "verify": "true"}))
    # All three tables, not the first: the check's tables arrive one message at a time (reading after the first
    # found two in one fresh-clone run).
    page.wait_for_function("""document.querySelectorAll('.st-key-verify [data-testid="stTable"]').length === 3""")
    tables = page.evaluate(CLIPPED)
    assert len(tables) == 3, tables
    for table in tables:
        assert not table["cut"] and "✓" in table["last"], table
