"""The osculating parabola: it touches the curve at the point (value and slope), bends as the Hessian says, and
marks Newton's step; hand values from the seed z = 2(3x+2)² and micrograd's neuron."""

import json

import numpy as np
import pytest

from explorer import explore, hessian
from explorer.page.presets import BY_KEY
from explorer.views.parabola import curvature, newton_step, parabola, parabola_words, with_parabola
from explorer.views.plot import figure_spec, tangent_curve
from tests.app_page import open_link

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
NEURON = BY_KEY["neuron"]


def test_the_seeds_curvature_is_36_under_sum_and_6_under_mean():
    result = explore(SEED_X, SEED_LAYERS)
    assert curvature(result, 0, "sum") == 36 and curvature(result, 4, "ones_like") == 36  # 2·2·3·3
    assert curvature(result, 2, "mean") == pytest.approx(6)


def test_the_parabola_touches_the_seeds_curve_at_the_point_and_is_the_curve():
    curve = tangent_curve(explore(SEED_X, SEED_LAYERS), 0, "sum")  # at x = 1: out = 840, slope 12·5 = 60
    at = [curve.value - 1e-3, curve.value, curve.value + 1e-3]
    low, mid, high = parabola(curve, 36, at)
    assert mid == 840 and (high - low) / 2e-3 == pytest.approx(60, rel=1e-6)
    # z is quadratic in each element: its parabola is the curve itself
    np.testing.assert_allclose(parabola(curve, 36, curve.t), curve.out, rtol=1e-6)


def test_newton_steps_to_the_seeds_minimum_in_one_step():
    # 3x + 2 = 0 at x = -2/3, where the parabola's vertex is 840 - 60²/72 = 790 (the other elements' 790)
    curve = tangent_curve(explore(SEED_X, SEED_LAYERS), 0, "sum")
    assert newton_step(1.0, 60.0, 36.0) == pytest.approx(-2 / 3)
    spec = with_parabola(figure_spec(curve, "sum"), curve, 36.0)
    marker = spec["data"][4]
    assert marker["x"] == [pytest.approx(-2 / 3)] and marker["y"] == [pytest.approx(790)]
    assert spec["data"][3]["name"] == "parabola" and marker["name"] == "Newton step"
    assert parabola_words(curve, 36.0) == ("Parabola: h = d²out/dx[0, 0]² = 36 at the point; Newton's step v − g/h"
                                           " = 1 − (60)/(36) = -0.666667 (×).")
    assert newton_step(1.0, 60.0, 0.0) is None and newton_step(1.0, 60.0, float("nan")) is None


def test_a_leaf_elements_curvature_is_its_hessian_diagonal_entry_and_the_parabola_touches():
    result = explore(NEURON.x, NEURON.layers)
    diagonal = hessian(result, "sum").diagonal().tolist()
    assert [curvature(result, i, "sum") for i in range(5)] == pytest.approx(diagonal, abs=1e-6)
    curve = tangent_curve(result, 4, "sum")  # b: o = tanh(n), do/db = 0.5, d²o/db² = -2·o·(1 - o²) = -0.7071
    h = curvature(result, 4, "sum")
    assert h == pytest.approx(-0.70711, abs=1e-4)
    k = curve.centre
    assert parabola(curve, h, [curve.t[k]])[0] == pytest.approx(curve.out[k])
    dt = curve.t[k + 1] - curve.t[k]
    near = parabola(curve, h, curve.t[k - 1:k + 2])
    assert (near[2] - near[0]) / (2 * dt) == pytest.approx(curve.slope[k], rel=1e-4)  # the same slope, 0.5
    bend = (curve.out[k + 1] - 2 * curve.out[k] + curve.out[k - 1]) / dt**2
    assert bend == pytest.approx(h, rel=0.02)  # the curve bends as the parabola does


def test_the_slider_still_moves_the_tangent_and_the_point():
    curve = tangent_curve(explore(SEED_X, SEED_LAYERS), 0, "sum")
    spec = with_parabola(figure_spec(curve, "sum"), curve, 36.0)
    assert [trace["name"] for trace in spec["data"][:3]] == ["out", "tangent", "point"]
    assert spec["layout"]["sliders"][0]["steps"][0]["args"][2] == [1, 2]


def test_a_link_turns_the_parabola_on():
    app = open_link(x=SEED_X, layers=SEED_LAYERS, parabola="true")
    assert not app.exception
    sent = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = [trace["name"] for trace in sent["data"]]
    assert names[3:] == ["parabola", "Newton step"]
    assert any("h = d²out/dx\\[0, 0\\]² = 36" in caption.value for caption in app.caption)
    assert sent["data"][4]["x"] == [pytest.approx(-2 / 3)]
    plain = open_link(x=SEED_X, layers=SEED_LAYERS)
    assert len(json.loads(plain.get("plotly_chart")[0].proto.spec)["data"]) == 3


def test_the_parabola_reaches_out_to_a_near_newton_step_and_a_far_one_is_left_to_the_caption():
    curve = tangent_curve(explore(SEED_X, SEED_LAYERS), 0, "sum")  # t from 0 to 2
    near = with_parabola(figure_spec(curve, "sum"), curve, 36.0)["data"][3]["x"]
    assert near[0] == pytest.approx(-2 / 3) and near[-1] == pytest.approx(2)
    far = with_parabola(figure_spec(curve, "sum"), curve, 0.01)  # v - g/h = 1 - 6000
    assert len(far["data"]) == 4 and far["data"][3]["x"][0] == 0
    assert "= -5999 (off the plot)." in parabola_words(curve, 0.01)
