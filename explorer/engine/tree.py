"""The whitelisted formula tree that parsing produces and everything else reads.

A tree is plain, immutable data: numbers, names, operators and calls of the
function table. Nothing here can reach Python's own evaluation of user text.
"""

from dataclasses import dataclass, field

import numpy as np

from explorer.engine.language import ATOM_PRECEDENCE, BINARY, FUNCTIONS, INPUT_NAME, UNARY


@dataclass(frozen=True)
class Num:
    value: float
    text: str  # as the user wrote it, for exports and LaTeX


@dataclass(frozen=True)
class Name:
    id: str  # x, an earlier layer, or a constant such as pi


@dataclass(frozen=True)
class Lit:
    """A constant tensor written as a list, inside detach([...]): a target, never a leaf that learns."""

    values: tuple  # float32 values, flattened in C order
    shape: tuple

    @property
    def text(self):
        return _nested_text(self.values, self.shape)


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "+"
    operand: "Expr"


@dataclass(frozen=True)
class Binary:
    op: str  # "+", "-", "*", "/", "**", "@"
    left: "Expr"
    right: "Expr"
    col: int = field(default=0, compare=False, repr=False)  # the operator's column, for shape errors


@dataclass(frozen=True)
class Call:
    fn: str  # a key of language.CALLS
    arg: "Expr"
    col: int = field(default=0, compare=False, repr=False)  # the call's column, for errors


Expr = Num | Name | Lit | Unary | Binary | Call
ATOMS = (Num, Name, Lit)  # the nodes a fold reads as leaves


@dataclass(frozen=True)
class Layer:
    name: str
    expr: Expr
    line: int  # 1-based line in the layers text


@dataclass(frozen=True)
class Leaf:
    """A declared tensor that requires grad, like x: `w = [[0.5, -1.0], [2.0, 0.1]]`, `b = 0.5`."""

    name: str
    values: tuple  # float32 values, flattened in C order
    shape: tuple
    line: int

    @property
    def text(self):
        """The values in Python's list syntax, as parsed (float32, widened exactly)."""
        return _nested_text(self.values, self.shape)

    @property
    def size(self):
        count = 1
        for size in self.shape:
            count *= size
        return count


def _nested_text(values, shape):
    """Python's list syntax, each value as the shortest text that reads back to the same float32."""
    if not shape:
        return str(np.float32(values[0]))
    step = len(values) // shape[0]
    return "[" + ", ".join(_nested_text(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


@dataclass(frozen=True)
class Program:
    layers: tuple  # of Layer, in order; the last is the output
    leaves: tuple = ()  # of Leaf, in order of declaration; x is not among them

    @property
    def output(self):
        return self.layers[-1]

    @property
    def names(self):
        return tuple(layer.name for layer in self.layers)

    @property
    def leaf_names(self):
        """Every tensor that requires grad, x first."""
        return (INPUT_NAME, *(leaf.name for leaf in self.leaves))


def is_elementwise(program):
    """Only x, through elementwise functions and operators: each output element depends on the same element
    of x alone. The fast views (plot, finite differences, symbolic maths) rely on it."""
    if program.leaves:
        return False
    for layer in program.layers:
        for node in walk(layer.expr):
            if isinstance(node, Lit) or (isinstance(node, Binary) and node.op == "@"):
                return False
            if isinstance(node, Call) and node.fn not in FUNCTIONS:
                return False
    return True


def children(node):
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return (node.arg,)
    return ()


def walk(node):
    """Every node of a tree, parent before children, left to right; iterative, so depth costs no recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def fold(node, leaf, apply, whole=None):
    """A tree's value, built bottom up: leaf(node) for a number or a name, apply(node, values) for an
    operation or a call, given its operands' values in order. Every backend (torch, float folding, sympy,
    text, LaTeX) is this fold with its own leaf and apply, so the walk over node kinds is written once.

    whole(node), when given, may answer for an entire subtree (anything but None), which is then not
    walked: sympy must not build what the float fold answers. Iterative, so depth costs no recursion.
    """
    values = []  # the values of the finished subtrees, in order
    stack = [(node, False)]
    while stack:
        current, operands_done = stack.pop()
        if operands_done:
            count = len(children(current))
            operands = values[len(values) - count:]
            del values[len(values) - count:]
            values.append(apply(current, operands))
            continue
        answer = None if whole is None else whole(current)
        if answer is not None:
            values.append(answer)
        elif isinstance(current, ATOMS):
            values.append(leaf(current))
        else:
            stack.append((current, True))
            stack.extend((child, False) for child in reversed(children(current)))
    return values[0]


def names_used(node):
    """The names an expression reads, in order of first use."""
    return list(dict.fromkeys(current.id for current in walk(node) if isinstance(current, Name)))


def operator_row(node):
    """The language's row for an operator node."""
    return UNARY[node.op] if isinstance(node, Unary) else BINARY[node.op]


def bracketed(operands, row, brackets, latex=False):
    """An operator's operands, each a (text, precedence) pair, as the texts its template takes:
    each put in brackets where it binds more loosely than the operator's place for it requires."""
    if len(operands) == 1:  # unary: -(a + b), but -x**2 and --x need none
        wanted = (row.precedence,)
    elif row.right_associative:  # (a**b)**c, a**b**c; Python reads 2**-x, so the exponent takes a unary
        wanted = (row.precedence + 1, UNARY["-"].precedence)
    else:  # (a - b) - c reads a - b - c, a - (b - c) does not
        wanted = (row.precedence, row.precedence + 1)
    template = row.latex if latex else row.text
    texts = []
    for index, ((text, precedence), least) in enumerate(zip(operands, wanted, strict=True)):
        grouped = latex and "{{{" + str(index) + "}}}" in template  # in LaTeX's own braces, as \frac{{{0}}}
        texts.append(brackets(text) if precedence < least and not grouped else text)
    return texts


def _text_leaf(node):
    return (node.id if isinstance(node, Name) else node.text), ATOM_PRECEDENCE


def _text_apply(node, operands):
    if isinstance(node, Call):
        return f"{node.fn}({operands[0][0]})", ATOM_PRECEDENCE
    row = operator_row(node)
    return row.text.format(*bracketed(operands, row, lambda text: f"({text})")), row.precedence


def to_text(node):
    """Python-syntax text of a tree, with only the brackets it needs."""
    return fold(node, _text_leaf, _text_apply)[0]


def graded_names(node):
    """The names an expression reads outside detach(...): the ones a gradient can flow back to."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.append(current.id)
        elif not (isinstance(current, Call) and current.fn == "detach"):
            stack.extend(children(current))
    return found


def reached_by(program):
    """Each layer's name -> the leaves (x included) a gradient from it reaches; empty for a constant layer."""
    reaching = {name: {name} for name in program.leaf_names}
    for layer in program.layers:
        reaching[layer.name] = set().union(*(reaching.get(name, set()) for name in graded_names(layer.expr)))
    return reaching
