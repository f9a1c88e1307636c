"""Backward is a vector-Jacobian product (issue 19, the engine): any seed vector, the Jacobian, forward mode."""

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.autograd import forward_ad

import explorer
from explorer import FormulaError, explore, jacobian, jvp
from explorer.engine import exploration, limits
from explorer.engine import jacobian as jacobian_module
from explorer.engine.forward import run_forward
from explorer.engine.parse_x import parse_x
from explorer.page.presets import BY_KEY
from tests.hostile_corpus import CORPUS
from tests.test_layers import _layer_programs
from tests.test_properties import programs

SEED_X = "[[1, 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
SIXTH = "0.1666666667"  # 1/6 as float32 reads it


def close(tensor, expected, tol=1e-5):
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return tensor.shape == expected.shape and torch.allclose(tensor.double(), expected, atol=tol, rtol=tol)


def neuron():
    return explore(BY_KEY["neuron"].x, BY_KEY["neuron"].layers)


# ---------------------------------------------------------------- the seed vector, by hand


def test_a_vector_of_ones_is_ones_like():
    result = explore(SEED_X, SEED_LAYERS, vector="[[1, 1, 1], [1, 1, 1]]")
    assert torch.equal(result.grads["vector"], result.grads["ones_like"])
    assert close(result.grads["vector"], [[60, 96, 132], [132, 96, 60]])  # 12(3x + 2)
    assert result.reductions["vector"].code == "z.backward(gradient=v)" and result.reductions["vector"].out is None


def test_a_vector_of_one_sixth_is_mean():
    sixths = "[[" + ", ".join([SIXTH] * 3) + "], [" + ", ".join([SIXTH] * 3) + "]]"
    result = explore(SEED_X, SEED_LAYERS, vector=sixths)
    assert close(result.grads["vector"], [[10, 16, 22], [22, 16, 10]])  # 12(3x + 2) / 6
    assert close(result.grads["vector"], result.grads["mean"], tol=1e-6)


def test_a_one_hot_vector_picks_that_row_of_the_jacobian():
    result = explore(SEED_X, SEED_LAYERS, vector="[[0, 0, 1], [0, 0, 0]]")
    # z[0, 2] = 2(3 x[0, 2] + 2)^2 depends on x[0, 2] alone: 12(3*3 + 2) = 132 there, 0 elsewhere.
    assert close(result.grads["vector"], [[0, 0, 132], [0, 0, 0]])
    assert torch.equal(result.grads["vector"], jacobian(result, "x")[0, 2])


def test_every_leaf_gets_its_grad_under_the_vector_x_included():
    result = explore("[1., 2]", "w = [3., 4]\ny = w * x", vector="[10, 100]")
    assert list(result.leaf_grads["vector"]) == ["x", "w"]
    assert close(result.leaf_grads["vector"]["x"], [30, 400]) and close(result.leaf_grads["vector"]["w"], [10, 200])
    assert torch.equal(result.grads["vector"], result.leaf_grads["vector"]["x"])


def test_the_step_through_runs_under_the_vector_from_v():
    from explorer.views.walkthrough import describe_tensors

    result = explore("2.0", SEED_LAYERS, vector="0.5")
    reduction = result.reductions["vector"]
    fired = [(reduction.nodes[step.node].op, step.grad_in.item()) for step in reduction.steps]
    # FACTS gives Mul 1, Pow 2, Add 32, Mul 32 and 96 for the seed of 1: a seed of 0.5 halves every one.
    assert fired == [("MulBackward0", 0.5), ("PowBackward0", 1.0), ("AddBackward0", 16.0),
                     ("MulBackward0", 16.0), ("AccumulateGrad", 48.0)]
    assert describe_tensors(result, "vector", len(reduction.steps)).leaf == "x"


def test_without_a_vector_nothing_is_called_vector():
    result = explore(SEED_X, SEED_LAYERS)
    for table in (result.reductions, result.grads, result.leaf_grads):
        assert list(table) == ["sum", "mean", "ones_like"]
    assert result.vector is None and len(result.key) == 3
    assert list(explorer.engine.language.REDUCTIONS) == ["sum", "mean", "ones_like"]


def test_the_key_holds_the_vector_but_not_its_spelling():
    def key(vector=None):
        return exploration.prepare(SEED_X, SEED_LAYERS, vector).key

    ones = key("[[1, 1, 1], [1, 1, 1]]")
    assert ones == key("[[1.0, 1., 1e0], [ 1,1,1 ]]")
    assert ones != key("[[1, 1, 1], [1, 1, 2]]") and ones != key()
    assert ones[:3] == key()


# ---------------------------------------------------------------- bad vectors


@pytest.mark.parametrize(
    "x_text, layers, vector, message",
    [
        ("[[1., 2, 3], [3, 2, 1]]", SEED_LAYERS, "[1, 2]", "vector: shape (2,) but the output z has shape (2, 3)"),
        ("[[1., 2, 3], [3, 2, 1]]", SEED_LAYERS, "1", "vector: shape () but the output z has shape (2, 3)"),
        ("[2.0, 0.0]", BY_KEY["neuron"].layers, "[1.]",
         "vector: shape (1,) but the output o has shape () (one number)"),
        ("[1., 2]", "y = x", "[[1, 2], [3]]", "vector: vector is ragged"),
        ("[1., 2]", "y = x", "__import__('os').system('id')", "vector: line 1, col 1: unexpected '_'"),
        ("[1., 2]", "y = x", "[1, nan]", "vector: line 1, col 5: unexpected 'n'"),
        ("[1., 2]", "y = x", "[1e999, 1]", "outside"),
        ("[1., 2]", "y = x", "", "vector: vector is empty"),
        ("[1., 2]", "y = x", "[1, 2", "vector: a '[' is never closed"),
        ("[1., 2]", "y = x", "1" * (limits.MAX_X_CHARS + 1), "vector: vector is 1,000,001 characters"),
        ("[1., 2]", "y = x", "[\uff11, 2]", "vector: line 1, col 2: character U+FF11"),
    ],
)
def test_bad_vector_texts_are_formula_errors_that_say_so(x_text, layers, vector, message):
    with pytest.raises(FormulaError) as caught:
        explore(x_text, layers, vector=vector)
    assert message in str(caught.value) and caught.value.field == "vector"


def test_the_vector_follows_the_x_fields_rules_on_the_hostile_corpus():
    texts = {x_text for _, x_text, _, _ in CORPUS}
    for text in texts:
        try:
            parsed = parse_x(text)
        except FormulaError as error:
            with pytest.raises(FormulaError) as caught:
                explore(SEED_X, SEED_LAYERS, vector=text)
            assert caught.value.field == "vector" and caught.value.col == error.col, text[:40]
            continue
        if tuple(parsed.shape) == (2, 3):
            assert torch.equal(explore(SEED_X, SEED_LAYERS, vector=text).vector, parsed)
        else:
            with pytest.raises(FormulaError, match=r"vector: shape .* but the output z has shape \(2, 3\)"):
                explore(SEED_X, SEED_LAYERS, vector=text)


def test_a_bad_vector_is_refused_before_any_pass(monkeypatch):
    passes = []
    monkeypatch.setattr(exploration, "run_reduction", lambda *args: passes.append(args))
    with pytest.raises(FormulaError):
        explore(SEED_X, SEED_LAYERS, vector="[1, 2]")
    assert passes == []


# ---------------------------------------------------------------- the Jacobian and forward mode, by hand


def test_the_neuron_jacobian_by_w_is_one_zero():
    result = neuron()
    # o = tanh(x·w + b) = tanh(2·(−3) + 0·1 + 6.8814) = tanh(0.8814) = 0.7071, so do/dn = 1 − o² = 0.5 and
    # do/dw = 0.5·x = 0.5·[2, 0] = [1, 0]. The output is a scalar: J has w's shape.
    assert close(jacobian(result, "w"), [1.0, 0.0])
    assert close(jacobian(result, "x"), [-1.5, 0.5])  # 0.5·w
    assert close(jacobian(result, "b"), 0.5)  # shape (): a scalar by a scalar


def test_an_elementwise_program_has_a_diagonal_jacobian():
    J = jacobian(explore(SEED_X, SEED_LAYERS), "x")
    assert J.shape == (2, 3, 2, 3)
    flat = J.reshape(6, 6)
    assert close(flat.diagonal(), [60, 96, 132, 132, 96, 60])  # 12(3x + 2), each z_i by its own x_i
    assert torch.count_nonzero(flat - torch.diag(flat.diagonal())) == 0


def test_a_tall_jacobian_by_a_scalar_leaf():
    result = explore("[1., 2, 3]", "w = 2.0\ny = w * x")
    assert close(jacobian(result, "w"), [1.0, 2.0, 3.0])  # d(w x_i)/dw = x_i: one column, by forward mode
    assert close(jacobian(result, "x"), [[2, 0, 0], [0, 2, 0], [0, 0, 2]])


def test_the_jacobian_takes_the_direction_with_fewer_passes(monkeypatch):
    wide, tall = neuron(), explore("[1., 2, 3]", "w = 2.0\ny = w * x")  # 1 output by w's 2; 3 outputs by w's 1
    with monkeypatch.context() as patched:
        patched.setattr(torch.func, "jacfwd", lambda *args: pytest.fail("a forward pass per leaf element"))
        assert close(jacobian(wide, "w"), [1.0, 0.0])  # one backward pass
    with monkeypatch.context() as patched:
        patched.setattr(torch.func, "jacrev", lambda *args: pytest.fail("a backward pass per output element"))
        assert close(jacobian(tall, "w"), [1.0, 2.0, 3.0])  # one forward-mode pass


def test_detach_and_constant_outputs_have_the_jacobian_autograd_gives():
    held = explore("[1., 2, 3]", "y = x * detach(x)")
    assert close(jacobian(held, "x"), torch.diag(torch.tensor([1.0, 2.0, 3.0])))  # not 2x: detach(x) is held
    assert close(jacobian(explore("[1., 2]", "y = 2"), "x"), [[0, 0], [0, 0]])


def test_jvp_by_hand_sums_over_the_leaves_given():
    result = neuron()
    assert close(jvp(result, {"w": [1.0, 0.0]}), 1.0)  # do/dw[0] = 0.5·x[0]
    assert close(jvp(result, {"x": torch.tensor([1.0, 0.0]), "w": [1.0, 0.0]}), -0.5)  # -1.5 + 1
    assert close(jvp(result, {"b": 2.0}), 1.0)
    assert close(jvp(result, {}), 0.0)
    seed = explore(SEED_X, SEED_LAYERS)
    assert close(jvp(seed, {"x": torch.ones(2, 3)}), [[60, 96, 132], [132, 96, 60]])  # diagonal J times ones


def test_jvp_is_one_forward_mode_pass_not_the_jacobian(monkeypatch):
    result, duals = neuron(), []
    real = forward_ad.make_dual
    monkeypatch.setattr(forward_ad, "make_dual", lambda *args: duals.append(args[1]) or real(*args))
    for name in ("jacrev", "jacfwd", "vjp", "vmap"):
        monkeypatch.setattr(torch.func, name, lambda *args, **kwargs: pytest.fail("jvp built a Jacobian"))
    monkeypatch.setattr(torch.autograd, "backward", lambda *args, **kwargs: pytest.fail("jvp ran backward"))
    monkeypatch.setattr(jacobian_module, "jacobian", lambda *args: pytest.fail("jvp read the Jacobian"))
    assert close(jvp(result, {"w": [0.0, 1.0], "b": 1.0}), 0.5)  # do/dw[1] = 0.5·x[1] = 0, do/db = 0.5
    assert [u.tolist() for u in duals] == [[0.0, 1.0], 1.0]  # one dual per leaf given, in one forward pass


def test_jvp_keeps_float32_through_a_scalar_leaf():
    # torch.func.jvp would give float64 here: its tangent of 2 + h0**2 treats the Python 2 as float64.
    result = explore("[0.0]", "h0 = 1\nh1 = h0 / (2 + h0**2)")
    tangent = jvp(result, {"h0": 1.0})
    assert tangent.dtype == torch.float32 and close(tangent, 1 / 9)  # d/dh (h / (2 + h²)) = (2 - h²)/(2 + h²)²


def test_unknown_leaves_and_wrong_tangents_are_formula_errors():
    result = explore(BY_KEY["linear_mse"].x, BY_KEY["linear_mse"].layers)
    with pytest.raises(FormulaError, match="unknown leaf 'target'; the leaves are x, W, b"):
        jacobian(result, "target")  # a detached list is a constant, not a leaf
    with pytest.raises(FormulaError, match="unknown leaf 'q'"):
        jvp(result, {"x": [1.0, 0.0], "q": 1.0})
    with pytest.raises(FormulaError, match=r"the tangent for W has shape \(2,\) but W has shape \(2, 2\)"):
        jvp(result, {"W": [1.0, 2.0]})
    with pytest.raises(FormulaError, match="the tangent for b is not a tensor of numbers"):
        jvp(result, {"b": "abc"})


def test_the_jacobian_entry_cap_refuses_before_any_work(monkeypatch):
    forward_passes = []
    monkeypatch.setattr(jacobian_module, "run_forward", lambda *args, **kwargs: forward_passes.append(1))
    over = explore("[" + ", ".join(["1."] * 101) + "]", "y = 2*x")  # 101 × 101 = 10,201 entries
    with pytest.raises(FormulaError, match="has 10,201 entries .* over the limit of 10,000"):
        jacobian(over, "x")
    assert forward_passes == []
    monkeypatch.undo()
    at_cap = explore("[" + ", ".join(["1."] * 100) + "]", "y = 2*x")  # 100 × 100: allowed
    assert torch.equal(jacobian(at_cap, "x"), 2 * torch.eye(100))


def test_the_jacobian_passes_stay_within_the_work_limit(monkeypatch):
    result = explore(SEED_X, SEED_LAYERS)  # 6 outputs by 6 elements of x: 6 passes
    monkeypatch.setattr(limits, "MAX_WORK", 6 * result.work - 1)
    with pytest.raises(FormulaError, match=f"needs 6 passes of {result.work}"):
        jacobian(result, "x")
    monkeypatch.setattr(limits, "MAX_WORK", 6 * result.work)
    assert jacobian(result, "x").shape == (2, 3, 2, 3)


# ---------------------------------------------------------------- properties, against torch.autograd.functional


def _elementwise_programs():
    values = st.lists(st.floats(-1, 1, width=32).map(lambda v: round(v, 4)), min_size=1, max_size=4)
    return st.tuples(values.map(repr), programs())


def _matrix_programs():
    """x a matrix, a row of weights broadcast over it, and an output that is a matrix, a row or a scalar."""
    number = st.floats(-1, 1, width=32).map(lambda v: round(v, 4))

    @st.composite
    def build(draw):
        rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        x = [draw(st.lists(number, min_size=cols, max_size=cols)) for _ in range(rows)]
        w = draw(st.lists(number, min_size=cols, max_size=cols))
        head = draw(st.sampled_from(["z = h", "z = sum(h)", "z = h @ w", "z = mean(h * detach(h))"]))
        return repr(x), f"w = {w}\nb = {draw(number)}\nh = sigmoid(x * w + b)\n{head}"

    return build()


CASES = st.one_of(_layer_programs(), _elementwise_programs(), _matrix_programs())
PROPERTY = settings(max_examples=40, deadline=None)


def _usable(x_text, layers, vector=None):
    """The exploration, or None where the case is outside the property: a FormulaError, inf, nan, huge values."""
    try:
        result = explore(x_text, layers, vector=vector)
    except FormulaError:
        return None
    values = [result.output, *result.leaf_grads["sum"].values()]
    if not all(bool(v.isfinite().all()) and float(v.abs().max()) < 1e3 for v in values):
        return None
    return result


def _reference(result, name):
    """torch.autograd.functional.jacobian of the output by one leaf, the function written out here."""

    def output(value):
        leaves = {**result.leaves, name: value}
        x = leaves.pop("x")
        return run_forward(result.program, x, leaves=leaves)[result.program.output.name]

    return torch.autograd.functional.jacobian(output, result.leaves[name])


def _check(got, expected):
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@PROPERTY
@given(CASES)
def test_jacobian_equals_torch_autograd_functional_jacobian(case):
    result = _usable(*case)
    assume(result is not None)
    for name in result.leaves:
        _check(jacobian(result, name), _reference(result, name))


@PROPERTY
@given(CASES, st.data())
def test_jvp_of_a_basis_vector_is_that_column_of_the_jacobian(case, data):
    result = _usable(*case)
    assume(result is not None)
    for name, leaf in result.leaves.items():
        column = data.draw(st.integers(0, leaf.numel() - 1), label=f"{name} element")
        basis = torch.zeros(leaf.numel())
        basis[column] = 1.0
        expected = _reference(result, name).reshape(result.output.numel(), leaf.numel())[:, column]
        _check(jvp(result, {name: basis.reshape(leaf.shape)}), expected.reshape(result.output.shape))


@PROPERTY
@given(CASES, st.data())
def test_the_vector_grads_are_v_transpose_j_for_every_leaf(case, data):
    result = _usable(*case)
    assume(result is not None)
    shape = tuple(result.output.shape)
    numbers = st.floats(-2, 2, width=32).map(lambda v: round(v, 4))
    v = torch.tensor(data.draw(st.lists(numbers, min_size=result.output.numel(), max_size=result.output.numel())))
    seeded = explore(*case, vector=repr(v.reshape(shape).tolist()) if shape else repr(float(v[0])))
    assert torch.equal(seeded.vector, v.reshape(shape))
    for name in result.leaves:
        expected = torch.tensordot(v.reshape(shape), _reference(result, name), dims=len(shape))
        _check(seeded.leaf_grads["vector"][name], expected)
