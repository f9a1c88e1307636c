"""The exported script and notebook run on their own and print what the explorer computes."""

import ast
import functools
import math
import re
import shutil

import nbformat
import pytest
import torch

from explorer import FormulaError, explore
from explorer.engine.parse_x import parse_x
from explorer.views.export import dot_export, export_notebook, export_script, svg_export

SEED_SCALAR = ("2.0", "y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1")
SEED_LAYERS = ("[[1, 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2")
ACTIVATIONS = (
    "[[-1.5, 0.25, 0.5], [2.0, -0.75, 3.0]]",
    "a = sigmoid(x) + relu(x - 1)\nb = softplus(a*pi) - a**2\nc = a*b + sin(2*pi)*x + e + abs(a - b)",
)
CONSTANT = ("[1, 2, 3]", "y = 2")
REDUCTION_NAMES = ("sum", "mean", "ones_like")


def _notebook_code(x_text, layers_text):
    notebook = export_notebook(x_text, layers_text)
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


EXPORTS = {"script": export_script, "notebook": _notebook_code}


@pytest.fixture
def run(script_runner):
    """(kind, x_text, layers_text) -> the export's stdout, run by the one Python that imports nothing of ours
    (tests/script_runner.py); each export runs once per test session."""
    return functools.partial(_run, script_runner)


@functools.cache
def _run(runner, kind, x_text, layers_text):
    return runner.run(EXPORTS[kind](x_text, layers_text))["stdout"]


def _floats(value):
    """literal_eval's nested lists, with None (a printed nan) back as nan."""
    if isinstance(value, list):
        return [_floats(item) for item in value]
    return math.nan if value is None else value


def _tensor(text):
    """torch's printed form back into a tensor: tensor([[10., 16.], ...], grad_fn=<...>)."""
    inner = text[len("tensor(") : text.rindex(")")]
    inner = inner.split(", grad_fn=")[0].split(", requires_grad=")[0]
    inner = re.sub(r"\bnan\b", "None", re.sub(r"\binf\b", "1e999", inner))  # 1e999 reads as inf
    return torch.tensor(_floats(ast.literal_eval(inner)))


def _printed(stdout, label):
    """The tensor printed on the lines after `label`."""
    lines = stdout.splitlines()
    text = ""
    for line in lines[lines.index(label) + 1 :]:
        text += line
        if text.count("(") == text.count(")"):
            return _tensor(text)
    raise AssertionError(f"no tensor after {label!r}")


def _grads(stdout):
    return {name: _printed(stdout, f"x.grad ({name}):") for name in REDUCTION_NAMES}


def _assert_printed_equal(printed, expected):
    """torch prints 4 decimals: compare to that precision."""
    torch.testing.assert_close(printed, expected.to(printed.dtype), rtol=1e-3, atol=1e-4)


@pytest.mark.slow  # over 5 s (--durations)
@pytest.mark.parametrize("kind", EXPORTS)
def test_scalar_seed_prints_63_and_gradient_93(kind, run):
    stdout = run(kind, *SEED_SCALAR)
    assert "tensor(63., grad_fn=<AddBackward0>)" in stdout
    for name in REDUCTION_NAMES:
        assert _printed(stdout, f"x.grad ({name}):").item() == 93.0
    assert _printed(stdout, "out (sum):").item() == 63.0


@pytest.mark.slow  # over 5 s (--durations)
@pytest.mark.parametrize("kind", EXPORTS)
def test_two_layer_seed_matches_the_notebooks(kind, run):
    stdout = run(kind, *SEED_LAYERS)
    grads = _grads(stdout)
    assert grads["mean"].tolist() == [[10, 16, 22], [22, 16, 10]]
    assert grads["sum"].tolist() == [[60, 96, 132], [132, 96, 60]]
    assert grads["ones_like"].tolist() == [[60, 96, 132], [132, 96, 60]]
    assert _printed(stdout, "out (mean):").item() == 140.0
    assert "tensor(140., grad_fn=<MeanBackward0>)" in stdout


@pytest.mark.parametrize("kind", EXPORTS)
@pytest.mark.parametrize(
    "example", [SEED_SCALAR, SEED_LAYERS, ACTIVATIONS, CONSTANT], ids=["scalar", "layers", "activations", "constant"]
)
@pytest.mark.slow  # over 5 s (--durations)
def test_printed_gradients_equal_the_explorers(kind, example, run):
    stdout = run(kind, *example)
    result = explore(*example)
    for name, grad in _grads(stdout).items():
        _assert_printed_equal(grad, result.grads[name])
    for name in ("sum", "mean"):
        assert repr(_printed(stdout, f"out ({name}):")) == repr(result.reductions[name].out)


def test_functions_and_constants_become_torch_and_math_calls():
    script = export_script(*ACTIVATIONS)
    for call in ("torch.sigmoid(", "torch.relu(", "torch.nn.functional.softplus(", "math.pi", "torch.abs("):
        assert call in script
    assert "import math" in script


@pytest.mark.parametrize("kind", EXPORTS)
def test_constant_layer_has_x_shape_and_zero_gradient(kind, run):
    stdout = run(kind, *CONSTANT)
    assert "torch.full_like(x, 2)" in export_script(*CONSTANT)
    for grad in _grads(stdout).values():
        assert grad.tolist() == [0, 0, 0]
    assert _printed(stdout, "out (sum):").item() == 6.0


@pytest.mark.parametrize("kind", EXPORTS)
def test_constant_intermediate_layer_still_carries_the_gradient(kind, run):
    stdout = run(kind, "[1, 2]", "c = 3*pi\nz = c*x")
    _assert_printed_equal(_grads(stdout)["sum"], torch.full((2,), 3 * torch.pi))


@pytest.mark.parametrize("kind", EXPORTS)
def test_layers_named_like_the_scripts_own_names_are_renamed(kind, run):
    example = ("[1, 2]", "torch = 2*x\nmath = torch + pi\nprint = math*x\nout = print + 1")
    grad = _grads(run(kind, *example))["sum"]
    _assert_printed_equal(grad, torch.tensor([4 + torch.pi, 8 + torch.pi]))  # d/dx (2x + pi)x + 1
    _assert_printed_equal(grad, explore(*example).grads["sum"])


@pytest.mark.parametrize("kind", EXPORTS)
def test_folded_constants_match_the_explorer_where_python_would_raise(kind, run):
    example = ("[1, 2]", "y = x*(2**-1) + (1/0)*0*x + sqrt(-1)*0 + (-8)**(1/3)*0")
    stdout = run(kind, *example)
    assert torch.isnan(_printed(stdout, "x.grad (sum):")).all()
    assert torch.isnan(explore(*example).grads["sum"]).all()


def test_x_is_written_from_its_float32_values_and_reads_back_exactly():
    x_text = "[[0.1, -1e-7, 123456.789], [3, 0.333333333, 1e9]]"
    line = next(line for line in export_script(x_text, "y = x").splitlines() if line.startswith("x = "))
    literal = line.removeprefix("x = torch.tensor(").removesuffix(", requires_grad=True)")
    assert torch.equal(torch.tensor(ast.literal_eval(literal)), parse_x(x_text))
    assert "0.1," in literal


def test_code_comes_from_the_tree_not_the_text():
    script = export_script("[1,2]", "  # a comment\ny=3*x+2   \n\nz = ((2*(y**2)))  # note")
    assert "y = 3*x + 2\n" in script
    assert "z = 2*y**2\n" in script
    assert "comment" not in script and "note" not in script
    imports = {line for line in script.splitlines() if "import" in line}
    assert imports == {"import torch"}


@pytest.mark.parametrize(
    "x_text, layers_text",
    [
        ("1", "y = __import__('os').system('x')"),
        ("1", "y = x\nimport os"),
        ("1", "y = x; __import__('os')"),
        ("1", "y = x.__class__"),
        ("1", "y = x\r\nz = 'a'"),
        ("1); import os; (1", "y = x"),
        ("[1, 2]\nimport os", "y = x"),
    ],
)
@pytest.mark.parametrize("export", [export_script, export_notebook])
def test_injection_attempts_are_refused_by_the_parser(export, x_text, layers_text):
    with pytest.raises(FormulaError):
        export(x_text, layers_text)


def test_notebook_is_valid_v4_with_the_chain_rule_in_words():
    notebook = export_notebook("[1, 2]", "hidden_1 = 3*x + 2\nz = 2*hidden_1**2")
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "chain rule" in markdown
    assert r"\mathrm{hidden\_1} = 3 x + 2" in markdown
    assert r"z = 2 \mathrm{hidden\_1}^{2}" in markdown
    assert nbformat.reads(nbformat.writes(notebook), as_version=4) == notebook


def test_dot_export_is_the_graph_as_the_page_shows_it():
    result = explore(*SEED_LAYERS)
    annotated = dot_export(result, "mean", step=2)
    assert annotated.lstrip().startswith("digraph")
    assert annotated.count("#ffb347") == 1, "the current step is highlighted"
    assert "out = z.mean()" in annotated and "x.grad += " in annotated
    assert dot_export(result, "mean", plain=True) == result.reductions["mean"].dot


def test_svg_export_renders_the_annotated_graph_with_graphviz():
    assert shutil.which("dot"), "Graphviz's dot is missing: packages.txt and .ci/run install it"
    svg = svg_export(dot_export(explore(*SEED_LAYERS), "sum")).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "out = z.sum()" in svg and "PowBackward0" in svg and "x.grad += [[ 60." in svg  # 12 * (3*1 + 2)


def test_svg_export_is_none_without_graphviz(monkeypatch):
    import explorer.views.export

    monkeypatch.setattr(explorer.views.export.shutil, "which", lambda name: None)
    assert svg_export(explore(*SEED_LAYERS).dot) is None


def test_svg_export_pipes_the_dot_source_through_graphviz(tmp_path, monkeypatch):
    # A stand-in `dot` on PATH (the real one renders in test_svg_export_renders_the_annotated_graph_with_graphviz)
    # proves the plumbing: it is called with -Tsvg and gets the DOT text, and its output is returned.
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\necho "<svg args=\"$*\">"; cat; echo "</svg>"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    dot = explore(*SEED_LAYERS).dot
    svg = svg_export(dot)
    assert svg.startswith(b"<svg") and b"-Tsvg" in svg and b"PowBackward0" in svg
