"""Second order: the Hessian of out, and the graph that backward itself builds when asked to keep one.

out is the scalar a way of starting backward differentiates: z.sum() ("sum", and "ones_like", whose
gradient is the same), z.mean() ("mean"), or the sum of v_i * z_i ("vector", for an exploration that has
a seed vector v). Every leaf element is one variable: x's first, then each declared leaf's in
declaration order, each flattened row-major, so the Hessian is one (n, n) matrix however many leaves
there are. Both are computed by torch, on a fresh forward pass of the program, never by hand.
"""

import warnings

import torch

from explorer.engine import limits
from explorer.engine.dot import COLOURS, INK, PAPER, label_lines, make_dot, node_statement, with_statements
from explorer.engine.errors import FormulaError
from explorer.engine.forward import run_forward
from explorer.engine.language import INPUT_NAME

_SCALAR_OUT = {"sum": "sum", "ones_like": "sum", "mean": "mean"}  # ones_like's gradient is sum's


def _check_reduction(r, reduction):
    known = [*_SCALAR_OUT, *(["vector"] if "vector" in r.reductions else [])]  # "vector": r was given a seed
    if reduction not in known:
        raise FormulaError(f"unknown way of starting backward {reduction!r}; known: {', '.join(known)}",
                           field="reduction")


def _out(z, reduction, r):
    """The scalar whose second derivatives are taken: for "vector", the sum of v_i * z_i, whose gradient is
    z.backward(gradient=v)'s."""
    if reduction == "vector":
        return (r.vector.to(z.dtype) * z).sum()
    return getattr(z, _SCALAR_OUT[reduction])()


def _forward_out(r, leaves, reduction):
    """out on a fresh forward pass, with `leaves` (x first, by name) as the tensors to differentiate."""
    declared = {name: tensor for name, tensor in leaves.items() if name != INPUT_NAME}
    env = run_forward(r.program, leaves[INPUT_NAME], leaves=declared)
    return _out(env[r.program.output.name], reduction, r)


def hessian(r, reduction):
    """d²out / (dv_i dv_j) over every leaf element v (x first, then the leaves in declaration order, each
    flattened row-major): an (n, n) float32 tensor, by torch.autograd.functional.hessian.

    More than limits.MAX_HESSIAN_ELEMENTS elements, or elements × the program's work over limits.MAX_WORK
    (each row is one backward through the graph of backward), is a FormulaError before any work."""
    _check_reduction(r, reduction)
    values = r.leaves
    sizes = [tensor.numel() for tensor in values.values()]
    n = sum(sizes)
    if n > limits.MAX_HESSIAN_ELEMENTS:
        raise FormulaError(
            f"the Hessian over {n:,} leaf elements (x's and the leaves') would have {n * n:,} entries; the limit"
            f" is {limits.MAX_HESSIAN_ELEMENTS} elements ({limits.MAX_HESSIAN_ELEMENTS ** 2:,} entries)",
        )
    if n * r.work > limits.MAX_WORK:
        raise FormulaError(
            f"the Hessian needs {n:,} passes of {r.work:,} element-operations, over the limit of"
            f" {limits.MAX_WORK:,}; use fewer elements or shorter layers",
        )
    shapes = [tensor.shape for tensor in values.values()]

    def out_of(flat):
        parts = (part.reshape(shape) for part, shape in zip(flat.split(sizes), shapes, strict=True))
        return _forward_out(r, dict(zip(values, parts, strict=True)), reduction)

    flat = torch.cat([tensor.reshape(-1) for tensor in values.values()])
    return torch.autograd.functional.hessian(out_of, flat).detach()


def double_backward_dot(r, reduction):
    """torchviz's DOT of the graph that computes every leaf's gradient with create_graph=True.

    torch.autograd.grad(out, leaves, create_graph=True) records backward's own operations, so the
    gradients have a grad_fn of their own: this draws it, one output node per gradient ("x.grad"), in the
    forward graph's colours (explorer.engine.dot.plain_dot). A leaf whose gradient is a constant has a
    node without edges; one that out does not reach has none. For z = 2*(3x+2)**2 it has 6 Backward
    nodes where the forward graph has 4."""
    _check_reduction(r, reduction)
    leaves = {name: tensor.clone().requires_grad_(True) for name, tensor in r.leaves.items()}
    out = _forward_out(r, leaves, reduction)
    grads = {}
    if out.requires_grad:
        found = torch.autograd.grad(out, tuple(leaves.values()), create_graph=True, allow_unused=True)
        grads = {f"{name}.grad": grad for name, grad in zip(leaves, found, strict=True) if grad is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchviz 0.0.3 uses distutils' LooseVersion
        dot = make_dot(tuple(grads.values()), params=leaves)
    dot.graph_attr.update(rankdir="TB", bgcolor=PAPER, fontcolor=INK)
    dot.node_attr.update(fontcolor=INK, color=INK, fillcolor=COLOURS["op"])
    dot.edge_attr.update(color=INK)
    names = [
        node_statement(str(id(grad)), label_lines(name, _shape_text(grad)), COLOURS["output"])
        for name, grad in grads.items()
    ]
    return with_statements(dot.source, names)


def _shape_text(tensor):
    return "(" + ", ".join(str(size) for size in tensor.shape) + ")"
