"""The forward pass: a formula tree evaluated on torch tensors, as the user's Python would.

Constant parts (`2*3`, `sin(pi)`) are folded in numpy float64 (explorer.engine.fold), which turns
overflow into inf instead of raising and never touches Python's unbounded
integers. Everything that depends on x is a torch operation on tensors, so
autograd records exactly the graph the notebooks' Python would build.
"""

import torch

from explorer.engine.errors import FormulaError
from explorer.engine.fold import apply_float
from explorer.engine.language import CALLS, CONSTANTS, INPUT_NAME
from explorer.engine.tree import Call, Lit, Name, Num, fold, operator_row, to_text


class _OperationFailed(Exception):
    """torch (or numpy) refused one operation; run_forward names the layer."""

    def __init__(self, node, error):
        super().__init__(str(error))
        self.node = node
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        self.reason = reason[:200]


def _apply_unchecked(node, args):
    """One operation on already evaluated arguments: floats fold, anything with a tensor is torch."""
    if all(isinstance(a, float) for a in args):
        return apply_float(node, args)
    form = CALLS[node.fn].torch if isinstance(node, Call) else operator_row(node).torch
    return form(*args)


def evaluate(node, env, record=None, frozen=None):
    """The value of a tree: a float when it is constant, else a tensor.

    `record(node, tensor)` is called for every operation that makes a tensor,
    so callers can label the autograd node it created with its subexpression.
    `frozen`, a dict, holds each detach(...)'s value by id(node): the first pass fills it, and later passes
    use it, so a perturbed leaf changes only what autograd differentiates (finite differences, the tangent).
    """

    def leaf(node):
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Lit):  # a detached list: a plain constant tensor
            return torch.tensor(node.values, dtype=torch.float32).reshape(node.shape)
        return CONSTANTS[node.id].value if isinstance(node, Name) and node.id in CONSTANTS else env[node.id]

    def apply(node, args):
        try:
            result = _apply_unchecked(node, args)
        except (RuntimeError, ArithmeticError) as error:  # torch's and numpy's own refusals
            raise _OperationFailed(node, error) from None
        if frozen is not None and isinstance(node, Call) and node.fn == "detach":
            result = frozen.setdefault(id(node), result)
        if record is not None and isinstance(result, torch.Tensor):
            record(node, result)
        return result

    return fold(node, leaf, apply)


def leaf_tensors(program, requires_grad=False):
    """The declared leaves as float32 tensors, by name (x is not among them)."""
    return {
        leaf.name: torch.tensor(leaf.values, dtype=torch.float32).reshape(leaf.shape).requires_grad_(requires_grad)
        for leaf in program.leaves
    }


def _constant_like(x, value):
    """A constant layer as a tensor like x. Through float64, so 1e90 becomes inf in float32 instead of raising."""
    value = torch.tensor(value, dtype=torch.float64).to(x.dtype).item()
    return torch.full_like(x, value)


def run_forward(program, x, record=None, leaves=None, frozen=None):
    """Every tensor by name: x, the leaves (`leaves`, or the declared values without grad) and the layers.
    A constant layer is a tensor of x's shape. `frozen`: see evaluate.

    The program must have passed the shape pass for x's shape (explorer.engine.shapes.check_work, which
    explorer.engine.exploration.prepare runs once per input): shape mistakes and work over limits.MAX_WORK are
    refused there, before any tensor is made, not again on every pass."""
    env = {INPUT_NAME: x, **(leaf_tensors(program) if leaves is None else leaves)}
    for layer in program.layers:
        try:
            value = evaluate(layer.expr, env, record, frozen)
            if isinstance(value, float):
                value = _constant_like(x, value)
        except _OperationFailed as failed:
            raise FormulaError(f"{to_text(failed.node)} failed: {failed.reason}", line=layer.line) from None
        env[layer.name] = value
    return env
