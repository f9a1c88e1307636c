"""The whitelisted formula tree that parsing produces and everything else reads.

A tree is plain, immutable data: numbers, names, operators and calls of the
function table. Nothing here can reach Python's own evaluation of user text.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    value: float
    text: str  # as the user wrote it, for exports and LaTeX


@dataclass(frozen=True)
class Name:
    id: str  # x, an earlier layer, or a constant such as pi


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "+"
    operand: "Expr"


@dataclass(frozen=True)
class Binary:
    op: str  # "+", "-", "*", "/", "**"
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Call:
    fn: str  # a key of language.FUNCTIONS
    arg: "Expr"


Expr = Num | Name | Unary | Binary | Call


@dataclass(frozen=True)
class Layer:
    name: str
    expr: Expr
    line: int  # 1-based line in the layers text


@dataclass(frozen=True)
class Program:
    layers: tuple  # of Layer, in order; the last is the output

    @property
    def output(self):
        return self.layers[-1]

    @property
    def names(self):
        return tuple(layer.name for layer in self.layers)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "u": 3, "**": 4}


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


def names_used(node):
    """The names an expression reads, in order of first use."""
    return list(dict.fromkeys(current.id for current in walk(node) if isinstance(current, Name)))


def to_text(node, parent_precedence=0, right_of_pow=False):
    """Python-syntax text of a tree, with only the brackets it needs."""
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Call):
        return f"{node.fn}({to_text(node.arg)})"
    if isinstance(node, Unary):
        text = node.op + to_text(node.operand, _PRECEDENCE["u"])
        mine = _PRECEDENCE["u"]
    else:
        mine = _PRECEDENCE[node.op]
        if node.op == "**":  # right-associative, and binds tighter than unary minus on its left
            left = to_text(node.left, mine + 1)
            right = to_text(node.right, _PRECEDENCE["u"], right_of_pow=True)
        else:
            left = to_text(node.left, mine)
            right = to_text(node.right, mine + 1)
        spaced = node.op in "+-"
        text = f"{left} {node.op} {right}" if spaced else f"{left}{node.op}{right}"
    needs_brackets = mine < parent_precedence and not (right_of_pow and isinstance(node, Unary))
    return f"({text})" if needs_brackets else text
