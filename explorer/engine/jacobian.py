"""The Jacobian of the output by one leaf, and forward mode's Jacobian-vector product.

Every way of starting backward is a vector-Jacobian product: z.backward(gradient=v) leaves vᵀJ in each
leaf's .grad, one row's worth of J per pass. Forward mode carries a tangent u the other way and gives J·u,
one column's worth per pass. Both functions here are torch's own AD (torch.func), run on a fresh forward
pass of the program (forward.run_forward) at the exploration's values, never read off its recorded steps,
so the page can set them beside the steps as an independent check.
"""

import torch
from torch.autograd import forward_ad

from explorer.engine import limits
from explorer.engine.errors import FormulaError
from explorer.engine.forward import run_forward
from explorer.engine.language import INPUT_NAME


def _output_of(r, names):
    """The output as a function of the named leaves' values, in that order, the other leaves held at theirs."""

    def output(*values):
        leaves = {**r.leaves, **dict(zip(names, values, strict=True))}
        x = leaves.pop(INPUT_NAME)
        return run_forward(r.program, x, leaves=leaves)[r.program.output.name]

    return output


def _leaf(r, name):
    """The named leaf's values (x is a leaf); any other name is a FormulaError that lists the leaves."""
    if name not in r.leaves:
        known = ", ".join(r.leaves)
        raise FormulaError(f"unknown leaf {name!r}; the leaves are {known}", field="jacobian")
    return r.leaves[name]


def _check_size(r, name, leaf):
    """Refuse, before any work, a Jacobian over limits.MAX_JACOBIAN_ENTRIES, or one whose passes (one per row
    or column, whichever are fewer) times the program's work are over limits.MAX_WORK."""
    outputs, inputs = r.output.numel(), leaf.numel()
    entries = outputs * inputs
    if entries > limits.MAX_JACOBIAN_ENTRIES:
        raise FormulaError(
            f"the Jacobian of {r.program.output.name} by {name} has {entries:,} entries ({outputs:,} output"
            f" elements × {inputs:,} of {name}), over the limit of {limits.MAX_JACOBIAN_ENTRIES:,}",
            field="jacobian",
        )
    passes = min(outputs, inputs)
    if passes * r.work > limits.MAX_WORK:
        raise FormulaError(
            f"the Jacobian of {r.program.output.name} by {name} needs {passes:,} passes of {r.work:,}"
            f" element-operations, over the limit of {limits.MAX_WORK:,}; use fewer elements or shorter layers",
            field="jacobian",
        )


def jacobian(r, name):
    """d output / d leaf `name` (x included): a float32 tensor shaped output.shape + leaf.shape, entry
    [i..., j...] = d output[i...] / d leaf[j...], as torch.autograd.functional.jacobian gives it.

    torch builds it the cheaper way: torch.func.jacrev (one backward per output element: J's rows) when the
    output has no more elements than the leaf, else torch.func.jacfwd (one forward-mode pass per leaf
    element: J's columns). An unknown name, or a Jacobian over limits.MAX_JACOBIAN_ENTRIES entries or its
    passes over limits.MAX_WORK, is a FormulaError before any work.
    """
    leaf = _leaf(r, name)
    _check_size(r, name, leaf)
    build = torch.func.jacrev if r.output.numel() <= leaf.numel() else torch.func.jacfwd
    return build(_output_of(r, [name]))(leaf).detach()


def _tangent(name, value, leaf):
    """A tangent as a float32 tensor of its leaf's shape; anything else is a FormulaError naming both shapes."""
    try:
        tangent = torch.as_tensor(value, dtype=leaf.dtype)
    except (TypeError, ValueError, RuntimeError):
        raise FormulaError(f"the tangent for {name} is not a tensor of numbers", field="jacobian") from None
    if tangent.shape != leaf.shape:
        raise FormulaError(
            f"the tangent for {name} has shape {tuple(tangent.shape)} but {name} has shape {tuple(leaf.shape)}",
            field="jacobian",
        )
    return tangent


def jvp(r, tangents):
    """Forward mode: the sum over the named leaves of J_leaf · u_leaf, shaped like the output.

    `tangents` maps leaf names (x included) to tangents u, each shaped like its leaf (a tensor, nested list
    or number); leaves not named are held still. One forward pass of dual tensors carries the tangents along
    (torch.autograd.forward_ad): nothing is read off the Jacobian. With a basis vector for u it is J's
    column for that element. An unknown name or a wrong shape is a FormulaError; an output that no tangent
    reaches (none given, a constant, a detach) gives zeros.

    Dual tensors rather than torch.func.jvp: on a 0-d float32 leaf, torch.func.jvp (torch 2.13) promotes
    the tangent of `2 + b` or `3*b` to float64, as if the Python number were a float64 tensor.
    """
    names = list(tangents)
    primals = tuple(_leaf(r, name) for name in names)
    directions = tuple(_tangent(name, tangents[name], leaf) for name, leaf in zip(names, primals, strict=True))
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(primal, u) for primal, u in zip(primals, directions, strict=True)]
        tangent_out = forward_ad.unpack_dual(_output_of(r, names)(*duals)).tangent
    return torch.zeros_like(r.output) if tangent_out is None else tangent_out.detach().clone()


def jacobian_passes(r, name):
    """The passes torch takes for jacobian(r, name): the fewer of its rows and columns. Makes jacobian's checks
    first (an unknown name, too many entries or too much work is a FormulaError), so a caller can size the
    work before admitting it."""
    leaf = _leaf(r, name)
    _check_size(r, name, leaf)
    return min(r.output.numel(), leaf.numel())


def vjp(r, name, vector):
    """Reverse mode, one backward pass: vᵀJ for leaf `name` (x included), shaped like the leaf. `vector` is
    shaped like the output (a tensor, nested list or number); a one-hot there gives J's row for that output
    element. torch.autograd.grad on a fresh forward pass, not read off the Jacobian; a leaf the output does
    not reach gets zeros. An unknown name or a wrong shape is a FormulaError."""
    leaf = _leaf(r, name)
    seed = _tangent(r.program.output.name, vector, r.output)
    value = leaf.clone().requires_grad_(True)
    out = _output_of(r, [name])(value)
    if not out.requires_grad:
        return torch.zeros_like(leaf)
    (grad,) = torch.autograd.grad(out, value, grad_outputs=seed, allow_unused=True)
    return torch.zeros_like(leaf) if grad is None else grad.detach()
