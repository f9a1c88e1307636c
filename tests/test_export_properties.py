"""Exports always run, and print exactly the page's numbers: inf, nan and the sign of zero included.

One worker Python, started once for the module, runs every generated script
from its file with runpy and answers with the tensors the script printed, as
JSON. Its `print` records the tensors themselves, so values compare exactly,
not to torch's four printed decimals. A couple of hundred scripts cost seconds.
The scripts are generated from the parsed tree, never from user text.
"""

import math

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

from explorer import FormulaError, explore
from explorer.engine.language import FUNCTIONS
from explorer.views.export import export_notebook, export_script

REDUCTION_NAMES = ("sum", "mean", "ones_like")
FLOAT32_MAX = 3.4028234663852886e38
@pytest.fixture(scope="module")
def run_code(script_runner):
    """code -> the tensors it printed: {"x", "layers", "out (sum)", "grad (sum)", ...}. Fails on any error."""
    return lambda code: _by_label(script_runner.run(code)["printed"])


def _tensor(printed):
    assert printed["dtype"] == "torch.float32"
    return torch.tensor(printed["values"], dtype=torch.float32).reshape(printed["shape"])


def _by_label(printed):
    """The script prints x and its layers unlabelled, then "out (sum):" / "x.grad (sum):" before each."""
    unlabelled = [_tensor(item) for item in printed if item["label"] is None]
    found = {"x": unlabelled[0], "layers": unlabelled[1:]}
    for item in printed:
        if item["label"] is not None:
            found[item["label"].removeprefix("x.").removesuffix(":")] = _tensor(item)
    return found


def _notebook_code(x_text, layers_text):
    cells = export_notebook(x_text, layers_text).cells
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "code") + "\n"


def assert_same(printed, expected, what=""):
    """Equal element for element, with nan equal to nan and -0.0 different from 0.0."""
    expected = torch.as_tensor(expected, dtype=torch.float32)
    assert printed.shape == expected.shape, what
    equal = (printed == expected) & (printed.signbit() == expected.signbit())
    assert bool((equal | (printed.isnan() & expected.isnan())).all()), f"{what}: printed {printed}, page {expected}"


def assert_prints_the_pages_numbers(printed, result):
    assert_same(printed["x"], result.x, "x")
    names, leaves = result.program.names, [leaf.name for leaf in result.program.leaves]
    assert len(printed["layers"]) == len(leaves) + len(names)  # x, then the declared leaves, then the layers
    for name, value in zip(leaves, printed["layers"], strict=False):
        assert_same(value, result.leaves[name], f"leaf {name}")
    for name, layer in zip(names, printed["layers"][len(leaves):], strict=True):
        assert_same(layer, result.layers[name], f"layer {name}")
    for name in REDUCTION_NAMES:
        assert_same(printed[f"grad ({name})"], result.grads[name], f"x.grad ({name})")
        for leaf in leaves:  # every leaf's .grad; torch prints None for one the output does not reach
            if leaf in result.reductions[name].unreached:
                assert f"{leaf}.grad ({name})" not in printed
            else:
                assert_same(printed[f"{leaf}.grad ({name})"], result.leaf_grads[name][leaf], f"{leaf}.grad ({name})")
        if name != "ones_like":
            assert_same(printed[f"out ({name})"], result.reductions[name].out, f"out ({name})")


# ---------------------------------------------------------------- hand values


def _both_exports(run_code, x_text, layers_text):
    script = run_code(export_script(x_text, layers_text))
    notebook = run_code(_notebook_code(x_text, layers_text))
    return script, notebook


def test_constant_layer_beyond_float32_is_inf_with_zero_gradient(run_code):
    # cosh(100) = 1.34e43 in float64: float32 has no such number, and the page shows inf.
    for printed in _both_exports(run_code, "0.5", "y = cosh(100)"):
        assert_same(printed["layers"][0], math.inf)
        assert_same(printed["out (sum)"], math.inf)
        for name in REDUCTION_NAMES:
            assert_same(printed[f"grad ({name})"], 0.0)
    assert_prints_the_pages_numbers(printed, explore("0.5", "y = cosh(100)"))


def test_constant_just_beyond_float32s_largest_rounds_down_to_it(run_code):
    # 3.4028235e38 lies between float32's largest number and the midpoint to the next power of two:
    # float64 -> float32 rounds it down, where torch.full_like would refuse it.
    example = ("[1, 2]", "y = 340282350 * 1e9**3 * 1000")
    for printed in _both_exports(run_code, *example):
        assert_same(printed["layers"][0], [FLOAT32_MAX, FLOAT32_MAX])
        assert_same(printed["grad (sum)"], [0.0, 0.0])
    assert_prints_the_pages_numbers(printed, explore(*example))


def test_times_a_constant_beyond_float32_gives_infinite_gradient(run_code):
    # exp(100) meets float32 x as inf: y = x*inf, dy/dx = inf, and the mean divides inf by 2.
    example = ("[1, -2]", "y = x * exp(100)")
    for printed in _both_exports(run_code, *example):
        assert_same(printed["layers"][0], [math.inf, -math.inf])
        for name in REDUCTION_NAMES:
            assert_same(printed[f"grad ({name})"], [math.inf, math.inf])
    assert_prints_the_pages_numbers(printed, explore(*example))


def test_plus_a_constant_beyond_float32_is_inf_but_the_gradient_is_one(run_code):
    # 1e9**4*1000 = 1e39 (a literal is capped at 1e9, so 1e38*10 cannot be typed): x + inf = inf, d/dx = 1.
    example = ("[1, 2]", "y = x + 1e9**4*1000")
    for printed in _both_exports(run_code, *example):
        assert_same(printed["layers"][0], [math.inf, math.inf])
        assert_same(printed["grad (sum)"], [1.0, 1.0])
        assert_same(printed["grad (mean)"], [0.5, 0.5])
        assert_same(printed["grad (ones_like)"], [1.0, 1.0])
    assert_prints_the_pages_numbers(printed, explore(*example))


def test_nan_constants_give_nan_values_and_gradients_where_they_multiply(run_code):
    # c = 0/0 is nan everywhere with gradient zero; y = x + sqrt(-1) is nan but dy/dx = 1; z = c*x has dz/dx = nan.
    example = ("[1, 2]", "c = 0/0\ny = x + sqrt(-1)\nz = c*x + y")
    for printed in _both_exports(run_code, *example):
        for layer in printed["layers"]:
            assert_same(layer, [math.nan, math.nan])
        for name in REDUCTION_NAMES:
            assert_same(printed[f"grad ({name})"], [math.nan, math.nan])
    assert_prints_the_pages_numbers(printed, explore(*example))
    single = ("[1, 2]", "y = x + sqrt(-1)")
    for printed in _both_exports(run_code, *single):
        assert_same(printed["layers"][0], [math.nan, math.nan])
        assert_same(printed["grad (sum)"], [1.0, 1.0])
    assert_prints_the_pages_numbers(printed, explore(*single))


def test_dividing_by_negative_zero_keeps_its_sign(run_code):
    # The page's -0 is the float -0.0: x/-0.0 is -inf for x > 0, and d/dx = 1/-0.0 = -inf. Python's -0 is the int 0.
    example = ("[1, -2]", "y = x / -0")
    for printed in _both_exports(run_code, *example):
        assert_same(printed["layers"][0], [-math.inf, math.inf])
        assert_same(printed["grad (sum)"], [-math.inf, -math.inf])
    assert_prints_the_pages_numbers(printed, explore(*example))


# ---------------------------------------------------------------- generated formulas

# Constants that overflow float32 or float64, are nan, are a signed zero, or sit at float32's edge.
EXTREME_CONSTANTS = [
    "exp(100)", "cosh(100)", "-cosh(100)", "1e9**5", "-(1e9**5)", "1e9**4*1000", "(1/0)", "(-1/0)", "(0/0)",
    "log(0)", "log(-1)", "sqrt(-1)", "(-8)**(1/3)", "340282350*1e9**3*1000", "exp(1000)", "1e9**40", "-0", "-0.0",
]
PLAIN_CONSTANTS = ["0", "1", "2", "3", "0.5", "1e9", "1e-9", "pi", "e", "-1"]
# Parts that depend on x and overflow (or underflow) in float32 for some x.
X_PARTS = ["exp(x*100)", "x*1e9*1e9*1e9*1e9*1e9", "cosh(x*100)", "1/x", "log(x)", "x**3*1e9", "x/(x - x)"]
EXPONENTS = ["2", "3", "-1", "0.5", "0", "-0", "100"]
X_VALUES = ["0", "-0.0", "1", "-1", "0.5", "2", "-3", "100", "1e9", "-1e9", "1e-9", "88.8", "1e-45"]


def expressions(names):
    leaf = st.one_of(
        st.sampled_from(names), st.sampled_from(PLAIN_CONSTANTS), st.sampled_from(EXTREME_CONSTANTS),
        st.sampled_from(X_PARTS),
    )

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(EXPONENTS)).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]})**({t[1]})"),
            st.tuples(st.sampled_from(sorted(FUNCTIONS)), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda t: f"-{t}"),
        )

    return st.recursive(leaf, extend, max_leaves=5)


@st.composite
def programs(draw):
    """1 to 3 layers, each reading x and the layers before it; a constant layer now and then (a bare number
    before the last line declares a leaf), and now and then a declared leaf w that the layers may read."""
    names, lines = ["x"], []
    if draw(st.booleans()):
        lines.append(f"w = {draw(st.sampled_from(['0.5', '-2.0', '[1.5, -0.25]', '[[1.0, 2.0], [3.0, 4.0]]']))}")
        names.append("w")
    for index in range(draw(st.integers(1, 3))):
        constant = st.sampled_from(EXTREME_CONSTANTS + PLAIN_CONSTANTS)
        expr = draw(st.one_of(expressions(names), expressions(names), constant))
        name = f"h{index}"
        lines.append(f"{name} = {expr}")
        names.append(name)
    return "\n".join(lines)


number = st.one_of(st.sampled_from(X_VALUES), st.floats(-1e9, 1e9, width=32).map(repr))
row = st.lists(number, min_size=1, max_size=4).map(lambda v: "[" + ", ".join(v) + "]")
x_texts = st.one_of(number, row, st.lists(row, min_size=1, max_size=2).map(lambda v: "[" + ", ".join(v) + "]"))


@pytest.mark.slow  # over 5 s (--durations)
@settings(max_examples=200, deadline=None)
@given(x_text=x_texts, layers_text=programs())
def test_exported_script_prints_exactly_the_pages_numbers(run_code, x_text, layers_text):
    try:
        result = explore(x_text, layers_text)
    except FormulaError:
        event("the page refuses it")
        return
    event("inf or nan on the page" if result.warnings else "finite")
    script = export_script(x_text, layers_text)
    assert script.split("\n\n", 1)[1] == _notebook_code(x_text, layers_text)  # the notebook runs the same code
    assert_prints_the_pages_numbers(run_code(script), result)
