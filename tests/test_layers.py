"""Leaves, @, detach, sum and mean (issue 11): the engine against values worked out by hand."""

import math
import time

import numpy as np
import pytest
import torch

from explorer import FormulaError, explore
from explorer.engine.exploration import prepare
from explorer.page.presets import BY_KEY


def close(tensor, expected, tol=1e-5):
    return np.allclose(tensor.detach().double().numpy(), np.asarray(expected, dtype=np.float64), atol=tol, rtol=tol)


def preset(key):
    return explore(BY_KEY[key].x, BY_KEY[key].layers)


def test_micrograd_neuron_gives_the_lecture_numbers():
    result = preset("neuron")
    assert result.output.item() == pytest.approx(0.7071, abs=1e-4)
    for name in ("sum", "mean", "ones_like"):  # one output element: every reduction agrees
        grads = result.leaf_grads[name]
        assert list(grads) == ["x", "w", "b"]
        assert close(grads["x"], [-1.5, 0.5]) and close(grads["w"], [1.0, 0.0]) and close(grads["b"], 0.5)
        assert torch.equal(result.grads[name], grads["x"])  # r.grads stays x.grad


def test_linear_layer_tanh_and_mse_against_a_detached_target():
    result = preset("linear_mse")
    x, W, b, target = np.array([1.0, 2.0]), np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([0.0, 0.1]), [0.0, 1.0]
    h = np.tanh(W @ x + b)  # tanh(0.5), tanh(1.2)
    dpre = (h - target) * (1 - h**2)  # mean over 2 of (h - t)^2: the 2s cancel
    assert result.output.item() == pytest.approx(np.mean((h - target) ** 2), rel=1e-5)
    grads = result.leaf_grads["sum"]
    assert close(grads["W"], np.outer(dpre, x)) and close(grads["b"], dpre) and close(grads["x"], W.T @ dpre)
    assert "target" not in grads  # a detached list is a constant, not a leaf


def test_softmax_cross_entropy_gradient_is_p_minus_onehot():
    result = preset("softmax_cross_entropy")
    x, W = np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    assert result.output.item() == pytest.approx(-math.log(p[1]), rel=1e-5)
    ds = p - np.array([0.0, 1.0, 0.0])
    assert close(result.leaf_grads["mean"]["W"], np.outer(ds, x)) and close(result.leaf_grads["mean"]["x"], W.T @ ds)


def test_broadcast_bias_shared_by_two_layers_sums_over_rows_and_uses():
    result = preset("shared_bias")
    h = np.array([[2.1, 4.2, 6.3], [6.1, 4.2, 2.3]])  # 2x + b
    grads = result.leaf_grads["sum"]
    assert close(grads["b"], [18.4, 18.8, 19.2])  # sum over rows of 2h + 1
    assert close(grads["x"], 4 * h)
    assert close(result.leaf_grads["mean"]["b"], np.array([18.4, 18.8, 19.2]) / 6)


def test_leaf_used_in_two_layers_accumulates():
    result = explore("3.0", "w = 2.0\nh = w*x\ny = w*h")  # y = w^2 x
    assert result.output.item() == 12.0
    assert close(result.leaf_grads["sum"]["w"], 12.0) and close(result.leaf_grads["sum"]["x"], 4.0)


def test_detach_stops_the_gradient():
    result = explore("[1., 2, 3]", "y = x * detach(x)")
    assert close(result.grads["sum"], [1.0, 2.0, 3.0])  # not 2x


def test_matrix_at_matrix_under_ones_like():
    result = explore("[[5., 6], [7, 8]]", "W = [[1., 2], [3, 4]]\ny = W @ x")
    assert close(result.output, [[19, 22], [43, 50]])
    grads = result.leaf_grads["ones_like"]
    assert close(grads["W"], [[11, 15], [11, 15]])  # ones @ x^T: row sums of x
    assert close(grads["x"], [[4, 4], [6, 6]])  # W^T @ ones: column sums of W


def test_vector_at_vector_is_a_dot_product():
    result = explore("[1., 2, 3]", "v = [4., 5, 6]\ny = x @ v")
    assert result.output.item() == 32.0
    assert close(result.leaf_grads["sum"]["v"], [1, 2, 3]) and close(result.leaf_grads["sum"]["x"], [4, 5, 6])


def test_sum_and_mean_inside_a_formula():
    result = explore("[1., 2, 3, 4]", "y = x / sum(x) + mean(x)")
    s = 10.0
    # d/dx_k of sum_i (x_i/s + m) = 1/s - sum_i x_i/s^2 + 4 * 1/4 = 1
    assert close(result.grads["sum"], [1.0, 1.0, 1.0, 1.0])
    assert close(result.output, [1 / s + 2.5, 2 / s + 2.5, 3 / s + 2.5, 4 / s + 2.5])


def test_unreached_leaf_has_zero_grad_and_is_named():
    result = explore("[1., 2]", "w = [5., 6]\ny = 2*x")
    assert close(result.leaf_grads["sum"]["w"], [0.0, 0.0])
    assert result.reductions["sum"].unreached == ("w",)


def test_a_bare_number_on_the_last_line_stays_a_constant_layer():
    result = explore("[1., 2]", "y = 2")
    assert close(result.output, [2.0, 2.0]) and result.program.leaves == ()


@pytest.mark.parametrize(
    "x, layers, message",
    [
        ("[1., 2, 3]", "W = [[1., 2], [3, 4]]\n\nh = W @ x",
         "line 3, col 7: W @ x: shapes (2, 2) and (3,): inner dimensions 2 and 3 differ"),
        ("[1., 2, 3]", "v = [1., 2]\ny = x + v", "line 2, col 7: x + v: shapes (3,) and (2,): they do not broadcast"),
        ("[1., 2]", "b = 0.5\ny = b @ x", "line 2, col 7: b @ x: shapes () and (2,): @ needs a tensor of at least one"),
        ("[1., 2]", "y = 2 @ x", "line 1, col 7: 2 @ x: @ needs a tensor on each side"),
        ("[1., 2]", "w = [[1., 2], [3]]\ny = x", "line 1, col 5: w is ragged"),
        ("[1., 2]", "w = [1., 2]\nw = [3., 4]\ny = x", "line 2, col 1: 'w' is already defined"),
        ("[1., 2]", "sum = [1., 2]\ny = x", "'sum' is a function or constant"),
        ("[1., 2]", "y = x + [1, 2]", "a list is a leaf on a line of its own"),
        ("[[1., 2], [3, 4]]", "A = [[[1., 2]], [[3, 4]], [[5, 6]]]\ny = A @ x\nz = x @ A",
         "line 3, col 7: x @ A: shapes (2, 2) and (3, 1, 2): inner dimensions 2 and 1 differ"),
    ],
)
def test_shape_and_declaration_mistakes_are_clear_formula_errors(x, layers, message):
    with pytest.raises(FormulaError) as caught:
        explore(x, layers)
    assert message in str(caught.value)


def test_matmul_work_counts_m_n_k_and_twelve_big_layers_answer_or_are_refused_before_work():
    small = "[" + ", ".join(["[" + ", ".join(["0.01"] * 100) + "]"] * 100) + "]"
    assert prepare(small, "h = x @ x\ny = h + 1").work == 100 * 100 * 100 + 100 * 100
    row = "[" + ", ".join(["0.01"] * 300) + "]"
    x = "[" + ", ".join([row] * 300) + "]"
    layers = "\n".join(["h1 = x @ x"] + [f"h{i + 1} = h{i} @ x" for i in range(1, 12)])
    started = time.perf_counter()
    with pytest.raises(FormulaError, match="element-operations"):
        prepare(x, layers)
    assert time.perf_counter() - started < 30  # refused by the shape pass; a generous bound, not a benchmark


# ---------------------------------------------------------------- property: every leaf, against finite differences


def _matrix(draw, st, rows, cols):
    values = st.floats(-1, 1, allow_nan=False, width=32).map(lambda v: round(v, 4))  # within the digit limit
    flat = draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))
    return [flat[r * cols:(r + 1) * cols] for r in range(rows)]


def _layer_programs():
    from hypothesis import strategies as st

    @st.composite
    def programs(draw):
        n, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        x = _matrix(draw, st, 1, n)[0]
        W = _matrix(draw, st, k, n)
        b = draw(st.one_of(st.floats(-1, 1, width=32).map(lambda v: repr(round(v, 4))),
                           st.just(repr(_matrix(draw, st, 1, k)[0]))))
        v = _matrix(draw, st, 1, k)[0]
        f = draw(st.sampled_from(["tanh", "sigmoid", "sin", "softplus", "cos"]))
        head = draw(st.sampled_from([
            "y = sum(h*h)", "y = mean(h) * h", "y = h @ v", "y = h * detach(h) + v",
            "g = exp(h)\ny = g / sum(g)", "y = (h - detach(v))**2",
        ]))
        layers = f"W = {W}\nb = {b}\nv = {v}\nh = {f}(W @ x + b)\n{head}"
        return repr(x), layers

    return programs()


def _finite_difference(result, name, flat, reduction, step=1e-6):
    """Central difference in float64, with detach(...) held at its unperturbed value: no path through it."""
    from explorer.engine.forward import run_forward

    frozen = {}

    def out(moved):
        leaves = {n: t.double() for n, t in result.leaves.items()}
        base = leaves[name].flatten().clone()
        base[flat] += moved
        leaves[name] = base.reshape(leaves[name].shape)
        x = leaves.pop("x")
        z = run_forward(result.program, x, leaves=leaves, frozen=frozen)[result.program.output.name].double()
        return z.mean() if reduction == "mean" else z.sum()

    with torch.no_grad():
        out(0.0)  # fills frozen with the unperturbed detach values
        return float((out(step) - out(-step)) / (2 * step))


def test_autograd_agrees_with_float64_finite_differences_for_every_leaf():
    from hypothesis import given, settings

    @settings(max_examples=60, deadline=None)
    @given(_layer_programs())
    def check(case):
        x_text, layers = case
        result = explore(x_text, layers)
        for reduction in ("sum", "mean", "ones_like"):
            for name, grad in result.leaf_grads[reduction].items():
                for flat in range(grad.numel()):
                    expected = _finite_difference(result, name, flat, reduction)
                    got = float(grad.flatten()[flat])
                    assert abs(got - expected) <= 1e-3 + 1e-3 * abs(expected), (layers, reduction, name, flat)

    check()


# ---------------------------------------------------------------- the views


def test_check_judges_every_leaf_element_and_holds_detach_at_its_value():
    from explorer.engine.verify import verify

    checked = verify(preset("neuron"))
    assert checked.passed
    rows = checked.checks["sum"].rows
    assert [row.label for row in rows] == ["x[0]", "x[1]", "w[0]", "w[1]", "b"]
    assert [round(row.finite_difference, 4) for row in rows] == [-1.5, 0.5, 1.0, 0.0, 0.5]
    detached = verify(explore("[1., 2, 3]", "y = x * detach(x)"))
    assert detached.passed  # the reference holds detach(x) fixed, as autograd does: slope x, not 2x
    assert [round(row.finite_difference, 4) for row in detached.checks["sum"].rows] == [1.0, 2.0, 3.0]


def test_check_samples_above_the_cap_and_says_how_many():
    from explorer.engine import limits
    from explorer.engine.verify import verify

    x = "[" + ", ".join(str(i / 10) for i in range(60)) + "]"
    checked = verify(explore(x, "y = x * sum(x)"))
    check = checked.checks["mean"]
    assert check.total == 60 and check.elements == limits.MAX_CHECKED_ELEMENTS and check.passed
    assert check.rows[0].label == "x[0]" and check.rows[-1].label == "x[59]"


def test_tangent_varies_one_leaf_element_and_its_slope_is_that_grad():
    from explorer.views.plot import tangent_curve

    result = preset("neuron")
    curve = tangent_curve(result, 2, "sum")  # w[0]
    assert curve.label == "w[0]" and curve.value == -3.0 and curve.grad == pytest.approx(1.0, abs=1e-6)
    assert curve.out_value == pytest.approx(0.70710678, abs=1e-6)
    # out(t) = tanh(2t + 6.8813734): its slope at each sample is 2(1 - out²)
    assert np.allclose(curve.slope, 2 * (1 - np.tanh(2 * curve.t + 6.8813734) ** 2), atol=1e-5)
    detached = tangent_curve(explore("[1., 2, 3]", "y = x * detach(x)"), 1, "sum")
    assert detached.grad == pytest.approx(2.0)
    assert np.allclose(np.gradient(detached.out, detached.t)[90:110], 2.0, atol=1e-3)  # the curve holds detach fixed


def test_step_through_shows_a_leaf_used_twice_accumulating():
    from explorer.views.walkthrough import describe_tensors

    result = explore("3.0", "w = 2.0\nh = w*x\ny = w*h")
    steps = [describe_tensors(result, "sum", n) for n in range(1, len(result.reductions["sum"].steps) + 1)]
    w_step = next(step for step in steps if step.leaf == "w")
    assert w_step.incoming == "12"  # h·1 through y, plus w·x... d y/dh · dh/dw = 2·3: 6 + 6
    assert sorted(grad for _, grad in w_step.arrivals) == ["6", "6"]
    assert {source for source, _ in w_step.arrivals} == {"y", "h"}


@pytest.mark.slow  # over 5 s (--durations)
def test_chain_rule_gives_one_symbol_per_element_and_the_lecture_numbers():
    from explorer.symbolic.calculus import describe
    from explorer.symbolic.client import symbolic_derivation

    program = preset("neuron").program
    derivation = symbolic_derivation(program, [2.0, 0.0])  # through the worker, over the wire
    assert derivation.status == "ok", derivation.message
    assert derivation.layers[0].formula == r"o = \tanh{\left(b + w_{0} x_{0} + w_{1} x_{1} \right)}"
    assert np.allclose(derivation.reductions["sum"].values, [-1.5, 0.5, 1.0, 0.0, 0.5], atol=1e-6)
    assert r"\frac{\partial\,\mathrm{out}}{\partial w_{0}} &= 1" in derivation.reductions["sum"].latex
    softmax = describe(preset("softmax_cross_entropy").program, [1.0, 2.0])
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    ds = p - np.array([0.0, 1.0, 0.0])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert np.allclose(softmax.reductions["sum"].values, [*(W.T @ ds), *np.outer(ds, [1.0, 2.0]).flatten()])


def test_chain_rule_past_the_element_cap_is_too_large_to_show():
    from explorer.symbolic.calculus import describe

    derivation = describe(explore("[1., 2, 3]", "W = " + str([[1.0] * 3] * 8) + "\ny = W @ x").program, [1, 2, 3])
    assert derivation.status == "too_large" and "27 scalar elements" in derivation.message


def test_export_declares_leaves_and_detached_lists_and_prints_every_grad():
    from explorer.views.export import export_script

    script = export_script(BY_KEY["linear_mse"].x, BY_KEY["linear_mse"].layers)
    assert "W = torch.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)" in script
    assert "b = torch.tensor([0.0, 0.1], requires_grad=True)" in script
    assert "target = torch.detach(torch.tensor([0.0, 1.0]))" in script
    assert "h = torch.tanh(W @ x + b)" in script
    for name in ("x", "W", "b"):
        assert f"print({name}.grad)" in script


def test_a_list_on_the_output_line_and_overflowing_leaves_say_what_happened():
    with pytest.raises(FormulaError, match="the last line is the output"):
        explore("[1., 2]", "y = [1, 2]")
    result = explore("[1., 2]", "w = [1e9, 1e9]\ny = sum(x*w)**10")  # (3e9)^10 overflows float32
    assert result.warnings[0] == "layer y (line 2) produced inf or nan, first at y"
    assert "w.grad under sum holds inf or nan" in result.warnings


def test_graph_names_every_leaf_and_draws_detached_operands_as_constants():
    from explorer.views.graph import annotated_dot

    dot = annotated_dot(preset("linear_mse"), "mean")
    # dpre = (h - target)(1 - h²) = [0.3634, -0.0507] for h = tanh([0.5, 1.2]); W.grad = dpre ⊗ x, x = [1, 2]
    assert "W\\nvalue [[0.1, 0.2], [0.3, 0.4]]\\ngrad [[ 0.3634,  0.7269], [-0.0507, -0.1015]]" in dot
    assert "b\\nvalue [0. , 0.1]" in dot and "W.grad += " in dot and "b.grad += " in dot
    assert 'label="target\\nconstant: no gradient" shape=box style=dashed' in dot
    softmax = annotated_dot(preset("softmax_cross_entropy"), "sum")
    assert "detach([0.0, 1.0, 0.0])\\nconstant: no gradient" in softmax


@pytest.mark.parametrize(
    "layers, message",
    [
        ("w = [x]\ny = w", "line 1, col 6: unexpected 'x': w holds numbers, commas and [ ]"),
        ("w = [[[[[1.]]]]]\ny = x", "w nests deeper than 4 levels"),
        ("w = [1e30]\ny = x", "1e30 is outside ±1e+09"),
        ("w = [1., 2]\ny = detach(w, x)", "detach() takes exactly one argument"),
    ],
)
def test_leaf_values_go_through_the_x_fields_rules(layers, message):
    with pytest.raises(FormulaError) as caught:
        explore("[1., 2]", layers)
    assert message in str(caught.value)


def test_leaves_count_against_the_element_limit(monkeypatch):
    from explorer.engine import limits

    monkeypatch.setattr(limits, "MAX_X_ELEMENTS", 3)
    with pytest.raises(FormulaError, match="line 2: the leaves have 4 elements; the limit is 3"):
        explore("1.0", "a = [1., 2]\nb = [3., 4]\ny = x")


def test_a_nan_from_a_leaf_is_placed_at_its_layer_never_at_x_of_nothing():
    """w = -3 with z = sqrt(w): the nan comes from w, and x is a scalar: "first at x[]" named no element (#17)."""
    result = explore("2", "w = -3.0\ny = x**w\nz = sqrt(w)")
    assert result.warnings[0] == "layer z (line 3) produced inf or nan, first at z"
    elementwise = explore("[1., -1]", "y = sqrt(x)")
    assert elementwise.warnings[0] == "layer y (line 1) produced inf or nan, first at x[1]"
