"""Links with bad values, through the real page (AppTest): a notice and the default, the graph still drawn."""

import json
import re

import pytest

from explorer.page import presets
from tests.app_page import open_link

ONES = "[" + ",".join(["1"] * 100) + "]"
COUNTING = "[" + ",".join(str(i) for i in range(100)) + "]"  # x[i] = i



def slope(app):
    """The tangent's slope in the plot's title: d out / d x at the chosen element."""
    title = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    return float(re.split(r"[\s,<]", title.split("slope at the point = ")[1])[0])


def notices(app):
    return " ".join(element.value.replace("\\", "") for element in [*app.warning, *app.caption])


def assert_whole_page(app, plot=True):
    """No traceback, and the sections a bad link used to take down: the graph, the plot, the steps."""
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.get("graphviz_chart") and bool(app.get("plotly_chart")) == plot
    assert app.slider(key="backward_step").max > 0


@pytest.mark.parametrize("index", ["inf", "1e400", "-1e400", "nan", "abc", "9" * 5000])
def test_a_link_with_an_element_index_that_is_no_index_shows_element_0(index):
    app = open_link(x=ONES, element_index=index)
    assert_whole_page(app)
    assert "element_index" in notices(app)
    assert app.text_input(key="element_index").value in ("", "0")
    assert "element_index" not in app.query_params, "the bad value is taken out of the link"
    assert slope(app) == 60  # y = 3x + 2, z = 2y²: dz/dx = 12y = 60 at x = 1


def test_a_link_with_an_element_index_past_x_shows_element_0_and_keeps_the_text():
    app = open_link(x=COUNTING, element_index="150")
    assert_whole_page(app)
    assert "Element '150' is outside 0 to 99" in notices(app)
    assert slope(app) == 24  # 12 (3·0 + 2)


def test_a_link_with_a_good_element_index_shows_that_element():
    app = open_link(x=COUNTING, element_index="7")
    assert_whole_page(app)
    assert slope(app) == 276  # 12 (3·7 + 2)
    assert app.query_params["element_index"] == "7"


def test_typing_an_index_that_is_no_index_gives_element_0_and_a_notice():
    app = open_link(x=COUNTING, element_index="7")
    app.text_input(key="element_index").set_value("1e400").run()
    assert_whole_page(app)
    assert "element_index '1e400' is not a whole number" in notices(app)
    assert app.text_input(key="element_index").value == "0"
    assert slope(app) == 24
    app.text_input(key="element_index").set_value("120").run()  # a whole number, but past x's 100 elements
    assert_whole_page(app)
    assert "Element '120' is outside 0 to 99" in notices(app)
    assert app.text_input(key="element_index").value == "120", "the typed text stays, beside the notice"
    assert slope(app) == 24


def test_a_link_with_an_unknown_preset_shows_the_first_example():
    app = open_link(preset="no such example")
    assert_whole_page(app)
    assert "preset 'no such example' is not one of the choices" in notices(app)
    assert app.selectbox(key="preset").value == presets.PRESETS[0].title
    assert "tensor(140., grad_fn=<MeanBackward0>)" in "".join(code.value for code in app.code)


def test_a_link_with_an_unknown_preset_keeps_its_own_x_and_layers():
    app = open_link(preset="nope", x="0.5", layers="y = sin(x)*exp(x)")
    assert_whole_page(app)
    assert "SinBackward0" in app.get("graphviz_chart")[0].proto.spec
    assert app.text_input(key="x").value == "0.5"


@pytest.mark.parametrize(("key", "value"), [("reduction", "max"), ("plain_graph", "maybe"), ("backward_step", "-1"),
                                            ("backward_step", "1e400"), ("present", "2")])
def test_a_link_with_a_bad_value_gets_the_default_and_a_notice(key, value):
    app = open_link(**{key: value})
    assert_whole_page(app)
    assert key in notices(app)
    assert key not in app.query_params


def test_a_link_hiding_an_unknown_section_hides_the_known_ones_and_says_so():
    app = open_link(hide="plot,bogus")
    assert_whole_page(app, plot=False)
    assert "bogus" in notices(app)
    assert app.query_params["hide"] == "plot"


def test_a_link_past_the_last_backward_step_shows_the_whole_pass():
    app = open_link(backward_step="99")  # the seed example's sum pass has 6 steps
    assert_whole_page(app)
    assert "Backward step '99' is outside 0 to 6" in notices(app)
    assert app.slider(key="backward_step").value == 0
    assert "#ffb347" not in app.get("graphviz_chart")[0].proto.spec, "no node is highlighted"


def test_a_link_naming_no_element_of_x_shows_the_first_quietly():
    """An element that no longer exists is an earlier choice for another x: it resets with no notice (#18.9)."""
    app = open_link(element="x[9]", reduction="mean")
    assert_whole_page(app)
    assert "no element" not in notices(app)
    assert app.selectbox(key="element").value == "x[0, 0]"
    assert slope(app) == 10  # 12 (3·1 + 2) / 6 elements


@pytest.mark.parametrize("value, shown", [("max", "sum"), ("mean", "mean"), (None, "sum")])
def test_the_way_backward_starts_is_set_one_way_only(value, shown):
    """The chooser has no default of its own: its value is seeded once, in the session (from the link, or sum).
    A widget given a default and a session value makes Streamlit warn that its state was set twice (#17)."""
    app = open_link(**({} if value is None else {"reduction": value}))
    assert_whole_page(app)
    control = app.get("button_group")[0]
    assert not list(control.proto.default)
    assert app.session_state["reduction"] == shown
