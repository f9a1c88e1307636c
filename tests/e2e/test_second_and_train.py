"""Issue 20 in Chromium: a link opens "Second derivatives" and "Train"; the Hessian, the parabola, the graph of
backward and the training's numbers show, and the training slider moves through the steps. The screenshots
docs/second.png and docs/train.png are the README's."""

from pathlib import Path
from urllib.parse import urlencode

from explorer.page import presets
from tests.harness import screenshot, wait_idle, wait_text

DOCS = Path(__file__).resolve().parents[2] / "docs"
SEED = presets.BY_KEY["two_layers"]
NET = presets.BY_KEY["tanh_net"]
HEATMAP = '.st-key-second [data-testid="stPlotlyChart"]'


def test_the_seeds_second_derivatives_and_its_parabola(open_page, server):
    link = {"x": SEED.x, "layers": SEED.layers, "second": "true", "parabola": "true"}
    page = open_page(server + "/?" + urlencode(link), width=1400, height=2600)
    wait_text(page, "Newton step")
    page.wait_for_selector(f"{HEATMAP} .heatmaplayer")
    section = page.locator(".st-key-second")
    text = section.inner_text()
    assert "tensor([[36., 36., 36.]," in text and "graph of backward itself" in text
    assert "x.grad" in " ".join(section.locator('[data-testid="stGraphVizChart"] svg').text_content().split())
    legend = page.locator('[data-testid="stPlotlyChart"]').first.locator(".legendtext").all_text_contents()
    assert "parabola" in legend and "Newton step" in legend
    assert "Newton's step v − g/h = 1 − (60)/(36) = -0.666667" in page.locator("body").inner_text()
    section.scroll_into_view_if_needed()
    DOCS.mkdir(exist_ok=True)
    section.screenshot(path=str(DOCS / "second.png"))
    screenshot(page, "second_full")


def test_a_link_opens_both_sections_and_the_training_slider_moves(open_page, server):
    link = {"preset": NET.title, "second": "true", "train": "true"}
    page = open_page(server + "/?" + urlencode(link), width=1400, height=3200)
    wait_text(page, "Trained values")
    page.wait_for_selector(f"{HEATMAP} .heatmaplayer")  # 28 elements: W1's 12, W2's 4, x's 12
    train = page.locator(".st-key-train")
    assert "loss: 3.7162 → 0.0109341" in train.inner_text()
    assert "# step 0: loss 3.7162 -> " in train.inner_text()
    slider = page.locator(".st-key-train_step input[type='range']")
    slider.focus()
    slider.press("ArrowRight")
    wait_text(page, "# step 1: loss")
    step = train.inner_text()
    assert "W1.grad = tensor(" in step and "update = tensor(" in step
    slider.press("End")
    wait_text(page, "# after 40 steps: loss 0.0109341")
    wait_idle(page)
    train.scroll_into_view_if_needed()
    DOCS.mkdir(exist_ok=True)
    train.screenshot(path=str(DOCS / "train.png"))
    screenshot(page, "train_full")


def test_bad_training_settings_in_a_link_are_named_dropped_from_the_address_and_the_rest_holds(open_page, server):
    from urllib.parse import parse_qs, urlsplit

    link = {"x": "0.0", "layers": "loss = (x - 3)**2", "train": "true", "lr": "nan", "steps": "-5",
            "optimizer": "evil"}
    page = open_page(server + "/?" + urlencode(link))
    # The trained values' code block, not their heading: the section's elements arrive one message at a time, and
    # in one fresh-clone run the page was read after the heading and before the block.
    wait_text(page, "x = tensor(2.9654)")  # 20 SGD steps at 0.1
    body = page.locator("body").inner_text()
    for notice in ("lr 'nan' is not a finite number above 0", "steps '-5' is not a whole number",
                   "optimizer 'evil' is not one of the choices"):
        assert notice in body, notice
    assert "x = tensor(2.9654)" in page.locator(".st-key-train").inner_text(), "inside the Train section"
    query = parse_qs(urlsplit(page.url).query)
    assert not {"lr", "steps", "optimizer"} & set(query) and query["train"] == ["true"] and query["x"] == ["0.0"]
