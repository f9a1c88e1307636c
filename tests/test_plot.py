"""The tangent plot's figure, against hand-computed slopes."""

import json
import math

import pytest

from explorer import explore
from explorer.plot import tangent_curve, tangent_figure


def test_each_slider_step_carries_its_own_slope_in_the_title():
    result = explore("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2")  # d out / dx = 12 (3x + 2) under sum
    figure = tangent_figure(tangent_curve(result, 0, "sum"), "sum")
    assert "slope at the point = 60" in figure.layout.title.text
    for step in figure.layout.sliders[0].steps:
        assert step.method == "update"
        t = step.args[0]["x"][1][0]
        slope = float(step.args[1]["title.text"].split("= ")[1].split("<")[0])
        assert slope == pytest.approx(12 * (3 * t + 2), rel=1e-4)


def test_nan_in_other_elements_leaves_the_elements_own_term_to_plot():
    result = explore("[[1, 0, -1], [2, 3, 4]]", "y = log(x)")  # log 0 = -inf, log -1 = nan
    curve = tangent_curve(result, 0, "sum")
    assert curve.own_term_only
    assert curve.out_value == pytest.approx(0.0) and curve.grad == pytest.approx(1.0)  # log 1, 1/1
    k = curve.centre + 50  # t = 1.5
    assert curve.out[k] == pytest.approx(math.log(curve.t[k]), rel=1e-6)
    assert "inf or nan" in tangent_figure(curve, "sum").layout.title.text


def test_finite_other_elements_are_summed_as_before():
    result = explore("[1., 2.]", "y = x**2")
    curve = tangent_curve(result, 0, "mean")  # out(t) = (t^2 + 4) / 2
    assert not curve.own_term_only
    assert curve.out_value == pytest.approx(2.5) and curve.grad == pytest.approx(1.0)


@pytest.mark.parametrize("present", [False, True])
@pytest.mark.parametrize(("x_text", "layers"), [("[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2"),
                                                ("[[1, 0, -1], [2, 3, 4]]", "y = log(x)"), ("2.0", "y = 7")])
def test_the_unvalidated_figure_is_exactly_what_plotly_would_validate(x_text, layers, present):
    """tangent_figure skips plotly's validation for speed; validating the same spec must change nothing."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from explorer.plot import figure_spec, tangent_figure

    curve = tangent_curve(explore(x_text, layers), 0, "mean")
    validated = go.Figure(figure_spec(curve, "mean", present))
    ours = pio.to_json(tangent_figure(curve, "mean", present), validate=False)
    assert json.loads(ours) == json.loads(pio.to_json(validated, validate=False))  # the same, up to key order
