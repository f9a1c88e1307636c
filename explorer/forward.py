"""The forward pass: a formula tree evaluated on torch tensors, as the user's Python would.

Constant parts (`2*3`, `sin(pi)`) are folded in numpy float64, which turns
overflow into inf instead of raising and never touches Python's unbounded
integers. Everything that depends on x is a torch operation on tensors, so
autograd records exactly the graph the notebooks' Python would build.
"""

import operator

import numpy as np
import torch

from . import limits
from .errors import FormulaError
from .language import CONSTANTS, FUNCTIONS
from .tree import Binary, Call, Name, Num, Unary, children, to_text

_TORCH_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}
_FLOAT_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}


def _float_call(fn, value):
    return float(FUNCTIONS[fn].torch(torch.tensor(value, dtype=torch.float64)))


class _OperationFailed(Exception):
    """torch (or numpy) refused one operation; run_forward names the layer."""

    def __init__(self, node, error):
        super().__init__(str(error))
        self.node = node
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        self.reason = reason[:200]


def _apply(node, args):
    """One operation, with torch's and numpy's own errors turned into _OperationFailed."""
    try:
        return _apply_unchecked(node, args)
    except (RuntimeError, ArithmeticError) as error:
        raise _OperationFailed(node, error) from None


def _apply_unchecked(node, args):
    """One operation on already evaluated arguments: floats fold, anything with a tensor is torch."""
    constant = all(isinstance(a, float) for a in args)
    if isinstance(node, Unary):
        (value,) = args
        return -value if node.op == "-" else value
    if isinstance(node, Binary):
        if constant:
            with np.errstate(all="ignore"):
                return float(_FLOAT_OPS[node.op](np.float64(args[0]), np.float64(args[1])))
        return _TORCH_OPS[node.op](*args)
    if isinstance(node, Call):
        return _float_call(node.fn, args[0]) if constant else FUNCTIONS[node.fn].torch(args[0])
    raise TypeError(f"not a formula node: {node!r}")


def evaluate(node, env, record=None):
    """The value of a tree: a float when it is constant, else a tensor.

    `record(node, tensor)` is called for every operation that makes a tensor,
    so callers can label the autograd node it created with its subexpression.
    """
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return CONSTANTS[node.id][0] if node.id in CONSTANTS else env[node.id]
    children = (node.operand,) if isinstance(node, Unary) else (
        (node.left, node.right) if isinstance(node, Binary) else (node.arg,)
    )
    result = _apply(node, [evaluate(child, env, record) for child in children])
    if record is not None and isinstance(result, torch.Tensor):
        record(node, result)
    return result


def fold_constant(node):
    """The float value of a subtree that reads no variable, or None if it reads one."""
    try:
        value = evaluate(node, {})
    except (KeyError, _OperationFailed):  # reads x or a layer; or run_forward will report it
        return None
    return value if isinstance(value, float) else None


def operations(program):
    """How many operations (calls, operators) the layers hold: each may make a tensor of x's size."""
    count, stack = 0, [layer.expr for layer in program.layers]
    while stack:
        node = stack.pop()
        count += isinstance(node, (Unary, Binary, Call))
        stack.extend(children(node))
    return count


def check_work(program, elements):
    """Refuse x's elements times the operations above limits.MAX_WORK, before any tensor is made."""
    ops = operations(program)
    if elements * ops > limits.MAX_WORK:
        raise FormulaError(
            f"x has {elements:,} elements and the layers {ops:,} operations: {elements * ops:,} element-operations,"
            f" over the limit of {limits.MAX_WORK:,}; use a smaller x or shorter layers",
            field="x",
        )


def _constant_like(x, value):
    """A constant layer as a tensor like x. Through float64, so 1e90 becomes inf in float32 instead of raising."""
    value = torch.tensor(value, dtype=torch.float64).to(x.dtype).item()
    return torch.full_like(x, value)


def run_forward(program, x, record=None):
    """Every layer's tensor, by name. A constant layer is a tensor of x's shape, so every layer is elementwise in x."""
    check_work(program, x.numel())
    env = {"x": x}
    for layer in program.layers:
        try:
            value = evaluate(layer.expr, env, record)
            if isinstance(value, float):
                value = _constant_like(x, value)
        except _OperationFailed as failed:
            raise FormulaError(f"{to_text(failed.node)} failed: {failed.reason}", line=layer.line) from None
        env[layer.name] = value
    return env
