"""Exports: the example as a PyTorch script or a Jupyter notebook, and the graph as DOT or SVG.

User text is data, never code: both fields go through the parser, and every
line of the export is generated from the validated tree (explorer.engine.tree) and
the parsed tensor. Nothing the user typed is pasted into the output.

The script and the notebook share one list of sections, so their code is the
same: the notebook's code cells, joined, are the script.

The code must print the page's numbers, inf and nan included: constant parts
are folded in float64 as explorer.engine.forward folds them, written so that Python
reads back the same float (a negative zero too), and a constant layer beyond
float32's range is written as the float32 the page's conversion makes of it.
"""

import math
import re
import shutil

import graphviz
import numpy as np

from explorer.engine.fold import fold_constant
from explorer.engine.language import CALLS, CONSTANTS, INPUT_NAME, REDUCTIONS
from explorer.engine.parse import parse_layers
from explorer.engine.parse_x import parse_x
from explorer.engine.shapes import infer
from explorer.engine.tree import (
    Binary,
    Call,
    Lit,
    Name,
    Num,
    Unary,
    children,
    fold,
    is_elementwise,
    reached_by,
    to_text,
)
from explorer.views.folded import folded_dot
from explorer.views.graph import annotated_dot
from explorer.views.prose import X_WORDS, backward_code, chain_rule_words, intro, latex_layer, reduction_words

# Names the generated code itself uses: a layer called one of these is renamed.
_SCRIPT_NAMES = frozenset({"torch", "math", "out", "print"})


_FLOAT32_MAX = float(np.finfo(np.float32).max)

_TORCH_CALLS = {name: function.torch_path for name, function in CALLS.items()}


# ---------------------------------------------------------------- code from the tree


def script_names(program):
    """Leaf and layer name -> its name in the script: the same, unless it would hide torch, math, out or print."""
    declared = [leaf.name for leaf in program.leaves] + list(program.names)
    taken = set(declared) | _SCRIPT_NAMES
    names = {INPUT_NAME: INPUT_NAME}
    for name in declared:
        new = name
        while new in _SCRIPT_NAMES or (new != name and new in taken):
            new += "_"
        taken.add(new)
        names[name] = new
    return names


def code_names(program):
    """Leaf and layer name -> its name in the generated code (the page's code blocks use the same)."""
    return script_names(program)


def _is_signed_literal(node):
    if isinstance(node, Unary):
        return _is_signed_literal(node.operand)
    return isinstance(node, Num) or (isinstance(node, Name) and node.id in CONSTANTS)


def _is_plain_constant(node):
    """A number, pi or e, or minus one of those, that Python reads exactly as the explorer does.

    Not a negative zero: the explorer's -0 is the float -0.0, but Python's `-0` is
    the integer 0, which has no sign, so `x / -0` would give inf instead of -inf.
    """
    if not _is_signed_literal(node):
        return False
    value = fold_constant(node)
    return not (value == 0 and math.copysign(1, value) < 0)


def _constant_code(value):
    """A folded float64 constant as a Python expression that gives back the same float."""
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "(-math.inf)"
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def _math_name(leaf):
    return leaf if isinstance(leaf, Num) else Name(f"math.{leaf.id}")


def _math_constant(node):
    """A plain constant (a number, pi or e, or minus one of those) as Python writes it: math.pi, -math.e."""
    return fold(node, _math_name, lambda unary, operands: Unary(unary.op, *operands))


def _code_tree(node, names):
    """The tree rewritten into torch's names, ready for to_text.

    Constant parts other than plain numbers are folded in float64 first, as
    explorer.engine.forward does: Python's own arithmetic would raise where numpy
    gives inf or nan (1/0, 1e9**40), and torch.sin(math.pi) is not a tensor call.
    """

    def constant(node):
        if _is_plain_constant(node):
            return _math_constant(node)
        value = fold_constant(node)
        return None if value is None else Num(value, _constant_code(value))

    def apply(node, operands):
        if isinstance(node, Unary):  # unary plus is the operand itself, in the explorer and here
            return operands[0] if node.op == "+" else Unary("-", *operands)
        if isinstance(node, Binary):
            return Binary(node.op, *operands)
        return Call(_TORCH_CALLS[node.fn], *operands)

    def leaf(node):
        if isinstance(node, Lit):  # a detached list: a plain tensor, no requires_grad
            return Name(f"torch.tensor({node.text})")
        return Name(names[node.id])

    return fold(node, leaf, apply, whole=constant)


def _has_folded_constant(node):
    if _is_plain_constant(node):
        return False
    if fold_constant(node) is not None:
        return True
    return any(_has_folded_constant(child) for child in children(node))


def _float32_overflow(value):
    """The float32 that the explorer's float64 -> float32 conversion gives for a finite value beyond float32's range.

    None inside the range (and for inf and nan): there torch.full_like rounds
    the float64 exactly as the conversion does. Beyond it full_like raises
    instead, while the conversion gives inf, or float32's largest number for
    a value that rounds down to it.
    """
    if not math.isfinite(value) or abs(value) <= _FLOAT32_MAX:
        return None
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def layer_line(layer, names):
    """`name = expression` in torch's words; a constant layer has x's shape, as in the explorer."""
    expr = to_text(_code_tree(layer.expr, names))
    value = fold_constant(layer.expr)
    if value is not None:
        overflow = _float32_overflow(value)
        expr = f"torch.full_like(x, {expr if overflow is None else _constant_code(overflow)})"
    return f"{names[layer.name]} = {expr}"


def _layer_comments(layer, names):
    """Where the code reads differently from the formula, a line that says why."""
    lines = []
    if names[layer.name] != layer.name:
        lines.append(f"# the layer {layer.name} is {names[layer.name]} here: the script needs {layer.name} itself")
    if _has_folded_constant(layer.expr):
        lines.append(f"# {layer.name} = {to_text(layer.expr)}, with its constant parts worked out")
    value = fold_constant(layer.expr)
    overflow = None if value is None else _float32_overflow(value)
    if overflow is not None:
        lines.append(f"# {value!r} is beyond float32's range: converted as the explorer does, it is {overflow!r}")
    return lines


def reached_leaves(program):
    """x and the declared leaves that the output reads with a gradient path: directly or through earlier layers,
    and not only inside detach(...)."""
    return reached_by(program)[program.output.name]


def _depends_on_x(program):
    """Whether the output reads x, directly or through earlier layers, outside detach(...)."""
    return INPUT_NAME in reached_leaves(program)


def _x_number(value):
    """The shortest text that gives back the same float32, as the user most likely typed it."""
    short = str(np.float32(value))
    return short if float(np.float32(float(short))) == value else repr(value)


def x_literal(values):
    if isinstance(values, list):
        return "[" + ", ".join(x_literal(item) for item in values) + "]"
    return _x_number(values)


# ---------------------------------------------------------------- code cells


def _reduction_cells(name, x_line, forward, output, reads_x, leaf_names=(), reached=None):
    """Fresh leaves and forward pass, then out (if any), then backward and every leaf's .grad.
    `x_line` declares x and every other leaf; `leaf_names` are the declared leaves' names in the script."""
    fresh = "\n".join(["# fresh leaves: .grad starts empty, so gradients never add up across runs", x_line, *forward])
    snippet = backward_code(name, output).split("\n")
    out_lines = [line for line in snippet if "backward" not in line]
    cells = [fresh]
    if out_lines:
        cells.append("\n".join([*out_lines, f'print("out ({name}):")', "print(out)"]))
    reached = set(leaf_names) if reached is None else reached
    backward = [line for line in snippet if "backward" in line] if reads_x or reached else []
    if reads_x:
        grad = [f'print("x.grad ({name}):")', "print(x.grad)"]
    else:
        grad = [
            f"# {output} does not depend on x: there is nothing to differentiate, and x.grad stays None (zero)",
            f'print("x.grad ({name}):")',
            "print(torch.zeros_like(x))",
        ]
    for leaf in leaf_names:
        if leaf not in reached:
            grad.append(f"# {output} does not depend on {leaf}: torch leaves {leaf}.grad as None (zero)")
        grad += [f'print("{leaf}.grad ({name}):")', f"print({leaf}.grad)"]
    return cells + ["\n".join(backward + grad)]


def _imports(code):
    uses_math = any(re.search(r"\bmath\.", text) for text in code)
    return "import math\n\nimport torch" if uses_math else "import torch"


def _sections(program, x):
    """The example as ("markdown" | "code", text) pairs, in order."""
    names = script_names(program)
    output = names[program.output.name]
    reads_x = _depends_on_x(program)
    x_line = "\n".join(leaf_definitions(program, x, names))
    forward = [layer_line(layer, names) for layer in program.layers]
    leaf_names = [names[leaf.name] for leaf in program.leaves]
    count = math.prod(infer(program, tuple(x.shape))[0][program.output.name])  # the output's elements, not x's
    elementwise = is_elementwise(program)

    printed = "\n".join(f"print({name})" for name in ["x", *leaf_names])
    sections = [("markdown", X_WORDS), ("code", f"{x_line}\n{printed}")]
    for number, (layer, line) in enumerate(zip(program.layers, forward, strict=True), 2):
        code = [*_layer_comments(layer, names), line, f"print({names[layer.name]})"]
        sections.append(("markdown", f"#### {number}. The layer ${latex_layer(layer)}$"))
        sections.append(("code", "\n".join(code)))
    sections.append(("markdown", chain_rule_words(program, output)))
    for name in REDUCTIONS:
        sections.append(("markdown", reduction_words(name, output, count, reads_x, elementwise,
                                                      bool(program.leaves))))
        reached = {names[leaf] for leaf in reached_leaves(program)}
        cells = _reduction_cells(name, x_line, forward, output, reads_x, leaf_names, reached)
        sections += [("code", cell) for cell in cells]

    imports = _imports(text for kind, text in sections if kind == "code")
    return [("markdown", intro(program)), ("code", imports), *sections]


def vector_line(vector):
    """The seed of z.backward(gradient=v) as code: its float32 values, written as short as they read back."""
    return f"v = torch.tensor({x_literal(vector.tolist())})"


def leaf_definitions(program, x, names):
    """x and every declared leaf, each a tensor that requires grad, as the user wrote them."""
    lines = [f"x = torch.tensor({x_literal(x.tolist())}, requires_grad=True)"]
    for leaf in program.leaves:
        lines.append(f"{names[leaf.name]} = torch.tensor({leaf.text}, requires_grad=True)")
    return lines


# ---------------------------------------------------------------- public


def export_script(x_text, layers_text):
    """A runnable PyTorch script of the example: x, each layer, then backward three ways.

    Raises FormulaError for bad input, exactly as explore() does.
    """
    return script_for(parse_layers(layers_text), parse_x(x_text))


def script_for(program, x):
    """export_script of an input already parsed: the page passes an exploration's program and x."""
    code = [text for kind, text in _sections(program, x) if kind == "code"]
    header = "# Exported from the autograd graph explorer: x, the layers, then backward three ways."
    return "\n\n".join([header, *code]) + "\n"


def export_notebook(x_text, layers_text):
    """The same code as export_script, as an nbformat v4 notebook with the chain rule in words."""
    return notebook_for(parse_layers(layers_text), parse_x(x_text))


def notebook_for(program, x, more=()):
    """export_notebook of an input already parsed; `more` (kind, text) cells after its own."""
    return new_notebook([*_sections(program, x), *more])


def notebook_text(program, x):
    """The notebook as the .ipynb file's text."""
    return notebook_file(notebook_for(program, x))


def new_notebook(cells):
    """A validated nbformat v4 notebook of (kind, text) cells: "code" ones, and markdown. nbformat is imported on
    the first export, not at start-up: 0.10-0.15 s less before the first page (bench/ANALYSIS.md, cold start)."""
    import nbformat
    from nbformat import v4

    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [v4.new_code_cell(text) if kind == "code" else v4.new_markdown_cell(text) for kind, text in cells]
    nbformat.validate(notebook)
    return notebook


def notebook_file(notebook):
    """A notebook as the .ipynb file's text."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(notebook))


def dot_export(exploration, name="sum", step=None, plain=False, at=None, fold=False):
    """The graph's DOT source as the page shows it: annotated for backward from `name`, with the
    step-through's node (0-based `step`) highlighted, and values at element `at` only if given (as on a
    projector); folded by layer when `fold` (explorer.views.fold); or torchviz's own, readable, when `plain`."""
    if plain:
        return exploration.reductions[name].dot
    if fold:
        return folded_dot(exploration, name, step, at)
    return annotated_dot(exploration, name, step, at)


def svg_export(dot_text):
    """The graph as SVG bytes, or None when Graphviz's `dot` program is not installed."""
    if shutil.which("dot") is None:
        return None
    return graphviz.Source(dot_text).pipe(format="svg")


def forward_code(program, x):
    """The forward pass as the script writes it, for the page to print beside its values.

    Returns (imports, steps): steps are (name on the page, name in the code, code lines),
    x first, then each layer in torch's names with the script's comments.
    """
    names = script_names(program)
    lines = leaf_definitions(program, x, names)
    steps = [(INPUT_NAME, INPUT_NAME, lines[:1])]
    steps += [(leaf.name, names[leaf.name], [line]) for leaf, line in zip(program.leaves, lines[1:], strict=True)]
    for layer in program.layers:
        steps.append((layer.name, names[layer.name], [*_layer_comments(layer, names), layer_line(layer, names)]))
    return _imports(line for _, _, lines in steps for line in lines), steps
