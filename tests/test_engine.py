"""The engine against the notebooks' printed numbers and hand-derived gradients."""

import math

import pytest
import torch

import explorer
from explorer import FormulaError, explore

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"


def close(tensor, expected, tol=1e-4):
    return torch.allclose(tensor.double(), torch.tensor(expected, dtype=torch.float64), atol=tol, rtol=tol)


def test_scalar_polynomial_prints_63_and_slope_93():
    result = explore("2.0", "y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1")
    assert result.layer_reprs["y"] == "tensor(63., grad_fn=<AddBackward0>)"
    for name in ("sum", "mean", "ones_like"):
        assert result.grads[name].item() == 93.0  # 8*8 + 3*4 + 6*2 + 5
    assert result.scalar_output


def test_two_layer_seed_forward_values_print_as_torch_does():
    result = explore(SEED_X, SEED_LAYERS)
    assert result.layer_reprs["y"] == (
        "tensor([[ 5.,  8., 11.],\n        [11.,  8.,  5.]], grad_fn=<AddBackward0>)"
    )
    assert result.layer_reprs["z"] == (
        "tensor([[ 50., 128., 242.],\n        [242., 128.,  50.]], grad_fn=<MulBackward0>)"
    )
    assert close(result.output, [[50, 128, 242], [242, 128, 50]])


def test_mean_divides_gradient_by_element_count():
    result = explore(SEED_X, SEED_LAYERS)
    assert result.reductions["mean"].out_repr == "tensor(140., grad_fn=<MeanBackward0>)"
    # d out / d x_i = (1/6) * 12 * (3 x_i + 2)
    assert close(result.grads["mean"], [[10, 16, 22], [22, 16, 10]])


def test_sum_and_ones_like_give_twelve_times_3x_plus_2():
    result = explore(SEED_X, SEED_LAYERS)
    assert result.reductions["sum"].out_repr == "tensor(840., grad_fn=<SumBackward0>)"
    assert close(result.grads["sum"], [[60, 96, 132], [132, 96, 60]])
    assert close(result.grads["ones_like"], [[60, 96, 132], [132, 96, 60]])
    assert result.reductions["ones_like"].out is None


def test_notebook_slip_136_is_not_what_autograd_computes():
    # The second notebook writes 12(3*3+2) = 136; it is 132.
    assert explore(SEED_X, SEED_LAYERS).grads["sum"][0, 2].item() == 132.0


def test_reductions_never_accumulate_into_each_other():
    result = explore("[1., 2]", "y = x**2")
    assert close(result.grads["sum"], [2, 4])
    assert close(result.grads["ones_like"], [2, 4])
    assert close(result.grads["mean"], [1, 2])


@pytest.mark.parametrize(
    "layers, derivative",
    [
        ("y = sin(x)", math.cos),
        ("y = exp(2*x)", lambda v: 2 * math.exp(2 * v)),
        ("y = tanh(x)", lambda v: 1 - math.tanh(v) ** 2),
        ("y = sigmoid(x)", lambda v: math.exp(-v) / (1 + math.exp(-v)) ** 2),
        ("y = 1 / (x + 3)", lambda v: -1 / (v + 3) ** 2),
        ("y = log(x + 4)\nz = sqrt(y)", lambda v: 1 / (2 * math.sqrt(math.log(v + 4)) * (v + 4))),
        ("y = x**2\nz = y*x + y", lambda v: 3 * v**2 + 2 * v),
        ("y = 2**x", lambda v: math.log(2) * 2**v),
        ("y = -x*pi", lambda v: -math.pi),
        ("y = softplus(x)", lambda v: 1 / (1 + math.exp(-v))),
    ],
)
def test_gradient_matches_hand_derivative(layers, derivative):
    values = [-1.5, 0.25, 2.0]
    result = explore(str(values), layers)
    assert close(result.grads["sum"], [derivative(v) for v in values])
    assert close(result.grads["mean"], [derivative(v) / 3 for v in values])


def test_rank3_batch_of_matrices():
    result = explore("[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]", "y = x**2")
    assert result.x.dtype == torch.float32 and tuple(result.x.shape) == (2, 2, 2)
    assert close(result.grads["sum"], [[[2, 4], [6, 8]], [[10, 12], [14, 16]]])


def test_relu_and_abs_have_slope_zero_at_zero_as_torch_defines():
    assert close(explore("[-1., 0, 1]", "y = relu(x)").grads["sum"], [0, 0, 1])
    assert close(explore("[-1., 0, 1]", "y = abs(x)").grads["sum"], [-1, 0, 1])


def test_constant_formula_gives_zero_gradients_not_an_error():
    result = explore("[1., 2]", "y = 2")
    for name in ("sum", "mean", "ones_like"):
        assert close(result.grads[name], [0, 0])
    assert close(result.output, [2, 2])


def test_non_finite_values_are_reported_with_the_layer():
    result = explore("[1., 2]", "y = x - 1\nz = 1 / y")
    assert math.isinf(result.output[0].item())
    assert any("layer z (line 2)" in warning for warning in result.warnings)


def test_dot_holds_the_ops_of_the_output_graph():
    dot = explore(SEED_X, SEED_LAYERS).dot
    for op in ("AccumulateGrad", "MulBackward0", "AddBackward0", "PowBackward0"):
        assert op in dot
    assert "SumBackward0" not in dot and "MeanBackward0" not in dot
    assert "MeanBackward0" in explore(SEED_X, SEED_LAYERS).reductions["mean"].dot


def test_hooks_record_autograd_order_for_the_seed():
    # FACTS: for y=3x+2, z=2y^2 at x=2 the hooks fire Mul 1->2, Pow 2->32, Add 32->32, Mul 32->96.
    reduction = explore("2.0", SEED_LAYERS).reductions["ones_like"]
    fired = [(reduction.nodes[s.node].op, s.grad_in.item()) for s in reduction.steps]
    assert fired == [
        ("MulBackward0", 1.0),
        ("PowBackward0", 2.0),
        ("AddBackward0", 32.0),
        ("MulBackward0", 32.0),
        ("AccumulateGrad", 96.0),
    ]
    assert [g.item() for g in reduction.steps[3].grad_out if g is not None] == [96.0]


@pytest.mark.parametrize(
    "x_text, layers, message",
    [
        ("1", "y = q", "line 1, col 5: unknown name 'q' (known: x)"),
        ("1", "y = 3*x\nz = y + q", "line 2, col 9: unknown name 'q' (known: x, y)"),
        ("1", "x = 2", "'x' is the input"),
        ("1", "y = x\ny = 2*x", "already defined"),
        ("1", "sin = x", "function or constant"),
        ("1", "y = x.grad", "attribute access"),
        ("1", "y = foo(x)", "unknown function 'foo'"),
        ("1", "y = x // 2", "'//' is not allowed"),
        ("1", "y = 3*x +", "syntax error"),
        ("1", "", "no layers"),
        ("[[1, 2], [3]]", "y = x", "ragged"),
        ("'a'", "y = x", "unexpected"),
        ("True", "y = x", "unexpected"),
        ("1+2j", "y = x", "x: line 1, col 2"),
        ("[1, 2", "y = x", "never closed"),
    ],
)
def test_bad_input_raises_formula_error_saying_where(x_text, layers, message):
    with pytest.raises(FormulaError) as caught:
        explore(x_text, layers)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_public_contract_names():
    assert explorer.FormulaError is FormulaError
    result = explorer.explore(SEED_X, SEED_LAYERS)
    assert set(result.grads) == {"sum", "mean", "ones_like"}
    assert result.grads["sum"].shape == result.x.shape
