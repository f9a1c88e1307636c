"""The sidebar's link reproduces the view: on the first load from a link too, and without defaults' noise."""

from urllib.parse import parse_qs, urlsplit

from explorer.page import presets, state
from tests.app_page import open_link


def sidebar_link(app):
    links = [block.value for block in app.sidebar.code]
    assert len(links) == 1, links
    return parse_qs(urlsplit(links[0]).query)


def test_a_link_of_defaults_names_only_its_example():
    values = {key: field.default for key, field in state.FIELDS.items()}
    query = parse_qs(urlsplit(state.share_link("http://host/", values)).query)
    assert query == {"x": [presets.DEFAULT.x], "layers": [presets.DEFAULT.layers]}


def test_a_link_keeps_what_differs_from_the_defaults_and_the_hidden_sections():
    values = {key: field.default for key, field in state.FIELDS.items()} | {"reduction": "mean", "chain": True}
    link = state.share_link("http://host/app", values, hidden={"plot", "editor"})
    query = parse_qs(urlsplit(link).query)
    assert query["reduction"] == ["mean"] and query["chain"] == ["true"] and query["hide"] == ["editor,plot"]
    assert urlsplit(link).path == "/app"


def test_the_first_load_from_a_link_offers_that_same_link():
    """The link used to hold the default example until a control was touched (it was drawn before the editor)."""
    app = open_link(x="0.5", layers="y = sin(x)*exp(x)", reduction="mean")
    query = sidebar_link(app)
    assert query["x"] == ["0.5"] and query["layers"] == ["y = sin(x)*exp(x)"] and query["reduction"] == ["mean"]


def test_a_link_with_only_a_preset_shows_that_presets_formulas():
    sigmoid = next(preset for preset in presets.PRESETS if preset.layers == "y = sigmoid(x)")
    app = open_link(preset=sigmoid.title)
    assert app.text_area(key="layers").value == "y = sigmoid(x)"
    assert app.text_input(key="x").value == sigmoid.x
