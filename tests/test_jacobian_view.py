"""The Jacobian section (issue 19, the page): J as a heatmap, every way of backward as vᵀJ, one pass each way,
and reverse = forward = finite differences; the vjp, the check and the costs behind it."""

import json

import numpy as np
import pytest
import torch

from explorer import FormulaError, explore
from explorer.engine import limits
from explorer.engine.exploration import prepare
from explorer.engine.jacobian import jacobian, jacobian_passes, vjp
from explorer.engine.jacobian_check import check_jacobian
from explorer.page.presets import BY_KEY
from explorer.serving import facade
from explorer.views.jacobian import heatmap, jacobian_view, one_pass_each, passes_sentence, reading_text
from tests.app_page import open_link as run_app

SEED_X, SEED_LAYERS = "[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2"
MATMUL_X, MATMUL_LAYERS = "[1., 2]", "W = [[1., 2], [3, 4], [5, 6]]\nz = W @ x"


def seed(vector=None):
    return explore(SEED_X, SEED_LAYERS, vector=vector)


# ---------------------------------------------------------------- engine: vjp, passes, the check


def test_vjp_with_a_one_hot_is_that_row_of_j_by_its_own_backward_pass():
    result = explore(MATMUL_X, MATMUL_LAYERS)
    # z = W x: dz[i]/dx = W[i], dz[i]/dW[i, k] = x[k]
    assert vjp(result, "x", [0., 1, 0]).tolist() == [3, 4]
    assert vjp(result, "W", [0., 1, 0]).tolist() == [[0, 0], [1, 2], [0, 0]]
    assert vjp(result, "x", [1., 1, 1]).tolist() == result.grads["sum"].tolist() == [9, 12]


def test_vjp_refuses_a_wrong_shape_and_an_unknown_leaf():
    result = explore(MATMUL_X, MATMUL_LAYERS)
    with pytest.raises(FormulaError, match=r"shape \(2,\) but z has shape \(3,\)"):
        vjp(result, "x", [1., 1])
    with pytest.raises(FormulaError, match="unknown leaf 'q'"):
        vjp(result, "q", [1., 1, 1])


def test_jacobian_passes_are_the_fewer_of_rows_and_columns_and_refuse_before_work():
    assert jacobian_passes(explore(MATMUL_X, MATMUL_LAYERS), "W") == 3  # 3 rows, 6 columns
    assert jacobian_passes(explore(MATMUL_X, MATMUL_LAYERS), "x") == 2
    wide = explore(str([float(i) for i in range(101)]), "y = x*x")  # 101 × 101 = 10,201 entries
    with pytest.raises(FormulaError, match="10,201 entries"):
        jacobian_passes(wide, "x")


def test_the_check_agrees_on_j_and_catches_a_wrong_one():
    result = seed()
    good = check_jacobian(result, "x", jacobian(result, "x"))
    assert good.passed is True and good.total == 6 and not good.sampled
    assert [row.label for row in good.columns] == ["x[0, 0]", "x[0, 1]", "x[0, 2]", "x[1, 0]", "x[1, 1]", "x[1, 2]"]
    wrong = jacobian(result, "x").clone()
    wrong[0, 2, 0, 2] = 133.0  # 12(3*3 + 2) is 132
    bad = check_jacobian(result, "x", wrong)
    assert bad.passed is False and [row.ok for row in bad.columns] == [True, True, False, True, True, True]
    assert bad.columns[2].forward == pytest.approx(1.0) and bad.columns[2].finite_difference == pytest.approx(1, 1e-3)


def test_the_check_samples_columns_above_its_cap():
    result = explore(str([0.5 * i for i in range(60)]), "y = sin(x)")
    check = check_jacobian(result, "x", jacobian(result, "x"))
    assert check.sampled and len(check.columns) == limits.MAX_CHECKED_ELEMENTS and check.total == 60
    assert check.columns[0].label == "x[0]" and check.columns[-1].label == "x[59]" and check.passed


def test_the_check_holds_detach_still_as_autograd_does():
    result = explore("[1., 2]", "y = x * detach(x)")  # d/dx of x·c is c: x itself, not 2x
    matrix = jacobian(result, "x")
    assert torch.equal(matrix, torch.tensor([[1., 0], [0, 2]]))
    assert check_jacobian(result, "x", matrix).passed


# ---------------------------------------------------------------- costs


def test_a_vector_costs_a_fourth_backward_pass():
    without, with_v = prepare(SEED_X, SEED_LAYERS), prepare(SEED_X, SEED_LAYERS, "[[1, 1, 1], [1, 1, 1]]")
    assert with_v.cost.bytes > without.cost.bytes and with_v.key != without.key


def test_the_jacobian_is_admitted_with_a_cost_of_its_passes(monkeypatch):
    costs = []
    original = facade._admitted
    monkeypatch.setattr(facade, "_admitted", lambda work, compute, on_wait=None: costs.append(work) or original(
        work, compute, on_wait))
    result = explore(MATMUL_X, MATMUL_LAYERS)
    facade.jacobian(result, "W")
    assert costs and costs[0].work == result.work * 3


# ---------------------------------------------------------------- the views


def test_every_way_reads_as_the_v_weighted_sum_of_j_rows():
    view = jacobian_view(seed("[[1, 0, -2], [0.5, 3, 0]]"), "x")
    assert [reading.way for reading in view.readings] == ["sum", "mean", "ones_like", "vector"]
    assert all(reading.agrees for reading in view.readings)
    assert view.readings[1].product.tolist() == pytest.approx([10, 16, 22, 22, 16, 10])
    text = reading_text(view)
    assert "vᵀJ = 1·J[z[0, 0]] + 0·J[z[0, 1]] - 2·J[z[0, 2]] + 0.5·J[z[1, 0]] + … (6 rows)" in text
    assert "= [60, 0, -264, 66, 288, 0]" in text and "x.grad = [60, 0, -264, 66, 288, 0]  ✓" in text


def test_an_elementwise_program_has_a_diagonal_j_and_the_page_says_why():
    view = jacobian_view(seed(), "x")
    assert np.array_equal(view.matrix, np.diag([60., 96, 132, 132, 96, 60]))
    assert "J is diagonal" in view.diagonal and "own derivative" in view.diagonal
    assert jacobian_view(explore(MATMUL_X, MATMUL_LAYERS), "x").diagonal == ""


def test_the_neurons_j_by_w_is_one_row():
    result = explore(BY_KEY["neuron"].x, BY_KEY["neuron"].layers)
    view = jacobian_view(result, "w")
    assert view.matrix.tolist() == [[pytest.approx(1.0), 0.0]] and view.rows == ("o",)
    assert view.columns == ("w[0]", "w[1]")


def test_the_heatmap_labels_rows_and_columns_and_numbers_small_ones():
    view = jacobian_view(explore(MATMUL_X, MATMUL_LAYERS), "W")
    spec = heatmap(view).to_dict()
    trace = spec["data"][0]
    assert trace["y"] == ["z[0]", "z[1]", "z[2]"]
    assert trace["x"] == ["W[0, 0]", "W[0, 1]", "W[1, 0]", "W[1, 1]", "W[2, 0]", "W[2, 1]"]
    assert trace["z"].tolist() == [[1, 2, 0, 0, 0, 0], [0, 0, 1, 2, 0, 0], [0, 0, 0, 0, 1, 2]]
    assert "texttemplate" in trace and spec["layout"]["yaxis"]["autorange"] == "reversed"
    big = heatmap(jacobian_view(explore(str([0.1 * i for i in range(20)]), "y = x*x"), "x")).to_dict()
    assert "texttemplate" not in big["data"][0]  # 400 cells: colours only


def test_one_forward_pass_gives_a_column_and_one_backward_pass_a_row():
    result = explore(MATMUL_X, MATMUL_LAYERS)
    one = one_pass_each(result, "W", 3)  # W[1, 1]; z has 3 elements, so its row is the first, z[0]
    assert one.column_label == "W[1, 1]" and one.column.tolist() == [0, 2, 0]  # dz/dW[1,1] = x[1] e_1
    assert one.row_label == "z[0]" and one.row.tolist() == [1, 2, 0, 0, 0, 0]
    assert (one.backward_passes, one.forward_passes) == (3, 6)
    assert "**3 backward passes**" in passes_sentence(one, "W", "z") and "backward is cheaper" in \
        passes_sentence(one, "W", "z")


# ---------------------------------------------------------------- the page


def test_the_section_is_folded_and_computes_nothing_until_opened(monkeypatch):
    calls = []
    monkeypatch.setattr(facade, "jacobian_view", lambda *args: calls.append(args))
    app = run_app(x="0.8125", layers="y = 3*x**2")
    assert not app.exception and calls == [] and len(app.get("plotly_chart")) == 1


def test_opened_by_a_link_it_shows_j_its_readings_and_the_check():
    app = run_app(vector="[[0, 0, 1], [0, 0, 0]]", reduction="vector", jacobian="true", element="x[0, 2]")
    assert not app.exception and not app.error
    figure = json.loads(app.get("plotly_chart")[1].proto.spec)
    assert figure["layout"]["title"]["text"] == "J = d z / d x: 6 × 6"
    text = "\n".join(block.value for block in app.code)
    assert "x.grad = [0, 0, 132, 0, 0, 0]  ✓" in text  # the one-hot picks row z[0, 2]
    assert any("J is diagonal" in block.value for block in app.markdown)
    assert any("✓ agree" in block.value for block in app.markdown) and len(app.table) == 1


def test_the_leaf_is_the_chosen_elements():
    app = run_app(x=MATMUL_X, layers=MATMUL_LAYERS, jacobian="true", element="W[1, 1]")
    assert not app.exception
    figure = json.loads(app.get("plotly_chart")[1].proto.spec)
    assert figure["data"][0]["x"][0] == "W[0, 0]"
    assert "[0, 2, 0]" in [block.value for block in app.code]  # the forward-mode column W[1, 1]


def test_over_its_limit_the_section_says_so_in_place():
    app = run_app(x=str([float(i) for i in range(101)]), layers="y = x*x", jacobian="true", element_index="0")
    assert not app.exception
    said = [info.value.replace("\\", "") for info in app.info if "No Jacobian here" in info.value]
    assert said and "10,201 entries" in said[0] and "over the limit of 10,000" in said[0]
    assert app.get("graphviz_chart")


def test_hide_takes_the_section_away():
    app = run_app(jacobian="true", hide="jacobian")
    assert not app.exception and not any("vᵀJ" in block.value for block in app.code)


def test_on_a_projector_the_sections_draw_too():
    app = run_app(present="true", jacobian="true", accumulate="true", vector="[[1, 1, 1], [1, 1, 1]]")
    assert not app.exception and not app.error
    assert any("vᵀJ" in block.value for block in app.code) and any("retain_graph" in b.value for b in app.code)
