"""Symbolic derivatives against the notebooks' hand derivations and hand-computed values."""

import ast
import importlib
import inspect
import math
import pkgutil
import time

import pytest
import sympy
import torch

import explorer.symbolic
from explorer.engine import limits
from explorer.engine.parse import parse_layers
from explorer.symbolic import client
from explorer.symbolic.calculus import derive, describe
from explorer.symbolic.client import symbolic_derivation

x = sympy.Symbol("x", real=True)
SEED_X = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
POLYNOMIAL = "y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1"
TRAPS = [
    "y = (tan(8**((x**x/(pi-sqrt(sigmoid(x))))**(-59)))**x)**x",
    "y = x/sin(pi)",
    "y = abs(tan(sigmoid(tan((x+4.235)**(-0.042))*sigmoid(x)))**7)",
]


def same(a, b):
    return sympy.simplify(a - b) == 0


def output_derivative(layers_text):
    return derive(parse_layers(layers_text)).output.derivative


def values(layers_text, x_values, reduction="sum"):
    derivation = describe(parse_layers(layers_text), x_values)
    assert derivation.status == "ok", derivation.message
    return derivation.reductions[reduction].values.tolist()


# ---------------------------------------------------------------- notebook 1: y = 2x^4 + x^3 + 3x^2 + 5x + 1


def test_polynomial_is_63_at_2():
    formula = derive(parse_layers(POLYNOMIAL)).output.formula
    assert formula.subs(x, 2) == 63


def test_polynomial_derivative_is_the_notebooks():
    derivative = output_derivative(POLYNOMIAL)
    assert same(derivative, 8 * x**3 + 3 * x**2 + 6 * x + 5)
    assert derivative == 8 * x**3 + 3 * x**2 + 6 * x + 5  # shown expanded, as written by hand


def test_polynomial_derivative_latex_and_value_93():
    derivation = describe(parse_layers(POLYNOMIAL), 2.0)
    assert derivation.layers[0].chain == r"\frac{dy}{dx} = 8 x^{3} + 3 x^{2} + 6 x + 5"
    for reduction in ("sum", "mean", "ones_like"):  # one element: mean's 1/N is 1
        assert derivation.reductions[reduction].values == 93.0


# ---------------------------------------------------------------- notebook 2: y = 3x + 2, z = 2y^2 on a 2x3 x


def test_seed_local_derivatives():
    y_layer, z_layer = derive(parse_layers(SEED_LAYERS)).layers
    assert y_layer.inputs == ("x",) and y_layer.local == (3,)
    y = y_layer.symbol
    assert z_layer.inputs == ("y",) and same(z_layer.local[0], 4 * y)


def test_seed_chain_rule_gives_12_times_3x_plus_2():
    assert same(output_derivative(SEED_LAYERS), 12 * (3 * x + 2))


def test_seed_latex_shows_the_chain_rule_step_by_step():
    y_math, z_math = describe(parse_layers(SEED_LAYERS), SEED_X).layers
    assert y_math.formula == "y = 3 x + 2"
    assert y_math.local == (r"\frac{dy}{dx} = 3",)
    assert z_math.formula == "z = 2 y^{2}"
    assert z_math.local == (r"\frac{dz}{dy} = 4 y",)
    assert z_math.chain == (
        r"\frac{dz}{dx} = \frac{dz}{dy} \cdot \frac{dy}{dx} = 4 y \cdot 3 = 12 \left(3 x + 2\right)"
    )
    assert z_math.derivative == r"12 \left(3 x + 2\right)"


def test_mean_divides_by_the_six_elements():
    derivation = describe(parse_layers(SEED_LAYERS), SEED_X)
    mean = derivation.reductions["mean"]
    assert r"\frac{1}{6} \cdot 12 \left(3 x_{i} + 2\right)" in mean.latex
    assert mean.latex.endswith(r"= 2 \left(3 x_{i} + 2\right)")
    assert mean.values.tolist() == [[10.0, 16.0, 22.0], [22.0, 16.0, 10.0]]


def test_sum_and_ones_like_are_12_times_3x_plus_2():
    derivation = describe(parse_layers(SEED_LAYERS), SEED_X)
    for reduction in ("sum", "ones_like"):
        assert derivation.reductions[reduction].values.tolist() == [[60.0, 96.0, 132.0], [132.0, 96.0, 60.0]]
        assert derivation.reductions[reduction].latex.endswith(r"= 12 \left(3 x_{i} + 2\right)")


# ---------------------------------------------------------------- functions, by hand


@pytest.mark.parametrize(
    "layers, hand",
    [
        ("y = sin(3*x)", 3 * sympy.cos(3 * x)),
        ("y = exp(2*x)", 2 * sympy.exp(2 * x)),
        ("y = tanh(x)", 1 - sympy.tanh(x) ** 2),
        ("y = sigmoid(x)", sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2),
        ("y = 1/(x + 1)", -1 / (x + 1) ** 2),
        ("y = x/(x + 1)", 1 / (x + 1) ** 2),
        ("y = log(x**2 + 1)", 2 * x / (x**2 + 1)),
    ],
)
def test_function_derivatives(layers, hand):
    assert same(output_derivative(layers), hand)


def test_function_values_by_hand():
    s = 1 / (1 + math.exp(-0.5))
    assert values("y = sin(3*x)", [0.0, 1.0]) == pytest.approx([3.0, 3 * math.cos(3.0)])
    assert values("y = exp(2*x)", [0.0, 1.0]) == pytest.approx([2.0, 2 * math.e**2])
    assert values("y = tanh(x)", [0.0, 1.0]) == pytest.approx([1.0, 1 - math.tanh(1.0) ** 2])
    assert values("y = sigmoid(x)", [0.0, 0.5]) == pytest.approx([0.25, s * (1 - s)])
    assert values("y = 1/(x + 1)", [0.0, 1.0]) == pytest.approx([-1.0, -0.25])


def test_relu_slope_is_0_at_0_like_torch():
    assert values("y = relu(x)", [-1.0, 0.0, 2.0]) == [0.0, 0.0, 1.0]
    assert values("y = relu(3*x)", [-1.0, 0.0, 2.0]) == [0.0, 0.0, 3.0]


def test_abs_slope_is_0_at_0_like_torch():
    assert values("y = abs(x)", [-1.0, 0.0, 2.0]) == [-1.0, 0.0, 1.0]


# ---------------------------------------------------------------- layers that reuse earlier layers


def test_reused_layer_sums_over_both_paths():
    assert same(output_derivative("y = x**2\nz = y*x + y"), 3 * x**2 + 2 * x)
    assert values("y = x**2\nz = y*x + y", [1.0, 2.0]) == [5.0, 16.0]  # 3 + 2, 12 + 4


def test_reused_layer_latex_names_both_partials():
    chain = describe(parse_layers("y = x**2\nz = y*x + y"), 1.0).layers[1].chain
    assert chain.startswith(
        r"\frac{dz}{dx} = \frac{\partial z}{\partial y} \cdot \frac{dy}{dx} + \frac{\partial z}{\partial x}"
    )
    assert r"\left(x + 1\right) \cdot 2 x + y" in chain


def test_a_layer_used_twice_by_later_layers():
    # w = y + z with y = 2x, z = y**2: dw/dx = 2 + 2y*2 = 2 + 8x
    assert same(output_derivative("y = 2*x\nz = y**2\nw = y + z"), 2 + 8 * x)


def test_constant_layer_has_zero_derivative():
    # A constant expression makes a constant layer; a bare number (c = 3) declares a leaf since issue 11.
    calculus = derive(parse_layers("c = 1 + 2\ny = c*x - x"))
    assert calculus.layers[0].derivative == 0
    assert calculus.output.derivative == 2


# ---------------------------------------------------------------- numbers and names


def test_constant_powers_are_folded_to_numbers():
    assert output_derivative("y = 2**3*x") == 8
    folded = output_derivative("y = 2**0.5*x")
    assert isinstance(folded, sympy.Float) and float(folded) == pytest.approx(math.sqrt(2))


def test_constants_stay_exact():
    assert same(output_derivative("y = pi*x + e"), sympy.pi)


def test_short_decimals_become_fractions():
    assert output_derivative("y = 0.5*x**2") == x


@pytest.mark.parametrize("name, shown", [("alpha", r"\mathrm{alpha}"), ("lambda_1", r"\mathrm{lambda\_1}")])
def test_layer_names_render_as_themselves(name, shown):
    derivation = describe(parse_layers(f"{name} = x**2\nout2 = {name}*3"), 1.0)
    text = derivation.layers[0].formula + derivation.layers[1].formula + derivation.layers[1].chain
    assert shown in text
    assert r"\alpha" not in text and r"\lambda" not in text


def test_abs_of_an_expression_sympy_cannot_prove_real():
    # sympy's own Abs would differentiate sqrt(x) as possibly complex: re, im and a 1/|u| branch
    assert same(output_derivative("y = abs(sqrt(x) - 2)"), sympy.sign(sympy.sqrt(x) - 2) / (2 * sympy.sqrt(x)))
    assert values("y = abs(sqrt(x) - 2)", [1.0, 9.0]) == pytest.approx([-0.5, 1 / 6])


def test_a_relu_branch_may_be_infinite():
    # 1/relu(x) is inf for x <= 0, as in torch; elsewhere its slope is -1/x^2
    assert values("y = 1/relu(x)", [0.5, 2.0]) == pytest.approx([-4.0, -0.25])


def test_a_constant_with_no_real_value_is_an_error():
    derivation = describe(parse_layers("y = x*log(-2)"), 1.0)  # log(2) + i·pi; torch: nan
    assert derivation.status == "error" and "undefined" in derivation.message


def test_undefined_in_exact_arithmetic_is_an_error_not_a_crash():
    derivation = describe(parse_layers("y = x/sin(pi)"), 1.0)
    assert derivation.status == "error" and "undefined" in derivation.message


def test_latex_longer_than_the_cap_is_too_large(monkeypatch):
    monkeypatch.setattr(limits, "MAX_LATEX_CHARS", 20)
    derivation = describe(parse_layers(SEED_LAYERS), SEED_X)
    assert derivation.status == "too_large" and "too large to show symbolically" in derivation.message


# ---------------------------------------------------------------- what sympy folds is held to the limits


@pytest.mark.parametrize(
    "layers, why",
    [
        ("y = (x+1)**(0*x+2000) + x", "exponent 2000, outside ±100"),  # 0*x + 2000 folds to an exact 2000
        ("y = (x+1)**(0*x+50000000) + x", "exponent 50000000"),
        ("y = (x**60)**2", "exponent 120"),  # sympy merges the powers
        ("y = (x+1)**(0*x+1000.5)", "exponent 2001/2"),  # an exact fraction, as 1/2 is
        ("a = 0*x + 99\nb = a**a\nc = b**b", "more than 60 digits"),  # 99**99 once a is written in x
        ("a = 0*x + 1000000000\nb = a**a", "exponent 1000000000"),
        ("y = (100000*x)**20", "more than 60 digits"),  # sympy would raise the coefficient: 10**100 x**20
    ],
)
def test_what_sympy_folds_is_held_to_the_limits(layers, why):
    started = time.process_time()
    derivation = describe(parse_layers(layers), SEED_X)
    assert derivation.status == "too_large" and why in derivation.message, derivation.message
    assert time.process_time() - started < 0.5


def test_folded_constants_within_the_limits_still_derive():
    assert output_derivative("a = 0*x + 3\nb = a**a*x") == 27
    assert values("y = (x+1)**100", [0.0]) == [100.0]  # exponent at the limit: 100 (x + 1)^99
    assert values("y = (x+1)**100 + x", [0.0]) == [101.0]  # not factored: that expands a 99th power
    assert values("y = x*10**100", [1.0]) == [1e100]  # a float, not an exact 101-digit integer


@pytest.mark.parametrize("module", sorted(pkgutil.iter_modules(explorer.symbolic.__path__), key=str))
def test_the_symbolic_package_never_turns_text_into_code(module):
    source = importlib.import_module(f"explorer.symbolic.{module.name}")
    tree = ast.parse(inspect.getsource(source))
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not used & {"sympify", "parse_expr", "eval", "exec", "compile", "S", "parse_latex"}


# ---------------------------------------------------------------- the bounded worker


@pytest.fixture(scope="module")
def warm_worker():
    """The first call starts the pool's workers (each imports sympy once); later calls find one warm."""
    client._POOL.warm_up()
    return symbolic_derivation(parse_layers(SEED_LAYERS), torch.tensor(SEED_X))


def test_worker_gives_the_same_answer(warm_worker):
    assert warm_worker.status == "ok"
    assert warm_worker.reductions["mean"].values.tolist() == [[10.0, 16.0, 22.0], [22.0, 16.0, 10.0]]
    assert warm_worker.layers[1].derivative == r"12 \left(3 x + 2\right)"


def all_latex(derivation):
    for layer in derivation.layers:
        yield from (layer.formula, *layer.local, layer.chain)
    yield from (reduction.latex for reduction in derivation.reductions.values())


@pytest.mark.parametrize("layers", TRAPS)
def test_traps_return_quickly_refused_or_within_the_latex_cap(warm_worker, layers):
    start = time.monotonic()
    derivation = symbolic_derivation(parse_layers(layers), SEED_X)
    elapsed = time.monotonic() - start
    assert elapsed < 6, f"{elapsed:.1f} s"
    if derivation.status == "ok":  # the abs trap: with d|u|/du = sign(u) its derivative prints in ~1 KB
        assert all(len(text) <= limits.MAX_LATEX_CHARS for text in all_latex(derivation))
    else:
        assert derivation.status in ("timeout", "too_large", "error")
        assert derivation.message and not derivation.layers and not derivation.reductions


def test_a_derivative_that_doubles_with_every_layer_is_too_large():
    layers = "h1 = sin(x)*x\n" + "\n".join(f"h{k} = sin(h{k - 1})*h{k - 1}" for k in range(2, 13))
    derivation = describe(parse_layers(layers), 1.0)
    assert derivation.status == "too_large" and "too large to show symbolically" in derivation.message


def test_worker_still_answers_after_a_timeout(warm_worker):
    symbolic_derivation(parse_layers(TRAPS[0]), 1.0)
    assert symbolic_derivation(parse_layers(POLYNOMIAL), 2.0).reductions["sum"].values == 93.0
