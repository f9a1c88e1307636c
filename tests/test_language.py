"""The language's tables and the one tree fold every backend uses: each row's forms agree with each other
and with hand values, brackets come out where Python and LaTeX need them, and explore() runs one forward
pass per reduction."""

import math
import subprocess
import sys

import numpy as np
import pytest
import sympy
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import explorer.engine.forward
from explorer import FormulaError, explore
from explorer.engine.fold import fold_constant
from explorer.engine.language import BINARY, CALLS, REDUCTIONS, UNARY, name_latex
from explorer.engine.parse import parse_layers
from explorer.engine.tree import Binary, Call, Name, Num, Unary, to_text
from explorer.views.prose import latex as _latex

# a op b for a = 3, b = 2, worked out by hand
BINARY_AT_3_2 = {"+": 5.0, "-": 1.0, "*": 6.0, "/": 1.5, "**": 9.0}
UNARY_AT_3 = {"-": -3.0, "+": 3.0}


def test_every_operator_has_a_hand_value():
    assert set(BINARY) == set(BINARY_AT_3_2) | {"@"} and set(UNARY) == set(UNARY_AT_3)


def test_matmul_row_agrees_in_torch_and_numpy_and_has_no_sympy_form_yet():
    row = BINARY["@"]
    assert row.torch(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])).item() == 11.0  # 1·3 + 2·4
    assert float(row.numpy(np.array([1.0, 2.0]), np.array([3.0, 4.0]))) == 11.0
    with pytest.raises(NotImplementedError):
        row.sympy(sympy.Integer(3), sympy.Integer(2))


@pytest.mark.parametrize("symbol", BINARY_AT_3_2)
def test_binary_rows_agree_in_torch_numpy_and_sympy(symbol):
    row, expected = BINARY[symbol], BINARY_AT_3_2[symbol]
    assert row.torch(torch.tensor(3.0), torch.tensor(2.0)).item() == expected
    assert float(row.numpy(np.float64(3.0), np.float64(2.0))) == expected
    assert row.sympy(sympy.Integer(3), sympy.Integer(2)) == sympy.Rational(expected)


@pytest.mark.parametrize("symbol", UNARY)
def test_unary_rows_agree_in_torch_numpy_and_sympy(symbol):
    row, expected = UNARY[symbol], UNARY_AT_3[symbol]
    assert row.torch(torch.tensor(3.0)).item() == expected
    assert float(row.numpy(np.float64(3.0))) == expected
    assert row.sympy(sympy.Integer(3)) == sympy.Integer(int(expected))


def test_unary_plus_gives_back_the_same_tensor():
    # backward labels nodes by grad_fn: +y must not add a node of its own
    y = torch.ones(2, requires_grad=True) * 2
    assert UNARY["+"].torch(y) is y


@pytest.mark.parametrize(
    "text",
    ["(-x)**2", "-x**2", "2**-x", "2**3**x", "(2**3)**x", "x - (x - 1)", "x - x - 1", "x/(2*x)", "--x", "-(x + 1)",
     "sin(x + 1)*2", "(x + 1)*(x - 1)"],
)
def test_text_keeps_exactly_the_brackets_python_needs(text):
    program = parse_layers(f"y = {text}")
    assert to_text(program.output.expr) == text


def _trees():
    leaves = st.sampled_from([Num(2.0, "2"), Num(0.5, "0.5"), Name("x"), Name("pi")])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(Unary, st.sampled_from(list(UNARY)), inner),
            st.builds(Binary, st.sampled_from(list(BINARY)), inner, inner),
            st.builds(Call, st.sampled_from(list(CALLS)), inner),
        ),
        max_leaves=12,
    )


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_text_reads_back_as_the_same_tree(tree):
    """Whatever the nesting, the brackets to_text leaves out are ones Python does not need."""
    try:
        program = parse_layers(f"y = {to_text(tree)}")
    except FormulaError:  # a constant exponent past the parser's limit, say
        assume(False)
    assert program.output.expr == tree


@pytest.mark.parametrize(
    "text, latex",
    [
        ("3*x**2", "3 x^{2}"),
        ("(x + 1)/(x - 1)", r"\frac{x + 1}{x - 1}"),
        ("x*(1/2)", r"x \cdot \frac{1}{2}"),
        ("(-x)**2", r"\left(-x\right)^{2}"),
        ("2**(x + 1)", "2^{x + 1}"),
        ("1e-05**x", r"\left(1 \times 10^{-5}\right)^{x}"),
        ("-1e-05", r"-1 \times 10^{-5}"),
        ("sin(x)*pi", r"\sin{\left(x\right)} \cdot \pi"),
    ],
)
def test_latex_brackets_and_products(text, latex):
    assert _latex(parse_layers(f"y = {text}").output.expr) == latex


def test_one_latex_name_printer():
    assert name_latex("y") == "y"
    assert name_latex("hidden_1") == r"\mathrm{hidden\_1}"
    assert name_latex("_") == r"\mathrm{\_}"  # a lone underscore is escaped too


def test_float_fold_of_a_tower_is_inf_not_an_error():
    nine = Num(9.0, "9")  # the parser refuses this exponent; the fold must still not raise
    assert fold_constant(Binary("**", nine, Binary("**", nine, nine))) == math.inf
    assert fold_constant(Binary("+", nine, Name("x"))) is None
    assert fold_constant(parse_layers("y = 2*3 - sin(pi)**2").output.expr) == pytest.approx(6.0)


def test_reduction_weights():
    assert REDUCTIONS["mean"].weight(4) == sympy.Rational(1, 4)
    assert REDUCTIONS["sum"].weight(4) == 1 and REDUCTIONS["ones_like"].weight(4) == 1


def test_explore_runs_one_forward_pass_per_reduction(monkeypatch):
    evaluated = []  # one evaluate per layer per forward pass
    original = explorer.engine.forward.evaluate

    def counting(node, *args, **kwargs):
        evaluated.append(node)
        return original(node, *args, **kwargs)

    monkeypatch.setattr(explorer.engine.forward, "evaluate", counting)
    result = explore("[1.0, 2.0]", "y = 3*x + 2\nz = y**2")
    assert len(evaluated) == 2 * len(REDUCTIONS) == 6  # two layers, three passes
    assert result.layers["z"].tolist() == [25.0, 64.0]  # (3x + 2)^2 at 1 and 2
    assert result.layer_reprs["z"] == "tensor([25., 64.], grad_fn=<PowBackward0>)"
    assert result.grads["mean"].tolist() == [15.0, 24.0]  # 6(3x + 2)·3 / 2


def test_the_sympy_worker_loads_no_torch_and_no_pool():
    """A worker process imports what it uses: the language, the tree and sympy; never torch, never the pool."""
    code = ("import sys, explorer.symbolic.worker; "
            "print('torch' in sys.modules, 'explorer.symbolic.pool' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "False False\n"
