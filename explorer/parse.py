"""Parse the two text fields into data: x into a tensor, layers into a Program.

User text is data, never code: the layers go through `ast.parse` only to get
a syntax tree, which is walked (iteratively) against a whitelist and turned
into explorer.tree nodes. Every limit is checked before the work it bounds.
"""

import ast
import re
import unicodedata

import torch

from . import limits
from .errors import FormulaError
from .language import BINARY_OPERATORS, CONSTANTS, FUNCTIONS, INPUT_NAME, RESERVED_NAMES
from .forward import fold_constant
from .tree import Binary, Call, Layer, Name, Num, Program, Unary, children

_ALLOWED_CONTROL = {"\n", "\t"}


def _check_characters(text, field):
    """ASCII only: look-alikes (full-width x, Cyrillic x, superscript 2, minus sign) are refused by name."""
    line, col = 1, 0
    for char in text:
        col += 1
        if char == "\n":
            line, col = line + 1, 0
            continue
        if ord(char) > 127 or (ord(char) < 32 and char not in _ALLOWED_CONTROL) or ord(char) == 127:
            name = unicodedata.name(char, "control character")
            raise FormulaError(
                f"character U+{ord(char):04X} ({name}) is not allowed: formulas are plain ASCII",
                field=field,
                line=line,
                col=col,
            )


def _check_length(text, most, field, what):
    if len(text) > most:
        raise FormulaError(f"{what} is {len(text):,} characters; the limit is {most:,}", field=field)


# ---------------------------------------------------------------- x


_X_TOKEN = re.compile(r"\s*(?:(\[)|(\])|(,)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(\S))")
_MAX_NUMBER_CHARS = 32


def _x_error(message, text, offset):
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return FormulaError(message, field="x", line=line, col=col)


def _x_number(token, text, offset):
    if len(token) > _MAX_NUMBER_CHARS:
        raise _x_error(f"number {token[:12]}... is too long ({len(token)} characters)", text, offset)
    value = float(token)  # the token matched a plain ASCII decimal pattern above
    if not abs(value) <= limits.MAX_ABS_LITERAL:
        raise _x_error(f"{token} is outside ±{limits.MAX_ABS_LITERAL:g}", text, offset)
    return value


def parse_x(text):
    """A number or a rectangular nested list of numbers, as a float32 tensor."""
    _check_length(text, limits.MAX_X_CHARS, "x", "x")
    _check_characters(text, "x")
    if not text.strip():
        raise FormulaError("x is empty: type a number like 2.0 or a list like [[1, 2, 3], [3, 2, 1]]", field="x")
    stack = [[]]  # open lists; stack[0] collects the single top-level value
    expect_value, count = True, 0
    for match in _X_TOKEN.finditer(text):
        opened, closed, comma, number, other = match.groups()
        offset = match.start(match.lastindex)
        if other is not None:
            raise _x_error(f"unexpected {other!r}: x holds numbers, commas and [ ]", text, offset)
        if opened or number:
            if not expect_value or (len(stack) == 1 and stack[0]):
                raise _x_error("missing comma", text, offset)
            if opened:
                if len(stack) > limits.MAX_X_RANK:
                    raise _x_error(f"x nests deeper than {limits.MAX_X_RANK} levels", text, offset)
                new = []
                stack[-1].append(new)
                stack.append(new)
                expect_value = True
                continue
            count += 1
            if count > limits.MAX_X_ELEMENTS:
                raise _x_error(f"x has more than {limits.MAX_X_ELEMENTS:,} elements", text, offset)
            stack[-1].append(_x_number(number, text, offset))
            expect_value = False
        elif comma:
            if expect_value or len(stack) == 1:
                raise _x_error("unexpected ','", text, offset)
            expect_value = True
        elif closed:
            if len(stack) == 1:
                raise _x_error("unmatched ']'", text, offset)
            stack.pop()
            expect_value = False
    if len(stack) > 1:
        raise FormulaError("a '[' is never closed", field="x")
    if not stack[0]:
        raise FormulaError("x is empty", field="x")
    value = stack[0][0]
    _check_rectangular(value)
    return torch.tensor(value, dtype=torch.float32)


def _check_rectangular(value):
    """Every list at one depth has the same length, and numbers sit only at the bottom."""
    level = [value]
    depth = 0
    while isinstance(level[0], list):
        depth += 1
        sizes = {len(item) if isinstance(item, list) else -1 for item in level}
        if len(sizes) != 1 or -1 in sizes:
            raise FormulaError(f"x is ragged at depth {depth}: every row needs the same length", field="x")
        if 0 in sizes:
            raise FormulaError("x has an empty list", field="x")
        level = [child for item in level for child in item]
    if any(isinstance(item, list) for item in level):
        raise FormulaError("x is ragged: numbers and lists are mixed at one depth", field="x")


# ---------------------------------------------------------------- layers


_NOT_ALLOWED = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "subscripts ('[...]')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "':='",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and' / 'or'",
    ast.IfExp: "'if ... else'",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Starred: "'*' unpacking",
    ast.Await: "await",
}


def _where(node, line):
    return {"line": line, "col": getattr(node, "col_offset", 0) + 1}


def _check_tree_size(tree, line):
    """Count nodes and depth with an explicit stack: a recursive walk breaks on long chains."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.MAX_EXPR_NODES:
            raise FormulaError(f"the formula has more than {limits.MAX_EXPR_NODES} parts", line=line)
        if depth > limits.MAX_EXPR_DEPTH:
            raise FormulaError(f"the formula nests deeper than {limits.MAX_EXPR_DEPTH} levels", line=line)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return count


def _check_brackets(text, line):
    depth = 0
    for col, char in enumerate(text, 1):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth > limits.MAX_BRACKET_DEPTH:
            raise FormulaError(f"brackets nest deeper than {limits.MAX_BRACKET_DEPTH}", line=line, col=col)


def _parse_line(text, line):
    _check_brackets(text, line)
    try:
        module = ast.parse(text, mode="exec")
    except SyntaxError as error:
        col = error.offset or 1
        reason = (error.msg or "invalid syntax").split(" (")[0]
        raise FormulaError(f"syntax error: {reason}", line=line, col=col) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise FormulaError("the formula is too deeply nested to read", line=line) from None
    return module.body


def _number(node, line):
    value = node.value
    if type(value) not in (int, float):  # bool, complex, str, bytes, None, Ellipsis
        shown = {bool: "booleans", str: "strings", bytes: "bytes", complex: "complex numbers"}.get(
            type(value), repr(value)
        )
        raise FormulaError(f"{shown} are not allowed: only numbers", **_where(node, line))
    # Compare before converting: a 400-digit int never meets float() or int arithmetic.
    if not (-limits.MAX_ABS_LITERAL <= value <= limits.MAX_ABS_LITERAL):
        raise FormulaError(f"number is outside ±{limits.MAX_ABS_LITERAL:g}", **_where(node, line))
    text = repr(value) if isinstance(value, float) else str(value)
    if len(text) > limits.MAX_LITERAL_DIGITS + 6:
        raise FormulaError("number has too many digits", **_where(node, line))
    return Num(float(value), text)


def _convert(node, known, line):
    """ast -> tree, refusing everything outside the whitelist. Depth is already capped."""
    if isinstance(node, ast.Constant):
        return _number(node, line)
    if isinstance(node, ast.Name):
        if node.id in known or node.id in CONSTANTS:
            return Name(node.id)
        if node.id in FUNCTIONS:
            raise FormulaError(f"'{node.id}' is a function: call it, as {node.id}(x)", **_where(node, line))
        raise FormulaError(f"unknown name '{node.id}' (known: {', '.join(known)})", **_where(node, line))
    if isinstance(node, ast.UnaryOp):
        op = {ast.USub: "-", ast.UAdd: "+"}.get(type(node.op))
        if op is None:
            raise FormulaError(f"operator '{_symbol(node.op)}' is not allowed", **_where(node, line))
        return Unary(op, _convert(node.operand, known, line))
    if isinstance(node, ast.BinOp):
        op = BINARY_OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise FormulaError(
                f"operator '{_symbol(node.op)}' is not allowed (use + - * / **)", **_where(node, line)
            )
        result = Binary(op, _convert(node.left, known, line), _convert(node.right, known, line))
        if op == "**":
            _check_exponent(result.right, node.right, line)
        return result
    if isinstance(node, ast.Call):
        return _call(node, known, line)
    what = _NOT_ALLOWED.get(type(node), type(node).__name__)
    raise FormulaError(f"{what} not allowed in a formula", **_where(node, line))


def _call(node, known, line):
    if not isinstance(node.func, ast.Name):
        raise FormulaError("only the listed functions can be called", **_where(node, line))
    name = node.func.id
    if name not in FUNCTIONS:
        raise FormulaError(
            f"unknown function '{name}' (known: {', '.join(FUNCTIONS)})", **_where(node.func, line)
        )
    if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
        raise FormulaError(f"{name}() takes exactly one argument", **_where(node, line))
    return Call(name, _convert(node.args[0], known, line))


def _symbol(op):
    symbols = {"FloorDiv": "//", "Mod": "%", "MatMult": "@", "BitAnd": "&", "BitOr": "|", "BitXor": "^",
               "LShift": "<<", "RShift": ">>", "Invert": "~", "Not": "not"}
    return symbols.get(type(op).__name__, type(op).__name__)


def _check_exponent(exponent, node, line):
    """A constant exponent is capped, so no tower like 9**9**9 reaches sympy's exact integers."""
    value = fold_constant(exponent)
    if value is not None and not abs(value) <= limits.MAX_ABS_EXPONENT:
        raise FormulaError(f"exponent is outside ±{limits.MAX_ABS_EXPONENT}", **_where(node, line))


def _layer_name(target, known, line):
    name = target.id
    problem = None
    if name == INPUT_NAME:
        problem = "'x' is the input; give the layer another name"
    elif name in RESERVED_NAMES:
        problem = f"'{name}' is a function or constant; give the layer another name"
    elif name in known:
        problem = f"'{name}' is already defined; each layer needs a new name"
    elif name.startswith("_"):
        problem = "layer names can't start with '_'"
    elif len(name) > limits.MAX_NAME_CHARS:
        problem = f"layer names are at most {limits.MAX_NAME_CHARS} characters"
    if problem:
        raise FormulaError(problem, **_where(target, line))
    return name


def _parse_layer(text, line, known):
    body = _parse_line(text, line)
    if not body:
        return None  # a comment
    statement = body[0]
    if len(body) > 1:
        raise FormulaError("one assignment per line", line=line, col=body[1].col_offset + 1)
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        raise FormulaError("each line is one assignment: name = expression", **_where(statement, line))
    target = statement.targets[0]
    if not isinstance(target, ast.Name):
        raise FormulaError("the left side must be a single new name", **_where(target, line))
    _check_tree_size(statement.value, line)
    name = _layer_name(target, known, line)
    return Layer(name, _convert(statement.value, known, line), line)


def _parse_indented_layer(raw, line, known):
    indent = len(raw) - len(raw.lstrip())
    try:
        return _parse_layer(raw.strip(), line, known)
    except FormulaError as error:
        if error.col is None or not indent:
            raise
        raise FormulaError(error.message, line=line, col=error.col + indent) from None


def parse_layers(text):
    """`name = expression` lines into a Program; blank lines and # comments are skipped."""
    _check_length(text, limits.MAX_LAYERS_CHARS, "layers", "the layers text")
    _check_characters(text, "layers")
    known, layers, total = [INPUT_NAME], [], 0
    for number, raw in enumerate(text.split("\n"), 1):
        if len(raw) > limits.MAX_LINE_CHARS:
            raise FormulaError(f"line is {len(raw)} characters; the limit is {limits.MAX_LINE_CHARS}", line=number)
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        layer = _parse_indented_layer(raw, number, known)
        if layer is None:
            continue
        if len(layers) == limits.MAX_LAYERS:
            raise FormulaError(f"more than {limits.MAX_LAYERS} layers", line=number)
        total += _count(layer.expr)
        if total > limits.MAX_TOTAL_NODES:
            raise FormulaError(f"the layers have more than {limits.MAX_TOTAL_NODES} parts in all", line=number)
        layers.append(layer)
        known.append(layer.name)
    if not layers:
        raise FormulaError("no layers yet: write one per line, like y = 3*x + 2")
    return Program(tuple(layers))


def _count(expr):
    count, stack = 0, [expr]
    while stack:
        count += 1
        stack.extend(children(stack.pop()))
    return count
