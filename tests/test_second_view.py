"""The "Second derivatives" section: the Hessian's heatmap against hand values, its admission, and the page."""

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from explorer import FormulaError, explore
from explorer.engine import limits
from explorer.engine.cost import hessian_cost
from explorer.page.presets import BY_KEY
from explorer.serving import facade
from explorer.views.second import heatmap_spec, second_order
from tests.app_page import open_link

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
NEURON = BY_KEY["neuron"]


def test_the_seed_heatmap_is_36_on_the_diagonal_with_numbers_and_element_labels():
    second = second_order(explore(SEED_X, SEED_LAYERS), "sum")
    assert second.labels == ("x[0, 0]", "x[0, 1]", "x[0, 2]", "x[1, 0]", "x[1, 1]", "x[1, 2]")
    np.testing.assert_allclose(second.matrix, 36 * np.eye(6))
    heat = heatmap_spec(second)["data"][0]
    assert heat["x"] == heat["y"] == list(second.labels)
    assert heat["texttemplate"] == "%{z:.4~g}" and heat["zmax"] == 36 and heat["zmin"] == -36


def test_an_elementwise_program_reads_the_diagonal_as_second_derivatives_shaped_like_x():
    assert second_order(explore(SEED_X, SEED_LAYERS), "mean").diagonal == (
        "tensor([[6., 6., 6.],\n        [6., 6., 6.]])")  # 36 / 6 elements
    # sin'' = -sin: at 0 and pi/2
    second = second_order(explore("[0.0, 1.5707963]", "y = sin(x)"), "sum")
    assert second.diagonal.startswith("tensor([-0., -1.])") or second.diagonal.startswith("tensor([0., -1.])")


def test_a_program_with_leaves_labels_each_leaf_element_and_has_no_diagonal_reading():
    second = second_order(explore(NEURON.x, NEURON.layers), "sum")
    assert second.labels == ("x[0]", "x[1]", "w[0]", "w[1]", "b")
    assert second.diagonal == ""
    # o = tanh(n), n = x·w + b: d²o/db² = -2 o (1 - o²) = -2 · 0.7071 · 0.5
    assert second.matrix[4, 4] == pytest.approx(-0.70711, abs=1e-4)
    np.testing.assert_allclose(second.matrix, second.matrix.T, atol=1e-6)


def test_plotly_validation_leaves_the_heatmap_unchanged():
    spec = heatmap_spec(second_order(explore(NEURON.x, NEURON.layers), "mean"))
    validated = json.loads(pio.to_json(go.Figure(spec), validate=False))
    assert validated["data"][0]["z"] == spec["data"][0]["z"]
    assert validated["layout"]["yaxis"]["autorange"] == "reversed"


def test_many_cells_are_coloured_without_numbers():
    second = second_order(explore(str([0.5 + i for i in range(13)]), "y = x**3"), "sum")
    assert "texttemplate" not in heatmap_spec(second)["data"][0]


def test_the_hessian_costs_a_pass_per_element_and_its_limit_is_the_engines_error():
    result = explore(SEED_X, SEED_LAYERS)
    work = hessian_cost(result.cost.elements, result.work, 6)
    assert work.work == 6 * result.work and work.bytes > result.cost.bytes // 10
    big = explore(str([0.5] * (limits.MAX_HESSIAN_ELEMENTS + 1)), "y = x**2")
    with pytest.raises(FormulaError, match="the Hessian over 101 leaf elements"):
        facade.hessian(big, "sum")


def test_a_link_opens_the_section_with_the_heatmap_the_diagonal_and_the_graph_of_backward():
    app = open_link(x=SEED_X, layers=SEED_LAYERS, second="true")
    assert not app.exception
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    heat = next(chart for chart in charts if chart["data"][0]["type"] == "heatmap")
    assert heat["data"][0]["z"][0][:2] == [36.0, 0.0]
    assert any("36., 36., 36." in block.value for block in app.code)
    dots = [chart.proto.spec for chart in app.get("graphviz_chart")]
    assert any("x.grad" in dot for dot in dots)
    assert any("graph of backward itself" in caption.value for caption in app.caption)


def test_over_the_limit_the_section_says_why_and_the_graph_of_backward_still_shows():
    app = open_link(x=str([0.5] * 101), layers="y = x**2", second="true")
    assert not app.exception
    assert any("the Hessian over 101 leaf elements" in info.value for info in app.info)
    assert any("x.grad" in chart.proto.spec for chart in app.get("graphviz_chart"))


def test_closed_the_section_computes_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(facade, "second_order", lambda *args: calls.append(args))
    app = open_link(x="0.8125", layers="y = x**3")
    assert not app.exception and calls == []


def test_a_view_heavier_than_its_exploration_is_admitted_on_its_own(monkeypatch):
    roads = []
    monkeypatch.setattr(facade, "_within", lambda result, compute: roads.append("within") or compute())
    monkeypatch.setattr(facade, "_admitted", lambda work, compute: roads.append(work.lane) or compute())
    result = explore("[0.5, 1.5, 2.5]", "y = x**2")
    light = hessian_cost(result.cost.elements, result.work, 3)
    assert facade._view_admitted(result, light, lambda: 7) == 7 and roads == ["within"]
    heavy = hessian_cost(result.cost.elements, 10**6, 100)  # 100 passes of a long program: the heavy lane
    assert heavy.lane == "heavy" and facade._view_admitted(result, heavy, lambda: 8) == 8 and roads[-1] == "heavy"
