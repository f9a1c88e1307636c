"""The shape pass: every layer's shape and the work it costs, from the tree and the leaves' shapes alone.

It runs before any tensor is made, so a shape mistake is a FormulaError that
names the line, the operator and both shapes, and a program too large to run
is refused before it costs anything. The rules are torch's: broadcasting for
the elementwise operators, torch.matmul's for `@`.
"""

from math import prod

from explorer.engine import limits
from explorer.engine.errors import FormulaError
from explorer.engine.language import CONSTANTS, FUNCTIONS, INPUT_NAME
from explorer.engine.tree import Binary, Call, Lit, Name, Num, fold, to_text

_SCALAR = ()


def _shown(shape):
    return str(tuple(shape))


def broadcast(a, b):
    """torch's broadcast of two shapes, or None where they do not broadcast."""
    result = []
    for i in range(1, max(len(a), len(b)) + 1):
        m = a[-i] if i <= len(a) else 1
        n = b[-i] if i <= len(b) else 1
        if m != n and 1 not in (m, n):
            return None
        result.append(max(m, n) if 1 in (m, n) else m)
    return tuple(reversed(result))


def matmul(a, b):
    """torch.matmul's result shape and its multiply-adds (batch·m·n·k), or the reason it refuses."""
    if not a or not b:
        return None, "@ needs a tensor of at least one dimension on each side; scale a scalar with * instead"
    left = a if len(a) > 1 else (1, *a)
    right = b if len(b) > 1 else (*b, 1)
    if left[-1] != right[-2]:
        return None, f"inner dimensions {left[-1]} and {right[-2]} differ"
    batch = broadcast(left[:-2], right[:-2])
    if batch is None:
        return None, f"batch dimensions {_shown(left[:-2])} and {_shown(right[:-2])} do not broadcast"
    shape = batch + (left[-2],) * (len(a) > 1) + (right[-1],) * (len(b) > 1)
    return shape, prod(batch) * left[-2] * right[-1] * left[-1]


def infer(program, x_shape):
    """Each layer's shape (name -> tuple) and the work, in element-operations: each operation on tensors
    counts its result's elements, a matmul its multiply-adds. Raises FormulaError on a shape mistake."""
    shapes = {INPUT_NAME: tuple(x_shape), **{leaf.name: leaf.shape for leaf in program.leaves}}
    work = 0
    for layer in program.layers:
        shape, cost = _layer_shape(layer, shapes)
        if shape is None:  # a constant layer is a tensor like x, filled with its value
            shape, cost = shapes[INPUT_NAME], cost + prod(shapes[INPUT_NAME])
        shapes[layer.name] = shape
        work += cost
    return shapes, work


def _layer_shape(layer, shapes):
    """One layer's shape (None for a constant) and its work."""
    work = 0

    def leaf(node):
        if isinstance(node, Num) or (isinstance(node, Name) and node.id in CONSTANTS):
            return None  # a constant: folded in float64, no tensor
        return node.shape if isinstance(node, Lit) else shapes[node.id]

    def apply(node, operands):
        nonlocal work
        if all(shape is None for shape in operands):
            return None
        shape, cost = _result(node, [_SCALAR if s is None else s for s in operands], layer.line)
        work += cost
        return shape

    return fold(layer.expr, leaf, apply), work


def _result(node, operands, line):
    if isinstance(node, Call):
        shape = operands[0] if node.fn in FUNCTIONS or node.fn == "detach" else _SCALAR
        return shape, max(1, prod(operands[0]))
    if not isinstance(node, Binary):
        return operands[0], prod(operands[0])
    a, b = operands
    if node.op == "@":
        shape, cost = matmul(a, b)
        if shape is None:
            _refuse(node, a, b, cost, line)
        return shape, cost
    shape = broadcast(a, b)
    if shape is None:
        _refuse(node, a, b, "they do not broadcast", line)
    return shape, prod(shape)


def _refuse(node, a, b, reason, line):
    message = f"{to_text(node)}: shapes {_shown(a)} and {_shown(b)}: {reason}"
    raise FormulaError(message, line=line, col=node.col or None)


def check_work(program, x_shape):
    """The work of running the program on an x of this shape, refused above limits.MAX_WORK."""
    _, work = infer(program, x_shape)
    if work > limits.MAX_WORK:
        raise FormulaError(
            f"the layers need {work:,} element-operations on x's {prod(x_shape):,} elements (a matmul counts"
            f" m·n·k), over the limit of {limits.MAX_WORK:,}; use a smaller x, smaller leaves or shorter layers",
            field="x",
        )
    return work
