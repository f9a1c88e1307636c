"""The backward pass one node at a time, in the order autograd ran it, at one element of x."""

from dataclasses import dataclass

from .graph import node_heading, node_title


@dataclass(frozen=True)
class Edge:
    to: str  # what the gradient flows to: "y", "3*x", "x.grad"
    local: float  # d (this node) / d (to)
    outgoing: float  # d out / d (to) = incoming * local


@dataclass(frozen=True)
class StepView:
    number: int  # 1-based
    total: int
    title: str  # what the gradient flowing in is taken with respect to: "y", "3*x + 2", "out", "x"
    heading: str  # the node as the graph labels it: "y = 3*x + 2", "out = loss.sum()", "x.grad"
    op: str  # "MulBackward0"
    incoming: float  # d out / d (this node)
    accumulates: bool  # the leaf's AccumulateGrad: the gradient arrives at x and is added to x.grad
    edges: tuple  # of Edge, one per input that carries a gradient
    factors: tuple  # local derivatives so far along the path to x
    running: float  # their product
    is_chain: bool  # every node so far has one tracked input, so the product is the whole story


def _at(tensor, flat_index):
    values = tensor.detach().double().flatten()
    return float(values[flat_index if values.numel() > 1 else 0])


def _edges(reduction, step, flat_index):
    node = reduction.nodes[step.node]
    if node.op == "AccumulateGrad":
        return (Edge("x.grad", 1.0, _at(step.grad_in, flat_index)),)
    edges = []
    for child, local, outgoing in zip(node.inputs, step.local, step.grad_out, strict=False):
        if child and local is not None and outgoing is not None:
            to = "x" if reduction.nodes.get(child) and reduction.nodes[child].op == "AccumulateGrad" else None
            edges.append(Edge(to or node_title(reduction, child), _at(local, flat_index), _at(outgoing, flat_index)))
    return tuple(edges)


def describe(exploration, name, number, flat_index):
    """Step `number` (1-based) of reduction `name`'s backward pass, at element flat_index of x."""
    reduction = exploration.reductions[name]
    steps = reduction.steps
    factors, is_chain = [], True
    for step in steps[:number]:
        edges = _edges(reduction, step, flat_index)
        is_chain = is_chain and len(edges) == 1
        if edges and reduction.nodes[step.node].op != "AccumulateGrad":
            factors.append(edges[0].local)
    current = steps[number - 1]
    running = 1.0
    for factor in factors:
        running *= factor
    accumulates = reduction.nodes[current.node].op == "AccumulateGrad"
    return StepView(
        number=number,
        total=len(steps),
        title="x" if accumulates else node_title(reduction, current.node),
        heading="x.grad" if accumulates else node_heading(reduction, current.node),
        op=reduction.nodes[current.node].op,
        incoming=_at(current.grad_in, flat_index),
        accumulates=accumulates,
        edges=_edges(reduction, current, flat_index),
        factors=tuple(factors),
        running=running,
        is_chain=is_chain,
    )
