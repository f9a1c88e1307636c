"""Constant arithmetic, folded in numpy float64 and never in torch or Python's unbounded integers.

`2*3`, `sin(pi)` and `9**9**9`-like towers meet float64, which turns overflow
into inf instead of raising. Torch-free on purpose: the parser and the symbolic
worker fold constants too, and the worker must not load torch.
"""

import numpy as np

from explorer.engine.language import CALLS, CONSTANTS
from explorer.engine.tree import Call, Name, Num, fold, operator_row


def apply_float(node, args):
    """One operation on floats, as float64 computes it (inf and nan rather than errors)."""
    form = CALLS[node.fn].numpy if isinstance(node, Call) else operator_row(node).numpy
    with np.errstate(all="ignore"):
        return float(form(*(np.float64(arg) for arg in args)))


def _leaf(node):
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id].value
    return None  # x, a layer, a leaf or a detached list


def _apply(node, args):
    return None if any(arg is None for arg in args) else apply_float(node, args)


def fold_constant(node):
    """The float value of a subtree that reads no variable, or None if it reads x, a layer, a leaf or a list."""
    return fold(node, _leaf, _apply)
