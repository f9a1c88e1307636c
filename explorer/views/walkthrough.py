"""The backward pass one node at a time, in the order autograd ran it: at one element of x for a program
elementwise in x, else (describe_tensors) with each gradient as a whole tensor, since an element of a
matmul's output depends on many elements of its inputs."""

from dataclasses import dataclass

from explorer.views.graph import node_heading, node_title, summary


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


# ---------------------------------------------------------------- programs that are not elementwise


@dataclass(frozen=True)
class TensorStepView:
    """One step of a backward pass that is not elementwise (leaves, @, sum): whole tensors, not one element."""

    number: int
    total: int
    title: str
    heading: str
    op: str
    incoming: str  # d out / d (this node), summarised
    leaf: str | None  # the leaf an AccumulateGrad adds into
    edges: tuple  # of (to, gradient out summarised), one per input that carries a gradient
    arrivals: tuple  # for an AccumulateGrad: (from, gradient) for each node that sent this leaf a gradient


def _arrivals(reduction, node_id):
    """Each earlier node's gradient out along an edge into `node_id`: the terms autograd summed into it."""
    found = []
    for step in reduction.steps:
        node = reduction.nodes[step.node]
        for child, outgoing in zip(node.inputs, step.grad_out, strict=False):
            if child == node_id and outgoing is not None:
                found.append((node_title(reduction, step.node), summary(outgoing)))
    return tuple(found)


def _input_name(reduction, node_id):
    """What a gradient flows to: a leaf by its name, else the node's title."""
    node = reduction.nodes.get(node_id)
    return node.leaf if node is not None and node.leaf else node_title(reduction, node_id)


def describe_tensors(exploration, name, number):
    """Step `number` (1-based) of reduction `name`'s backward pass, with each gradient as a whole tensor."""
    reduction = exploration.reductions[name]
    current = reduction.steps[number - 1]
    node = reduction.nodes[current.node]
    accumulates = node.op == "AccumulateGrad"
    edges = tuple(
        (_input_name(reduction, child), summary(outgoing))
        for child, outgoing in zip(node.inputs, current.grad_out, strict=False)
        if child and outgoing is not None
    )
    return TensorStepView(
        number=number,
        total=len(reduction.steps),
        title=node.leaf if accumulates else node_title(reduction, current.node),
        heading=f"{node.leaf}.grad" if accumulates else node_heading(reduction, current.node),
        op=node.op,
        incoming=summary(current.grad_in),
        leaf=node.leaf if accumulates else None,
        edges=() if accumulates else edges,
        arrivals=_arrivals(reduction, current.node) if accumulates else (),
    )
