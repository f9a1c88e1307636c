"""Parse the layers text into a Program (x is parsed by explorer.engine.parse_x).

User text is data, never code: the layers go through `ast.parse` only to get
a syntax tree, which is walked (iteratively) against a whitelist and turned
into explorer.engine.tree nodes. Every limit is checked before the work it bounds.
"""

import ast
import keyword
import re
import threading

from explorer.engine import limits
from explorer.engine.characters import check_characters, check_length, normalise
from explorer.engine.errors import FormulaError
from explorer.engine.fold import fold_constant
from explorer.engine.language import BINARY_OPERATORS, CALLS, CONSTANTS, INPUT_NAME, RESERVED_NAMES, UNARY_OPERATORS
from explorer.engine.parse_x import parse_x
from explorer.engine.tree import Binary, Call, Layer, Leaf, Lit, Name, Num, Program, Unary, to_text, walk

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


# What a formula's "parts" are, as its limit counts and its message says: names, numbers, operators, calls (a
# call's function name is the call itself). Brackets, commas and Python's own bookkeeping nodes are not parts.
_PARTS = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Call)
PARTS_WORDS = "names, numbers, operators and calls"


def _is_part(node, parent):
    return isinstance(node, _PARTS) and not (isinstance(parent, ast.Call) and node is parent.func)


def _check_tree_size(tree, line):
    """Count parts and depth with an explicit stack: a recursive walk breaks on long chains. Too many parts is
    said with the count, what a part is, and the column where the limit is passed, reading left to right: the
    line (at most limits.MAX_LINE_CHARS) bounds the walk, so counting them all costs nothing."""
    columns, too_deep, stack = [], None, [(tree, None, 1, tree.col_offset)]
    while stack:
        node, parent, depth, col = stack.pop()
        col = getattr(node, "col_offset", col)  # operators and Load carry no position: use the parent's
        if _is_part(node, parent):  # a binary operator sits after its left operand, not where the left begins
            columns.append(node.left.end_col_offset if isinstance(node, ast.BinOp) else col)
        if depth > limits.MAX_EXPR_DEPTH and too_deep is None:
            too_deep = col
        stack.extend((child, node, depth + 1, col) for child in ast.iter_child_nodes(node))
    if len(columns) > limits.MAX_EXPR_NODES:
        passed = sorted(columns)[limits.MAX_EXPR_NODES]
        raise FormulaError(
            f"this formula has {len(columns)} parts ({PARTS_WORDS}); one line allows {limits.MAX_EXPR_NODES}, "
            f"and part {limits.MAX_EXPR_NODES + 1} is at this column"
            + (f"; it also nests deeper than {limits.MAX_EXPR_DEPTH} levels" if too_deep is not None else "")
            + ". Split it into layers: put a piece on a line of its own (h = ...) and use h",
            line=line, col=passed + 1)
    if too_deep is not None:
        raise FormulaError(f"the formula nests deeper than {limits.MAX_EXPR_DEPTH} levels (calls, brackets, and each "
                           "operator of a chain such as a + b + c, nest). Split it into layers: put a piece on a line "
                           "of its own (h = ...) and use h", line=line, col=too_deep + 1)
    return len(columns)


# A Python number literal, as its tokenizer reads one, and the character after it.
_DIGITS = r"[0-9](?:_?[0-9])*"
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_])("
    r"0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+"
    rf"|(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?{_DIGITS})?[jJ]?"
    r")([A-Za-z0-9_.]?)"
)
_WORD = re.compile(r"[A-Za-z0-9_.]*")


def _check_code(code, line):
    """Raw-text checks on the code part of a line, before ast.parse sees it.

    Strings and backslashes are refused here, and so is a number run into a
    letter ("2x", "1if"): that is where Python's tokenizer would print an
    escape-sequence or "invalid decimal literal" warning to the server's stderr,
    and warnings can't be silenced per call from a thread. Digits are counted
    before any literal is converted.
    """
    for col, char in enumerate(code, 1):
        if char in "'\"":
            raise FormulaError("strings are not allowed: only numbers", line=line, col=col)
        if char == "\\":
            raise FormulaError("backslashes are not allowed: one formula per line", line=line, col=col)
    depth = 0
    for col, char in enumerate(code, 1):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth > limits.MAX_BRACKET_DEPTH:
            raise FormulaError(f"brackets nest deeper than {limits.MAX_BRACKET_DEPTH}", line=line, col=col)
    for match in _NUMBER.finditer(code):
        literal, after = match.groups()
        col = match.start() + 1
        if after:
            word = _WORD.match(code, match.end(1)).group()
            hint = f"; write {literal}*{word}" if word.isidentifier() and not keyword.iskeyword(word) else ""
            raise FormulaError(f"'{literal}{word}' is not a number{hint}", line=line, col=col)
        hexadecimal = literal[:2] in ("0x", "0X")
        digits = len(re.findall("[0-9a-fA-F]" if hexadecimal else "[0-9]", literal[2:] if hexadecimal else literal))
        if digits > limits.MAX_LITERAL_DIGITS:
            limit = limits.MAX_LITERAL_DIGITS
            raise FormulaError(f"number has {digits} digits; the limit is {limit}", line=line, col=col)


# CPython 3.11's parser keeps recursion bookkeeping that concurrent ast.parse calls from threads (every
# Streamlit session is one) can corrupt: "SystemError: AST constructor recursion depth mismatch", seen
# under the 30-session benchmark. One parse at a time; each is a line of at most MAX_LINE_CHARS.
_PARSE_LOCK = threading.Lock()


def _parse_line(code, line):
    _check_code(code, line)
    try:
        with _PARSE_LOCK:
            module = ast.parse(code, mode="exec")
    except SyntaxError as error:
        col = min(max(error.offset or 1, 1), len(code) + 1)
        reason = (error.msg or "invalid syntax").split(" (")[0]
        raise FormulaError(f"syntax error: {reason}", line=line, col=col) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise FormulaError("the formula is too deeply nested to read", line=line) from None
    return module.body


def _number(node, line):
    value = node.value
    if type(value) not in (int, float):  # bool, complex, str, bytes, None, Ellipsis
        shown = {bool: "booleans are", str: "strings are", bytes: "bytes are", complex: "complex numbers are"}.get(
            type(value), f"{value!r} is"
        )
        raise FormulaError(f"{shown} not allowed: only numbers", **_where(node, line))
    # Compare before converting: a 400-digit int never meets float() or int arithmetic.
    if not (-limits.MAX_ABS_LITERAL <= value <= limits.MAX_ABS_LITERAL):
        raise FormulaError(f"number is outside ±{limits.MAX_ABS_LITERAL:g}", **_where(node, line))
    text = repr(value) if isinstance(value, float) else str(value)
    if len(text) > limits.MAX_LITERAL_DIGITS + 6:
        raise FormulaError("number has too many digits", **_where(node, line))
    return Num(float(value), text)


def _convert(node, known, line, code=""):
    """ast -> tree, refusing everything outside the whitelist. Depth is already capped."""
    if isinstance(node, ast.Constant):
        return _number(node, line)
    if isinstance(node, ast.Name):
        if node.id in known or node.id in CONSTANTS:
            return Name(node.id)
        if node.id in CALLS:
            raise FormulaError(f"'{node.id}' is a function: call it, as {node.id}(x)", **_where(node, line))
        raise FormulaError(f"unknown name '{node.id}' (known: {', '.join(known)})", **_where(node, line))
    if isinstance(node, ast.UnaryOp):
        op = UNARY_OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise FormulaError(f"operator '{_symbol(node.op)}' is not allowed", **_where(node, line))
        return Unary(op, _convert(node.operand, known, line, code))
    if isinstance(node, ast.BinOp):
        op = BINARY_OPERATORS.get(type(node.op).__name__)
        if op is None:
            raise FormulaError(
                f"operator '{_symbol(node.op)}' is not allowed (use + - * / **)", **_where(node, line)
            )
        left, right = _convert(node.left, known, line, code), _convert(node.right, known, line, code)
        result = Binary(op, left, right, col=_operator_col(node, op, code))
        if op == "**":
            _check_exponent(result.right, node.right, line)
        if op == "@":
            _check_matmul_operands(result, line)
        return result
    if isinstance(node, ast.Call):
        return _call(node, known, line, code)
    if isinstance(node, ast.List):
        raise FormulaError(
            "a list is a leaf on a line of its own (w = [1.0, 2.0]), or a constant inside detach([...])",
            **_where(node, line),
        )
    what = _NOT_ALLOWED.get(type(node), type(node).__name__)
    raise FormulaError(f"{what} not allowed in a formula", **_where(node, line))


def _dotted(node):
    """`torch.nn.functional` for a chain of plain names, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _operator_col(node, op, code):
    """The 1-based column of a binary operator: after its left operand (and any closing brackets)."""
    start = node.left.end_col_offset or 0
    found = code.find(op, start)
    return (found if found >= 0 else node.col_offset) + 1


def _check_matmul_operands(node, line):
    """`@` takes tensors: a number on either side is refused here, a scalar leaf by the shape pass."""
    for side, operand in (("left", node.left), ("right", node.right)):
        if fold_constant(operand) is not None:
            raise FormulaError(
                f"{to_text(node)}: @ needs a tensor on each side, and the {side} side is the number"
                f" {to_text(operand)}; scale with * instead",
                line=line, col=node.col,
            )


def renamed(message, what):
    """An x-field message about another text read by x's rules: "x is ragged" becomes "w is ragged"."""
    return re.sub(r"\bx (is|has|nests|holds)\b", what + r" \1", message)


def _literal(node, line, code, what):
    """A number or a nested list, read by the x field's parser (its limits, its messages), as a float32 tensor."""
    text = ast.get_source_segment(code, node) or ""
    try:
        return parse_x(text)
    except FormulaError as error:
        col = node.col_offset + (error.col or 1)
        message = renamed(error.message, what)
        raise FormulaError(message, line=line, col=col if error.line in (None, 1) else None) from None


def _is_literal(node):
    """A list, or a number with an optional sign: what a leaf declaration and detach([...]) hold."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.List) or (isinstance(node, ast.Constant) and type(node.value) in (int, float))


def _call(node, known, line, code=""):
    if isinstance(node.func, ast.Attribute) and node.func.attr in CALLS and _dotted(node.func.value):
        name, arg = node.func.attr, node.args[0].id if node.args and isinstance(node.args[0], ast.Name) else "..."
        raise FormulaError(
            f"only the listed functions can be called: write {name}({arg}), without {_dotted(node.func.value)}.",
            **_where(node, line),
        )
    if not isinstance(node.func, ast.Name):
        raise FormulaError("only the listed functions can be called", **_where(node, line))
    name = node.func.id
    if name not in CALLS:
        raise FormulaError(
            f"unknown function '{name}' (known: {', '.join(CALLS)})", **_where(node.func, line)
        )
    if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
        raise FormulaError(f"{name}() takes exactly one argument", **_where(node, line))
    arg = node.args[0]
    if name == "detach" and isinstance(arg, ast.List):
        tensor = _literal(arg, line, code, "the list")
        return Call(name, Lit(tuple(tensor.flatten().tolist()), tuple(tensor.shape)), col=node.col_offset + 1)
    return Call(name, _convert(arg, known, line, code), col=node.col_offset + 1)


def _symbol(op):
    symbols = {"FloorDiv": "//", "Mod": "%", "MatMult": "@", "BitAnd": "&", "BitOr": "|", "BitXor": "^",
               "LShift": "<<", "RShift": ">>", "Invert": "~", "Not": "not"}
    return symbols.get(type(op).__name__, type(op).__name__)


def _check_exponent(exponent, node, line):
    """A constant exponent is capped, so no tower like 9**9**9 reaches sympy's exact integers."""
    value = fold_constant(exponent)
    if value is not None and value != value:
        raise FormulaError("exponent is nan: a constant exponent must be a number", **_where(node, line))
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


def _parse_layer(code, line, known, last=False):
    """A Layer, or a Leaf for `name = number or list` (but the last line is the output, so `y = 2` stays a
    constant layer, as before leaves). None for a line with no statement."""
    body = _parse_line(code, line)
    if not body:
        return None  # only ';' or whitespace: Python reads no statement
    statement = body[0]
    if len(body) > 1:
        raise FormulaError("one assignment per line", line=line, col=body[1].col_offset + 1)
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        raise FormulaError("each line is one assignment: name = expression", **_where(statement, line))
    target = statement.targets[0]
    if not isinstance(target, ast.Name):
        raise FormulaError("the left side must be a single new name", **_where(target, line))
    name = _layer_name(target, known, line)
    if _is_literal(statement.value) and not last:  # the x parser bounds it, not the formula's node count
        tensor = _literal(statement.value, line, code, name)
        return Leaf(name, tuple(tensor.flatten().tolist()), tuple(tensor.shape), line)
    if last and isinstance(statement.value, ast.List):
        raise FormulaError(
            "the last line is the output, a formula: declare the list on a line above it and read it"
            f" (w = [1.0, 2.0], then {name} = w * x)",
            **_where(statement.value, line),
        )
    _check_tree_size(statement.value, line)
    return Layer(name, _convert(statement.value, known, line, code), line)


def _parse_indented_layer(raw, line, known, last=False):
    """One line: its code is what comes before '#' (no string can hide a '#'), without the indent."""
    code = raw.split("#", 1)[0]
    indent = len(code) - len(code.lstrip())
    try:
        return _parse_layer(code.strip(), line, known, last)
    except FormulaError as error:
        if error.col is None or not indent:
            raise
        raise FormulaError(error.message, line=line, col=error.col + indent) from None


def parse_layers(text):
    """`name = expression` lines into a Program; blank lines and # comments are skipped.

    Lines end in LF or CRLF; a lone CR is refused. Indentation is ignored.
    """
    text = normalise(text, "layers")
    check_length(text, limits.MAX_LAYERS_CHARS, "layers", "the layers text")
    check_characters(text, "layers")
    known, layers, leaves, total = [INPUT_NAME], [], [], 0
    lines = text.split("\n")
    last = _last_code_line(lines)
    for number, raw in enumerate(lines, 1):
        if len(raw) > limits.MAX_LINE_CHARS:
            raise FormulaError(f"line is {len(raw)} characters; the limit is {limits.MAX_LINE_CHARS}", line=number)
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        layer = _parse_indented_layer(raw, number, known, last=number == last)
        if layer is None:
            continue
        if isinstance(layer, Leaf):
            leaves.append(layer)
            known.append(layer.name)
            _check_leaf_elements(leaves, number)
            continue
        if len(layers) == limits.MAX_LAYERS:
            raise FormulaError(f"more than {limits.MAX_LAYERS} layers", line=number)
        total += _count(layer.expr)
        if total > limits.MAX_TOTAL_NODES:
            raise FormulaError(f"the layers have {total} parts in all by this line ({PARTS_WORDS}), more than "
                               f"the {limits.MAX_TOTAL_NODES} allowed: fewer or shorter layers", line=number)
        layers.append(layer)
        known.append(layer.name)
    if not layers:
        raise FormulaError("no layers yet: write one per line, like y = 3*x + 2")
    return Program(tuple(layers), tuple(leaves))


def _last_code_line(lines):
    """The number of the last line holding code: the output, which a bare number leaves a constant layer."""
    for number in range(len(lines), 0, -1):
        if lines[number - 1].split("#", 1)[0].strip(" \t;"):
            return number
    return 0


def _check_leaf_elements(leaves, line):
    """The declared leaves' elements, in all; x's are checked with x (limits.MAX_X_ELEMENTS bounds both)."""
    total = sum(leaf.size for leaf in leaves)
    if total > limits.MAX_X_ELEMENTS:
        raise FormulaError(f"the leaves have {total:,} elements; the limit is {limits.MAX_X_ELEMENTS:,}", line=line)


def _count(expr):
    return sum(1 for _ in walk(expr))
