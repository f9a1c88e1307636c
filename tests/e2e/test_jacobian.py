"""Issue 19 in Chromium: a typed vector adds "vector" to Backward from, and the Jacobian section shows J, every
way of starting backward as vᵀJ, and the check; its screenshot is the README's."""

from tests.harness import SHOTS, screenshot, wait_idle, wait_text

SECTION = ".st-key-jacobian"


def typed_vector(open_page, server, text):
    """The default page, drawn, with `text` typed into the vector box and sent."""
    page = open_page(server + "/")
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg')
    vector = page.locator(".st-key-vector input")
    vector.fill(text)
    vector.press("Enter")
    return page


def test_a_typed_vector_and_the_jacobian_section(open_page, server):
    page = typed_vector(open_page, server, "[[1, 0, -2], [0.5, 3, 0]]")
    wait_idle(page)
    page.locator(".st-key-reduction").get_by_role("radio", name="vector", exact=True).click()
    wait_text(page, "z.backward(gradient=v)")
    body = page.locator("body").inner_text()
    assert "v = torch.tensor([[1.0, 0.0, -2.0], [0.5, 3.0, 0.0]])" in body
    page.get_by_text("The Jacobian: backward is a vector-Jacobian product").click()
    wait_text(page, "Check: reverse = forward = finite difference")
    section = page.locator(SECTION)
    text = section.inner_text()
    assert "x.grad = [60, 0, -264, 66, 288, 0]  ✓" in text and "J is diagonal" in text
    assert "6 backward passes" in text and "✓ agree" in text
    heatmap = section.locator('[data-testid="stPlotlyChart"]')
    heatmap.wait_for()
    cells = " ".join(heatmap.locator("text").all_text_contents())
    assert "132" in cells and "z[0, 2]" in cells and "x[1, 2]" in cells  # numbers in cells, labelled axes
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SHOTS / "jacobian.png"))
    screenshot(page, "jacobian_page")


def test_a_hostile_vector_is_an_error_in_place(open_page, server):
    page = typed_vector(open_page, server, "__import__('os')")
    wait_text(page, "Can't use this vector")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "tensor([[ 60.,  96., 132.]," in page.locator("body").inner_text()
