"""Every entry of the hostile corpus through explore(), and a scan of the source for eval and its cousins."""

import ast
import re
import time
import types
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch

import explorer
import explorer.engine.parse
from explorer import FormulaError, explore
from explorer.engine import limits
from tests.hostile_corpus import CORPUS

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 1.0

# Messages about the whole text rather than a place in it.
_WHOLE_TEXT = ("characters; the limit is", "no layers yet", "is empty", "is never closed", "element-operations",
               "ragged", "empty list")


def _slug(text):
    text = re.sub(r"[^A-Za-z0-9_=+*/().,-]+", "~", text)
    return text[:28] + (f"..{len(text)}" if len(text) > 28 else "")


def _case_id(index, case):
    kind, x_text, layers_text, _ = case
    shown = layers_text if kind != "x-field" else x_text
    return f"{kind}-{index:03d}-{_slug(shown)}"


@pytest.fixture(scope="module")
def warm():
    """Imports, torchviz and torch's first kernels cost hundreds of ms once; timing starts after them."""
    explore("[[1, 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2")
    explore("2", "y = sin(x)*exp(x)/sqrt(x)**2 - log(x)")
    with pytest.raises(FormulaError):
        explore("2", "y = (")


def run(x_text, layers_text):
    """(result or None, FormulaError or None, seconds, warnings raised by parsing user text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.monotonic()
        try:
            result, error = explore(x_text, layers_text), None
        except FormulaError as raised:
            result, error = None, raised
        seconds = time.monotonic() - start
    parser_warnings = [w for w in caught if w.filename == "<unknown>" or issubclass(w.category, SyntaxWarning)]
    return result, error, seconds, parser_warnings


def check_error_message(error):
    message = str(error)
    assert isinstance(error, ValueError)
    assert "Traceback" not in message and 'File "' not in message, message
    assert "\n" not in message, message
    assert len(message) < 400, message
    if error.col is not None:
        assert error.line is not None
        assert f"line {error.line}, col {error.col}: " in message
    elif error.line is not None:
        assert f"line {error.line}: " in message
    else:
        assert any(part in message for part in _WHOLE_TEXT), f"says nowhere: {message}"
    if error.field == "x":
        assert message.startswith("x: ")


def test_corpus_size_and_classes():
    counts = Counter(case[0] for case in CORPUS)
    assert len(CORPUS) >= 90
    assert set(counts) == {"code-escape", "resource", "x-field", "unicode", "names", "non-finite-ok"}
    assert all(case[3] == "ok" or case[3] == "error" or case[3][0] == "error" for case in CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[_case_id(i, case) for i, case in enumerate(CORPUS)])
def test_hostile_input(case, warm):
    kind, x_text, layers_text, expected = case
    result, error, seconds, parser_warnings = run(x_text, layers_text)
    assert seconds < SECONDS, f"took {seconds:.2f} s"
    assert not parser_warnings, [str(w.message) for w in parser_warnings]
    if expected == "ok":
        assert error is None, str(error)
        assert result.output.shape == result.x.shape
        return
    assert error is not None, "explore accepted it"
    check_error_message(error)
    if isinstance(expected, tuple):
        assert expected[1] in str(error)


def test_constant_formula_has_zero_grads(warm):
    result = explore("[[1, 2, 3], [3, 2, 1]]", "y = 2")
    assert torch.equal(result.output, torch.full((2, 3), 2.0))
    for grad in result.grads.values():
        assert torch.equal(grad, torch.zeros(2, 3))
    assert result.warnings == ()


def test_non_finite_results_are_reported_not_raised(warm):
    result = explore("[1.0, 2.0]", "y = 1/(x-x)")
    assert not torch.isfinite(result.output).any()
    assert any("produced inf or nan" in w for w in result.warnings)


class _AstWith:
    """The ast module as explorer.engine.parse sees it, with parse replaced: pytest's own ast stays untouched."""

    def __init__(self, parse):
        self.parse = parse

    def __getattr__(self, name):
        return getattr(ast, name)


def test_unary_chain_never_reaches_ast_parse(monkeypatch):
    """A 100k unary minus chain is stopped by the length limits, before Python's parser sees it."""
    seen = []
    parsing = _AstWith(lambda text, *a, **k: seen.append(text) or ast.parse(text))
    monkeypatch.setattr(explorer.engine.parse, "ast", parsing)
    for layers in ("y = " + "-" * 100_000 + "x", "y = " + "-" * (limits.MAX_LAYERS_CHARS - 10) + "x",
                   "y = x\nz = " + "-" * (limits.MAX_LINE_CHARS + 1) + "x"):
        with pytest.raises(FormulaError, match="the limit is"):
            explore("2", layers)
    assert seen == ["y = x"]


def test_python_parser_failures_become_formula_errors(monkeypatch, warm):
    """Whatever ast.parse itself raises on odd input surfaces as FormulaError with the line."""
    for exception in (RecursionError, MemoryError, ValueError, OverflowError, SyntaxError):
        def boom(*args, exception=exception, **kwargs):
            raise exception("parser trouble")

        monkeypatch.setattr(explorer.engine.parse, "ast", _AstWith(boom))
        with pytest.raises(FormulaError, match="^line 3"):
            explore("2", "# first\n\ny = x")


def test_torch_runtime_errors_become_formula_errors(monkeypatch, warm):
    """A torch op raising at run time names the layer's line instead of escaping as RuntimeError."""
    def broken(_tensor):
        raise RuntimeError("expected scalar type Float but found Double\nException raised from ...")

    monkeypatch.setitem(explorer.engine.forward.CALLS, "sin", types.SimpleNamespace(torch=broken))
    with pytest.raises(FormulaError, match=r"^line 2: sin\(y\) failed: expected scalar type Float but found Double$"):
        explore("2", "y = x\nz = sin(y)")


def test_identity_layer_ones_like_grad(warm):
    """z = x: z.backward(gradient=ones_like(z)) gives x.grad = 1, as in PyTorch."""
    result = explore("[1.0, 2.0]", "y = x")
    assert torch.equal(result.grads["ones_like"], torch.ones(2))


# ---------------------------------------------------------------- source scan

_BANNED_NAMES = {"eval", "exec", "compile", "sympify", "parse_expr", "literal_eval", "__import__"}
_BANNED_ATTRIBUTES = {"sympify", "parse_expr", "literal_eval"}


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def banned_calls(source, filename="<source>"):
    """Calls that evaluate text as code: eval/exec/compile, sympy's parsers, numexpr, pandas' eval."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func, name = node.func, _dotted(node.func)
        bad = (
            (isinstance(func, ast.Name) and func.id in _BANNED_NAMES)
            or (isinstance(func, ast.Attribute) and func.attr in _BANNED_ATTRIBUTES)
            or name in {"builtins.eval", "builtins.exec", "builtins.compile", "numexpr.evaluate", "ne.evaluate"}
            # pandas.eval, pd.eval, DataFrame.eval(expr): an .eval with arguments (nn.Module.eval() takes none)
            or (isinstance(func, ast.Attribute) and func.attr == "eval" and (node.args or node.keywords))
        )
        if bad:
            found.append(f"{filename}:{node.lineno}: {name or ast.unparse(func)}(...)")
    return found


def test_scanner_finds_what_it_should():
    source = """
import re, ast, builtins, numexpr, pandas as pd, sympy
eval("1"); exec("1"); compile("1", "", "eval"); builtins.compile("1", "", "eval")
sympy.sympify("x"); parse_expr("x"); sympy.parsing.sympy_parser.parse_expr("x"); ast.literal_eval("1")
numexpr.evaluate("1"); pd.eval("1"); frame.eval("a + b"); __import__("os")
re.compile("a"); model.eval(); sympy.Symbol("x"); torch.compile
"""
    found = banned_calls(source)
    assert len(found) == 12, found
    assert not any("re.compile" in line or "model.eval" in line for line in found)


def test_no_text_evaluation_in_the_source():
    files = sorted((ROOT / "explorer").glob("*.py"))
    app = ROOT / "streamlit_app.py"
    if app.exists():
        files.append(app)
    assert files
    found = [hit for path in files for hit in banned_calls(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, "\n".join(found)


def test_formula_error_is_one_line_and_survives_pickling():
    import pickle

    error = FormulaError("first\nsecond\r\nthird", field="x", line=2, col=5)
    assert str(error) == "x: line 2, col 5: first second third"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.field, copy.line, copy.col) == (FormulaError, str(error), "x", 2, 5)
