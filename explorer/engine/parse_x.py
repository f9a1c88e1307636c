"""x (and any tensor typed like it): a number or a nested list of numbers, parsed into a float32 tensor.

A fast path reads the common case with one regular expression; anything else takes the careful path, whose
errors say where. Every limit (characters, elements, nesting, digits) is checked before the work it bounds.
"""

import json
import re

import torch

from explorer.engine import limits
from explorer.engine.characters import check_characters, check_length, normalise
from explorer.engine.errors import FormulaError

# Each token takes the whitespace after it, and the text's leading whitespace
# is skipped once. (A pattern that starts with \s* and fails at the end of a
# long run of spaces rescans the run from every start: a megabyte of trailing
# spaces was quadratic, hours of work.) The last group takes any other character.
_X_SPACE = re.compile(r"[ \t\n]*")
_X_TOKEN = re.compile(
    r"(?:(\[)|(\])|(,)|([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)|(.))[ \t\n]*", re.DOTALL
)
_OPEN, _CLOSE, _COMMA, _NUMBER_TOKEN, _OTHER = 1, 2, 3, 4, 5

# The fast path: JSON's C parser, on text that can hold nothing but JSON numbers,
# brackets and commas (no NaN, Infinity, true or null), with no number longer
# than the tokenizer allows. Whatever it refuses or returns oddly goes to the
# tokenizer, which accepts a superset (".5", "5.", "+2", "[1,]") and says where.
_NOT_JSON_NUMBERS = re.compile(r"[^0-9 \t\n\[\],.eE+\-]")
_LONG_NUMBER = re.compile(rf"[0-9.eE+\-]{{{limits.MAX_X_NUMBER_CHARS + 1}}}")


def _x_error(message, text, offset):
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return FormulaError(message, field="x", line=line, col=col)


def _x_number(token, text, offset):
    if len(token) > limits.MAX_X_NUMBER_CHARS:
        raise _x_error(f"number {token[:12]}... is too long ({len(token):,} characters)", text, offset)
    value = float(token)  # the token matched a plain ASCII decimal pattern above: no nan, inf or '_'
    if not abs(value) <= limits.MAX_ABS_LITERAL:
        raise _x_error(f"{token} is outside ±{limits.MAX_ABS_LITERAL:g}", text, offset)
    return value


def _x_fast(text):
    """x as a float32 tensor if the JSON fast path accepts it, else None."""
    if _NOT_JSON_NUMBERS.search(text) or _LONG_NUMBER.search(text):
        return None
    try:
        value = json.loads(text, parse_int=float)  # parse_int: a 32-digit int never becomes a Python int
        if not isinstance(value, (float, list)):
            return None
        tensor = torch.tensor(value, dtype=torch.float64)  # ragged, mixed or empty lists raise or give numel 0
    except (ValueError, TypeError, RecursionError, RuntimeError, MemoryError):
        return None
    if not 0 < tensor.numel() <= limits.MAX_X_ELEMENTS or tensor.dim() > limits.MAX_X_RANK:
        return None
    if not bool((tensor.abs() <= limits.MAX_ABS_LITERAL).all()):  # nan and inf fail too
        return None
    return tensor.to(torch.float32)


def parse_x(text):
    """A number or a rectangular nested list of numbers, as a float32 tensor.

    Lists follow Python: a trailing comma inside brackets ("[1, 2,]") is fine;
    an empty slot ("[1,,2]"), a bare top-level tuple ("1, 2") and nan/inf are not.
    """
    text = normalise(text, "x")
    check_length(text, limits.MAX_X_CHARS, "x", "x")
    check_characters(text, "x")
    if not text.strip():
        raise FormulaError("x is empty: type a number like 2.0 or a list like [[1, 2, 3], [3, 2, 1]]", field="x")
    fast = _x_fast(text)
    return fast if fast is not None else _x_slow(text)


def _x_slow(text):
    """The tokenizer: the grammar's reference, and the one that says where a problem is."""
    stack = [[]]  # open lists; stack[0] collects the single top-level value
    expect_value, count = True, 0
    number_group = _NUMBER_TOKEN
    for match in _X_TOKEN.finditer(text, _X_SPACE.match(text).end()):  # tokens are contiguous: each takes its spaces
        kind = match.lastindex
        if kind == number_group:
            if not expect_value or (len(stack) == 1 and stack[0]):
                raise _x_error("missing comma", text, match.start())
            count += 1
            if count > limits.MAX_X_ELEMENTS:
                raise _x_error(f"x has more than {limits.MAX_X_ELEMENTS:,} elements", text, match.start())
            stack[-1].append(_x_number(match.group(number_group), text, match.start()))
            expect_value = False
        elif kind == _COMMA:
            if expect_value or len(stack) == 1:
                hint = ": wrap a list in brackets: [1, 2, 3]" if len(stack) == 1 and not expect_value else ""
                raise _x_error("unexpected ','" + hint, text, match.start())
            expect_value = True
        elif kind == _OPEN:
            if not expect_value or (len(stack) == 1 and stack[0]):
                raise _x_error("missing comma", text, match.start())
            if len(stack) > limits.MAX_X_RANK:
                raise _x_error(f"x nests deeper than {limits.MAX_X_RANK} levels", text, match.start())
            new = []
            stack[-1].append(new)
            stack.append(new)
            expect_value = True
        elif kind == _CLOSE:
            if len(stack) == 1:
                raise _x_error("unmatched ']'", text, match.start())
            stack.pop()
            expect_value = False
        else:
            raise _x_error(f"unexpected {match.group(_OTHER)!r}: x holds numbers, commas and [ ]", text, match.start())
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
