"""The backward pass, each way (three, or four with a given vector) on its own fresh forward pass so .grad
never accumulates.

While the graph is alive we record everything the page shows about it: the
forward value and subexpression of every grad_fn node, the order in which
autograd visits the nodes (hooks on the nodes), the gradient flowing in and
out of each, and each node's local derivative. The result is plain data
(detached tensors and strings), so it can be cached and pickled.
"""

from dataclasses import dataclass

import torch

from explorer.engine.dot import graph_nodes, plain_dot
from explorer.engine.forward import leaf_tensors, run_forward
from explorer.engine.language import ALL_REDUCTIONS, INPUT_NAME
from explorer.engine.printing import tensor_repr
from explorer.engine.tree import Call, Name, Unary, children, reached_by, to_text


# Slots: a cached exploration holds a Node and a Step per graph node, and a dict apiece was a third of the
# objects Python's collector walks (explorer.engine.limits.CACHE_MAX_ENTRIES).
@dataclass(frozen=True, slots=True)
class Node:
    """One grad_fn of the graph, with what it computed."""

    id: str  # torchviz's node id, str(id(grad_fn))
    op: str  # "MulBackward0"
    expr: str | None  # the subexpression it computed, "3*x + 2"
    layer: str | None  # the layer it produces, if any
    value: torch.Tensor | None  # its forward value
    inputs: tuple  # ids of the nodes its gradient flows to ("" for a constant)
    leaf: str | None = None  # for an AccumulateGrad: the name of the leaf whose .grad it adds to
    constants: tuple = ()  # its detached operands, as written ("detach(x)"): constants, no gradient


@dataclass(frozen=True, slots=True)
class Step:
    """One node's turn in the backward pass, in the order autograd ran it."""

    node: str
    grad_in: torch.Tensor  # d out / d (this node's output)
    local: tuple  # d (output) / d (input k); None for constants
    grad_out: tuple  # d out / d (input k) = grad_in * local


@dataclass(frozen=True)
class Reduction:
    name: str  # "sum", "mean", "ones_like" or "vector"
    code: str  # the Python that starts backward, with the output's name
    out: torch.Tensor | None  # the scalar out; None for ones_like and vector (backward from z itself)
    out_repr: str | None  # as torch prints it: tensor(140., grad_fn=<MeanBackward0>)
    grad: torch.Tensor  # x.grad
    layer_grads: dict  # layer name -> d out / d layer, or None where autograd tracks none
    nodes: dict  # node id -> Node
    steps: tuple  # of Step
    x_id: str  # torchviz's id of the leaf x
    root_id: str  # torchviz's id of the tensor backward starts from
    dot: str  # torchviz's DOT of the graph backward starts from
    leaf_grads: dict  # leaf name (x first) -> its .grad; zeros where the output does not reach it
    leaf_ids: dict  # leaf name -> torchviz's id of the leaf tensor
    unreached: tuple = ()  # the leaves whose .grad torch left as None (shown as zeros)


def _op_name(fn):
    return fn.name().split("::")[-1]


def _detached(values):
    return tuple(None if v is None else v.detach().clone() for v in values)


def _local_derivatives(fn, value_shape):
    """A node called on ones of its output's shape: for an elementwise op, d(output)/d(input) for each input.
    For the others (matmul, sum, a broadcast) it is the vector-Jacobian product with ones, each input's
    gradient if the node's output were all that backward started from; None where torch refuses the call."""
    if _op_name(fn) == "AccumulateGrad":  # calling it would add to the leaf's .grad
        return ()
    try:
        with torch.no_grad():
            result = fn(torch.ones(value_shape))
    except RuntimeError:  # the shape we guessed was not the node's own
        return (None,) * len(fn.next_functions)
    return _detached(result if isinstance(result, tuple) else (result,))


def _record_subexpressions(program):
    """A record callback for forward(), and the table it fills: grad_fn id -> (grad_fn, text, value, the
    operands no gradient reaches: detach(...), a detached list, a layer that reads no leaf but through detach)."""
    table = {}
    constant = {name for name, reached in reached_by(program).items() if not reached}

    def is_constant(node):
        return (isinstance(node, Call) and node.fn == "detach") or (isinstance(node, Name) and node.id in constant)

    def record(node, tensor):
        unary_plus = isinstance(node, Unary) and node.op == "+"  # returns its operand's own tensor
        if tensor.grad_fn is not None and not unary_plus:
            detached = tuple(to_text(child) for child in children(node) if is_constant(child))
            table[id(tensor.grad_fn)] = (tensor.grad_fn, to_text(node), tensor.detach().clone(), detached)

    return table, record


def _nodes(live, root, layers, subexpressions, leaves):
    leaf_of = {id(tensor): name for name, tensor in leaves.items()}
    layer_of = {}
    for name, value in layers.items():
        if value.grad_fn is not None:
            layer_of.setdefault(id(value.grad_fn), name)
    nodes = {}
    for fn in live:
        _, expr, value, constants = subexpressions.get(id(fn), (None, None, None, ()))
        if fn is root.grad_fn:
            value = root.detach().clone()
        inputs = tuple("" if child is None else str(id(child)) for child, _ in fn.next_functions)
        leaf = leaf_of.get(id(fn.variable)) if _op_name(fn) == "AccumulateGrad" else None
        nodes[str(id(fn))] = Node(str(id(fn)), _op_name(fn), expr, layer_of.get(id(fn)), value, inputs, leaf,
                                  constants)
    return nodes


def run_reduction(program, x_values, name, vector=None):
    """One fresh forward pass, then backward the way `name` (a row of language.ALL_REDUCTIONS) starts it; the
    "vector" way seeds `vector`, shaped like the output. Returns the Reduction and the forward pass's layers
    (name -> live tensor), whose values are the same for every way."""
    x = x_values.clone().requires_grad_(True)
    leaves = {INPUT_NAME: x, **leaf_tensors(program, requires_grad=True)}
    subexpressions, record = _record_subexpressions(program)
    env = run_forward(program, x, record, {name: leaf for name, leaf in leaves.items() if name != INPUT_NAME})
    layers = {name: env[name] for name in program.names}
    z = layers[program.output.name]
    for value in layers.values():
        if value.requires_grad:
            value.retain_grad()
    rule = ALL_REDUCTIONS[name]
    root = rule.out(z)
    live = graph_nodes(root)  # the grad_fn nodes, walked once for labels and hooks alike
    nodes = _nodes(live, root, layers, subexpressions, leaves)
    dot = plain_dot(root, leaves, "out" if root is not z else program.output.name)
    steps = _run_backward(root, rule.seed(root, vector), live, x, subexpressions)
    reduction = Reduction(
        name=name,
        code=rule.code.format(z=program.output.name),
        out=None if root is z else root.detach().clone(),
        out_repr=None if root is z else tensor_repr(root),
        grad=torch.zeros_like(x_values) if x.grad is None else x.grad.detach().clone(),
        layer_grads={n: (None if v.grad is None else v.grad.detach().clone()) for n, v in layers.items()},
        nodes=nodes,
        steps=steps,
        x_id=str(id(x)),
        root_id=str(id(root)),
        dot=dot,
        leaf_grads={name: _grad_or_zeros(leaf) for name, leaf in leaves.items()},
        leaf_ids={name: str(id(leaf)) for name, leaf in leaves.items()},
        unreached=tuple(name for name, leaf in leaves.items() if leaf.grad is None),
    )
    return reduction, layers


def _grad_or_zeros(leaf):
    """A leaf's .grad; zeros where the output does not reach it (torch leaves .grad as None there)."""
    return torch.zeros_like(leaf.detach()) if leaf.grad is None else leaf.grad.detach().clone()


def _node_shape(fn, root, x, subexpressions):
    """The shape of a node's output: the root's, a recorded subexpression's, else x's (an elementwise op)."""
    if fn is root.grad_fn:
        return root.shape
    recorded = subexpressions.get(id(fn))
    return recorded[2].shape if recorded is not None else x.shape


def _run_backward(root, seed, live, x, subexpressions):
    """root.backward(gradient=seed) with a hook on every node, so the steps come out in autograd's own order."""
    if not root.requires_grad:  # the output depends on no leaf: every gradient is zero
        return ()
    local = {str(id(fn)): _local_derivatives(fn, _node_shape(fn, root, x, subexpressions)) for fn in live}
    fired = []

    def hook_for(fn):
        def hook(grad_inputs, grad_outputs):
            fired.append((str(id(fn)), grad_outputs[0].detach().clone(), _detached(grad_inputs)))

        return hook

    handles = [fn.register_hook(hook_for(fn)) for fn in live]
    try:
        root.backward(gradient=seed)
    finally:
        for handle in handles:
            handle.remove()
    return tuple(Step(node, grad_in, local[node], grad_out) for node, grad_in, grad_out in fired)
