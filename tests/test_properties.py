"""Property tests: any text gives a result or a FormulaError, fast; valid formulas get gradients right."""

import time

import pytest
import torch
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from explorer import FormulaError, explore
from explorer.engine import limits
from explorer.engine.forward import run_forward
from explorer.engine.language import FUNCTIONS
from explorer.engine.parse_x import _x_fast, _x_slow

SECONDS = 1.0
X = "[[1, 2, 3], [3, 2, 1]]"
LAYERS = "y = 3*x + 2\nz = 2*y**2"
FAST = settings(max_examples=200, deadline=1000)


@pytest.fixture(scope="module", autouse=True)
def warm():
    explore(X, LAYERS)


def outcome(x_text, layers_text):
    """explore's result or FormulaError; any other exception fails the test. Checked to take under a second."""
    start = time.monotonic()
    try:
        result = explore(x_text, layers_text)
    except FormulaError as error:
        message = str(error)
        assert "Traceback" not in message and "\n" not in message, message
        result = error
    seconds = time.monotonic() - start
    event("result" if not isinstance(result, FormulaError) else f"FormulaError ({result.field})")
    assert seconds < SECONDS, f"{seconds:.2f} s for x={x_text[:60]!r} layers={layers_text[:60]!r}"
    return result


# ---------------------------------------------------------------- (a) arbitrary text

ASCII = st.characters(codec="ascii")


@FAST
@given(layers=st.one_of(st.text(max_size=500), st.text(alphabet=ASCII, max_size=500)))
def test_arbitrary_layers_text(layers):
    outcome(X, layers)


@FAST
@given(x=st.one_of(st.text(max_size=300), st.text(alphabet=ASCII, max_size=300)),
       layers=st.sampled_from([LAYERS, LAYERS, LAYERS, "y = sin(x)", "y = 2", "y = (1\n"]))
def test_arbitrary_x_text(x, layers):
    outcome(x, layers)


# ---------------------------------------------------------------- (b) token soups

LAYER_TOKENS = [
    "x", "y", "z", "w", "_", "0", "1", "2.5", "1e3", "1e9", "1e10", "9", "007", ".5", "5.", "0x1f", "1j",
    "+", "-", "*", "/", "**", "//", "%", "(", ")", "=", "==", ",", "[", "]", ".", ":", ";", "#",
    " ", " ", "\t", "\n", "\r\n", "\r", "pi", "e", "if", "else", "lambda", "not", *FUNCTIONS,
]
X_TOKENS = ["[", "]", ",", " ", "\n", "\t", "\r\n", "1", "-2.5", "+3", ".5", "5.", "1e3", "1e999", "0", "-", "e", "nan"]

soup = st.lists(st.sampled_from(LAYER_TOKENS), max_size=80).map("".join)
assignment = st.tuples(st.sampled_from(["y", "z", "w", "x", "sin", "_a", "y1"]), soup).map(lambda t: f"{t[0]} = {t[1]}")
x_soup = st.lists(st.sampled_from(X_TOKENS), max_size=60).map("".join)

# Operands and operators in turn: mostly valid formulas with towers, zeros and big numbers in odd places.
OPERANDS = ["x", "y", "0", "1", "9", "100", "1e9", "1e-9", ".5", "pi", "e", "(x)", "(-x)", "(x-x)", "(1/0)",
            *(f"{name}(x)" for name in FUNCTIONS), "exp(x*100)", "log(-x)", "sqrt(x-3)"]
operand = st.tuples(st.sampled_from(["", "-", "+", "--"]), st.sampled_from(OPERANDS)).map("".join)
operator = st.sampled_from(["+", "-", "*", "/", "**", " ** ", "**-"])
chain = st.tuples(st.lists(st.tuples(operand, operator).map("".join), max_size=8).map("".join), operand).map("".join)
chains = st.tuples(chain, chain).map(lambda t: f"y = {t[0]}\nz = {t[1]}")


@FAST
@given(layers=st.one_of(soup, st.lists(assignment, min_size=1, max_size=6).map("\n".join), chains))
def test_token_soup_layers(layers):
    outcome(X, layers)


@FAST
@given(x=x_soup, layers=st.one_of(st.just(LAYERS), chains))
def test_token_soup_x(x, layers):
    outcome(x, layers)


# ---------------------------------------------------------------- x: the JSON fast path agrees with the tokenizer

def nested(depth):
    number = st.one_of(
        st.integers(-10**12, 10**12).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
        st.sampled_from(["0", "-0", "1e9", "1e10", "1E-3", "00", "01", ".5", "5.", "+2", "1e999", "1" * 40]),
    )
    if depth == 0:
        return number
    inner = nested(depth - 1)
    return st.one_of(
        number,
        st.tuples(st.lists(inner, max_size=4), st.sampled_from([",", ", ", " ,\n"]), st.booleans()).map(
            lambda t: "[" + t[1].join(t[0]) + ("," if t[2] else "") + "]"
        ),
    )


def _parse(parse, text):
    try:
        return parse(text)
    except FormulaError as error:
        return error


@FAST
@given(text=st.one_of(nested(limits.MAX_X_RANK + 1), x_soup))
def test_x_fast_path_agrees_with_tokenizer(text):
    fast = _x_fast(text)
    slow = _parse(_x_slow, text)
    event(f"fast path {'took it' if fast is not None else 'passed'}; tokenizer {type(slow).__name__}")
    if fast is not None:
        assert isinstance(slow, torch.Tensor), f"fast path accepted what the tokenizer refuses: {slow}"
        assert fast.dtype == slow.dtype == torch.float32
        assert torch.equal(fast, slow)


# ---------------------------------------------------------------- valid formulas: autograd vs finite differences

SMOOTH = ["sin", "cos", "tanh", "sigmoid", "softplus", "exp"]


def expressions(names):
    leaf = st.one_of(st.sampled_from(names), st.sampled_from(["1", "2", "0.5", "3", "pi", "e"]))

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(["+", "-", "*"]), inner, inner).map(lambda t: f"({t[1]} {t[0]} {t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]} / (2 + {t[1]}**2)"),
            st.tuples(st.sampled_from(SMOOTH), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(["2", "3", "-1"])).map(lambda t: f"(1.5 + sin({t[0]}))**{t[1]}"),
            inner.map(lambda t: f"-{t}"),
        )

    return st.recursive(leaf, extend, max_leaves=6)


@st.composite
def programs(draw):
    names, lines = ["x"], []
    for index in range(draw(st.integers(1, 3))):
        name = f"h{index}"
        lines.append(f"{name} = {draw(expressions(names))}")
        names.append(name)
    return "\n".join(lines)


@pytest.mark.slow  # over 5 s (--durations)
@FAST
@given(layers=programs(), values=st.lists(st.floats(-1, 1, allow_subnormal=False), min_size=1, max_size=4))
def test_gradients_match_float64_finite_differences(layers, values):
    x_text = "[" + ", ".join(repr(v) for v in values) + "]"
    result = outcome(x_text, layers)
    assume(not isinstance(result, FormulaError))  # e.g. too many parts: fine, just not this property's subject
    # A bare number before the last line declares a leaf (issue 11): tests/test_layers.py checks those programs.
    assume(not result.program.leaves)
    x64 = torch.tensor([float(v) for v in result.x], dtype=torch.float64)
    output = result.program.output.name

    def f(at):
        return run_forward(result.program, at)[output]

    # float32 is the user's precision: sin(373000.) in float32 is not sin(373000.) in float64. Keep every layer small.
    layers = run_forward(result.program, x64)
    assume(all(bool(v.isfinite().all()) and float(v.abs().max()) < 50 for v in layers.values()))
    step = 1e-6
    value = f(x64)
    slope = (f(x64 + step) - f(x64 - step)) / (2 * step)
    assume(bool(torch.isfinite(value).all() and torch.isfinite(slope).all()))
    assume(float(value.abs().max()) < 1e4 and float(slope.abs().max()) < 1e4)
    torch.testing.assert_close(result.output.double(), value, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(result.grads["sum"].double(), slope, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(result.grads["mean"].double(), slope / len(values), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(result.grads["ones_like"].double(), slope, rtol=1e-3, atol=1e-3)
