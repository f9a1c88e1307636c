"""Second order: the Hessian against hand values and torch's own, and the graph of backward itself."""

import re

import pytest
import torch
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import explorer
from explorer import FormulaError, double_backward_dot, explore, hessian
from explorer.engine import limits, second_order
from explorer.engine.forward import run_forward
from explorer.page.presets import PRESETS

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
NEURON = next(preset for preset in PRESETS if preset.key == "neuron")


def backward_nodes(dot):
    """The grad_fn nodes torchviz drew: their labels are the op names."""
    return re.findall(r'label=(\w+Backward\d+)', dot)


def test_seed_hessian_is_36_identity_under_sum_and_6_identity_under_mean():
    # z = 2(3x+2)²: d²z/dx² = 2·2·3·3 = 36 for each element, and no element reaches another.
    r = explore(SEED_X, SEED_LAYERS)
    torch.testing.assert_close(hessian(r, "sum"), 36 * torch.eye(6))
    torch.testing.assert_close(hessian(r, "mean"), 6 * torch.eye(6))  # 36 / 6 elements


def test_ones_like_has_the_hessian_of_sum():
    r = explore(SEED_X, SEED_LAYERS)
    torch.testing.assert_close(hessian(r, "ones_like"), hessian(r, "sum"))


def test_vector_weights_each_element_hessian_by_its_seed():
    # out = Σ v_i z_i: d²out/dx_i² = 36 v_i. Ones is sum, 1/6 is mean.
    v = [[1, 0, -2], [0.5, 3, 0]]
    r = explore(SEED_X, SEED_LAYERS, vector=str(v))
    torch.testing.assert_close(hessian(r, "vector"), 36 * torch.diag(torch.tensor(v).flatten()))
    torch.testing.assert_close(hessian(explore(SEED_X, SEED_LAYERS, vector="[[1, 1, 1], [1, 1, 1]]"), "vector"),
                               36 * torch.eye(6))
    sixth = "[[" + "], [".join([", ".join(["0.16666667"] * 3)] * 2) + "]]"
    torch.testing.assert_close(hessian(explore(SEED_X, SEED_LAYERS, vector=sixth), "vector"), 6 * torch.eye(6))
    assert len(backward_nodes(double_backward_dot(r, "vector"))) == 6


def test_vector_without_a_seed_is_a_formula_error():
    with pytest.raises(FormulaError, match="known: sum, ones_like, mean"):
        hessian(explore(SEED_X, SEED_LAYERS), "vector")


def test_neuron_hessian_matches_torch_autograd_functional_hessian_in_leaf_order():
    r = explore(NEURON.x, NEURON.layers)
    x = torch.tensor([2.0, 0.0])
    w = torch.tensor([-3.0, 1.0])
    b = torch.tensor(6.8813735870195432)

    def out(x, w, b):
        return torch.tanh(x @ w + b).sum()

    blocks = torch.autograd.functional.hessian(out, (x, w, b))
    # Rows and columns: x's two elements, then w's two, then b: each block flattened to (rows, columns).
    sizes = (2, 2, 1)
    expected = torch.cat(
        [torch.cat([blocks[i][j].reshape(sizes[i], sizes[j]) for j in range(3)], dim=1) for i in range(3)]
    )
    got = hessian(r, "sum")
    assert got.shape == (5, 5)
    torch.testing.assert_close(got, expected)
    # By hand: d²o/dx_0 dw_0 = (1 - o²) + x_0·w_0·(-2o)(1 - o²), with o = 1/√2: the product rule's extra term.
    assert got[0, 2].item() == pytest.approx(0.5 - 2 * 2 * 0.7071068 * 0.5 * -3, abs=1e-4)


def test_hessian_refuses_too_many_leaf_elements_before_any_work(monkeypatch):
    over = "[" + ", ".join(["1.0"] * (limits.MAX_HESSIAN_ELEMENTS + 1)) + "]"
    r = explore(over, "y = x**2")
    monkeypatch.setattr(second_order, "run_forward", lambda *args, **kwargs: pytest.fail("ran the program"))
    with pytest.raises(FormulaError, match="limit is 100 elements"):
        hessian(r, "sum")
    at_limit = explore("[" + ", ".join(["1.0"] * limits.MAX_HESSIAN_ELEMENTS) + "]", "y = x**2")
    monkeypatch.undo()
    assert hessian(at_limit, "sum").shape == (100, 100)


def test_hessian_refuses_elements_times_work_over_the_work_limit(monkeypatch):
    # Each of the 6 rows is one more backward through the graph of backward: 6 × the seed's work.
    r = explore(SEED_X, SEED_LAYERS)
    monkeypatch.setattr(limits, "MAX_WORK", 6 * r.work)
    assert hessian(r, "sum").shape == (6, 6)
    monkeypatch.setattr(limits, "MAX_WORK", 6 * r.work - 1)
    monkeypatch.setattr(second_order, "run_forward", lambda *args, **kwargs: pytest.fail("ran the program"))
    with pytest.raises(FormulaError, match="6 passes of"):
        hessian(r, "sum")


def test_unknown_reduction_is_a_formula_error():
    r = explore(SEED_X, SEED_LAYERS)
    with pytest.raises(FormulaError, match="known: sum"):
        hessian(r, "max")
    with pytest.raises(FormulaError):
        double_backward_dot(r, "evil")


def test_output_reaching_no_leaf_has_a_zero_hessian_and_an_empty_graph():
    r = explore("[1., 2]", "y = detach(x) * 3")
    torch.testing.assert_close(hessian(r, "sum"), torch.zeros(2, 2))
    assert backward_nodes(double_backward_dot(r, "sum")) == []


def test_double_backward_graph_of_seed_has_six_backward_nodes_where_forward_has_four():
    r = explore(SEED_X, "z = 2*(3*x + 2)**2")
    assert len(backward_nodes(r.dot)) == 4
    dot = double_backward_dot(r, "sum")
    assert len(backward_nodes(dot)) == 6
    assert 'label="x.grad\\n(2, 3)"' in dot  # the gradient, named as the output
    assert 'label="x\n (2, 3)"' in dot  # the leaf x, named, as make_dot draws params


def test_double_backward_graph_names_every_reached_leaf_gradient():
    r = explore(NEURON.x, NEURON.layers)
    dot = double_backward_dot(r, "mean")
    for name in ("x.grad", "w.grad", "b.grad"):
        assert name in dot
    assert "TanhBackwardBackward0" in dot  # backward of tanh's backward: the second-order op itself


def test_lazy_exports():
    assert explorer.hessian is hessian and explorer.double_backward_dot is double_backward_dot
    assert {"hessian", "double_backward_dot", "train"} <= set(explorer.__all__)


# ---------------------------------------------------------------- random programs: symmetric, and float64 FD

SMOOTH = ["sin", "cos", "tanh", "sigmoid", "softplus"]


def expressions(names):
    leaf = st.one_of(st.sampled_from(names), st.sampled_from(["1", "2", "0.5"]))

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(["+", "-", "*"]), inner, inner).map(lambda t: f"({t[1]} {t[0]} {t[2]})"),
            st.tuples(st.sampled_from(SMOOTH), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda t: f"sum({t})"),  # couples the elements: off-diagonal entries
            inner.map(lambda t: f"({t})**2"),
        )

    return st.recursive(leaf, extend, max_leaves=5)


# Away from 0, where sin, tanh and x*w have second derivatives of zero and any mistake would hide.
VALUES = st.floats(0.25, 1.25, width=32)


@st.composite
def programs(draw, size):
    """A vector leaf w of x's size and a scalar leaf c, then one or two layers over x, w, c and earlier layers."""
    w = "[" + ", ".join(repr(draw(VALUES)) for _ in range(size)) + "]"
    lines, names = [f"w = {w}", f"c = {draw(VALUES)!r}"], ["x", "w", "c"]
    for index in range(draw(st.integers(1, 2))):
        # A curve around a name and an expression: few layers are constant, and few Hessians zero.
        outer, name, op = draw(st.sampled_from(SMOOTH)), draw(st.sampled_from(names)), draw(st.sampled_from("+*"))
        lines.append(f"h{index} = {outer}({name} {op} {draw(expressions(names))})")
        names.append(f"h{index}")
    return "\n".join(lines)


@st.composite
def cases(draw):
    size = draw(st.integers(1, 3))
    x = [draw(VALUES) for _ in range(size)]
    return "[" + ", ".join(map(repr, x)) + "]", draw(programs(size)), draw(st.sampled_from(["sum", "mean"]))


def gradient64(r, reduction, flat):
    """d out / d (every leaf element), in float64, by one backward: the function finite differences differentiate."""
    flat = flat.detach().requires_grad_(True)
    sizes = [t.numel() for t in r.leaves.values()]
    parts = {name: part.reshape(t.shape) for (name, t), part in zip(r.leaves.items(), flat.split(sizes), strict=True)}
    env = run_forward(r.program, parts.pop("x"), leaves=parts)
    out = getattr(env[r.program.output.name], reduction)()
    if not out.requires_grad:
        return torch.zeros_like(flat)
    (grad,) = torch.autograd.grad(out, flat, allow_unused=True)
    return torch.zeros_like(flat) if grad is None else grad


@settings(max_examples=80, deadline=None)
@given(case=cases())
def test_random_hessians_are_symmetric_and_match_float64_finite_differences(case):
    x_text, layers, reduction = case
    try:
        r = explore(x_text, layers)
    except FormulaError:
        assume(False)  # e.g. a layer name reused: not this property's subject
    flat = torch.cat([t.reshape(-1) for t in r.leaves.values()]).double()
    layers64 = run_forward(r.program, flat[: r.x.numel()].reshape(r.x.shape))  # keep values where float32 is exact
    assume(all(bool(v.isfinite().all()) and float(v.abs().max()) < 20 for v in layers64.values()))
    got = hessian(r, reduction).double()
    event(f"{reduction}, {r.output.numel()} output elements, Hessian {'zero' if got.abs().max() < 1e-3 else 'nonzero'}")
    step = 1e-5
    columns = []
    for j in range(len(flat)):
        bump = torch.zeros_like(flat)
        bump[j] = step
        columns.append((gradient64(r, reduction, flat + bump) - gradient64(r, reduction, flat - bump)) / (2 * step))
    expected = torch.stack(columns, dim=1)
    scale = 1 + float(expected.abs().max())
    torch.testing.assert_close(got, got.T, rtol=0, atol=1e-4 * scale)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3 * scale)
