"""The tangent plot's figure, against hand-computed slopes."""

import base64
import json
import math

import numpy as np
import pytest

from explorer import explore
from explorer.views.plot import tangent_curve, tangent_figure
from tests.app_page import open_link


def test_each_slider_step_carries_its_own_slope_in_the_title():
    result = explore("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2")  # d out / dx = 12 (3x + 2) under sum
    layout = tangent_figure(tangent_curve(result, 0, "sum"), "sum").to_dict()["layout"]
    assert "slope at the point = 60" in layout["title"]["text"]
    for step in layout["sliders"][0]["steps"]:
        assert step["method"] == "update"
        t = step["args"][0]["x"][1][0]
        slope = float(step["args"][1]["title.text"].split("= ")[1].split("<")[0])
        assert slope == pytest.approx(12 * (3 * t + 2), rel=1e-4)


def test_nan_in_other_elements_leaves_the_elements_own_term_to_plot():
    result = explore("[[1, 0, -1], [2, 3, 4]]", "y = log(x)")  # log 0 = -inf, log -1 = nan
    curve = tangent_curve(result, 0, "sum")
    assert curve.own_term_only
    assert curve.out_value == pytest.approx(0.0) and curve.grad == pytest.approx(1.0)  # log 1, 1/1
    k = curve.centre + 50  # t = 1.5
    assert curve.out[k] == pytest.approx(math.log(curve.t[k]), rel=1e-6)
    assert "inf or nan" in tangent_figure(curve, "sum").to_dict()["layout"]["title"]["text"]


def test_finite_other_elements_are_summed_as_before():
    result = explore("[1., 2.]", "y = x**2")
    curve = tangent_curve(result, 0, "mean")  # out(t) = (t^2 + 4) / 2
    assert not curve.own_term_only
    assert curve.out_value == pytest.approx(2.5) and curve.grad == pytest.approx(1.0)


def plain(value):
    """JSON with plotly's base64 arrays ({"dtype": "f8", "bdata": ...}) written out as lists, and NaN as null
    (plotly.js draws both as a gap; JSON lists can only say null)."""
    if isinstance(value, dict) and set(value) == {"dtype", "bdata"}:
        numbers = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
        return [None if isinstance(n, float) and math.isnan(n) else n for n in numbers]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@pytest.mark.parametrize("present", [False, True])
@pytest.mark.parametrize(("x_text", "layers"), [("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2"),
                                                ("[[1, 0, -1], [2, 3, 4]]", "y = log(x)"), ("2.0", "y = 7")])
def test_the_unvalidated_figure_is_exactly_what_plotly_would_validate(x_text, layers, present):
    """tangent_figure skips plotly's validation for speed; validating the same spec must change nothing."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from explorer.views.plot import figure_spec

    curve = tangent_curve(explore(x_text, layers), 0, "mean")
    validated = go.Figure(figure_spec(curve, "mean", present))
    ours = pio.to_json(tangent_figure(curve, "mean", present), validate=False)
    assert json.loads(ours) == plain(json.loads(pio.to_json(validated, validate=False)))  # up to key order


def test_the_page_sends_the_figure_as_built():
    """st.plotly_chart takes the figure without copying or checking it again: the chart on the page is the spec,
    with the seed's slope (12 (3x + 2) = 60 at x = 1, under sum) and its 201 samples."""
    app = open_link(x="[[1., 2, 3], [3, 2, 1]]", layers="y = 3*x + 2\nz = 2*y**2")
    sent = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "slope at the point = 60" in sent["layout"]["title"]["text"]
    curve, tangent, point = sent["data"]
    assert len(curve["x"]) == 201 and point["x"] == [1.0]
    assert point["y"] == [840.0]  # out = the sum of 2(3x+2)^2 = 2·2·(25+64+121)
    assert tangent["line"]["dash"] == "dash" and sent["layout"]["sliders"][0]["steps"]
