"""Constant arithmetic, folded in numpy float64 and never in torch or Python's unbounded integers.

`2*3`, `sin(pi)` and `9**9**9`-like towers meet float64, which turns overflow
into inf instead of raising. Torch-free on purpose: the parser and the symbolic
worker fold constants too, and the worker must not load torch.
"""

import numpy as np

from .language import CONSTANTS, FUNCTIONS
from .tree import Binary, Call, Name, Num, Unary, children

_FLOAT_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}


def apply_float(node, args):
    """One operation on floats, as float64 computes it (inf and nan rather than errors)."""
    with np.errstate(all="ignore"):
        if isinstance(node, Unary):
            return -args[0] if node.op == "-" else args[0]
        if isinstance(node, Binary):
            return float(_FLOAT_OPS[node.op](np.float64(args[0]), np.float64(args[1])))
        if isinstance(node, Call):
            return float(FUNCTIONS[node.fn].numpy(np.float64(args[0])))
    raise TypeError(f"not an operation: {node!r}")


def fold_constant(node):
    """The float value of a subtree that reads no variable, or None if it reads x or a layer."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return CONSTANTS[node.id][0] if node.id in CONSTANTS else None
    args = [fold_constant(child) for child in children(node)]
    return None if any(arg is None for arg in args) else apply_float(node, args)
