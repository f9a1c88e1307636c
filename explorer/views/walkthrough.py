"""The backward pass one node at a time, in the order autograd ran it: at one element of x for a program
elementwise in x, else (describe_tensors) with each gradient as a whole tensor, since an element of a
matmul's output depends on many elements of its inputs."""

from dataclasses import dataclass

from explorer.views.graph import node_heading, node_title
from explorer.views.local_rules import Local, Operand, rule_lines, short


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

ALIAS_CHARS = 24  # a subexpression longer than this is named by its shape and its layer: `log(…) in loss`


@dataclass(frozen=True)
class TensorEdge:
    to: str  # the input the gradient flows to: a leaf's name, a layer, a (short) subexpression
    grad: str  # the gradient out, summarised
    rule: tuple  # lines: the op's local rule in words and with the numbers (explorer.views.local_rules)


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
    edges: tuple  # of TensorEdge, one per input that carries a gradient
    arrivals: tuple  # (from, gradient) for each node that sent this node a gradient: the terms autograd summed
    sources: tuple = ()  # for each arrival, where it came from in words: "exp(s), step 8, via sum(exp(s))"


def elided(text, limit=ALIAS_CHARS):
    """A long subexpression with the insides of its innermost brackets replaced by `…` until it fits:
    `log(sum(p*detach([0.0, 1.0, 0.0])))` becomes `log(sum(p*detach(…)))`."""
    depth, deepest = 0, 0
    for char in text:
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    for keep in range(deepest - 1, -1, -1):
        out, depth = [], 0
        for char in text:
            if char == ")":
                depth -= 1
            if depth <= keep:
                out.append(char)
            elif out[-1] != "…":
                out.append("…")
            if char == "(":
                depth += 1
        shorter = "".join(out)
        if len(shorter) <= limit:
            return shorter
    return shorter


def _consumers(reduction):
    """node id -> the ids of the nodes that send it a gradient (its uses in the forward pass)."""
    used_by = {}
    for node_id, node in reduction.nodes.items():
        for child in node.inputs:
            if child:
                used_by.setdefault(child, []).append(node_id)
    return used_by


def _layer_of(reduction, node_id, used_by):
    """The layer a subexpression belongs to: the nearest node above it that makes a layer."""
    seen, todo = set(), list(used_by.get(node_id, ()))
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        layer = reduction.nodes[current].layer
        if layer:
            return layer
        todo += used_by.get(current, ())
    return None


def _inner_title(reduction, node, used_by):
    """A node torch adds inside a product of a vector and a matrix (x @ W is x.unsqueeze(0).mm(W).squeeze(0)),
    named from its inputs as torch computes it: `x as a matrix`, `x as a matrix @ W`."""
    inputs = [alias(reduction, child, used_by) for child in node.inputs if child]
    if node.op.startswith("Unsqueeze") and len(inputs) == 1:
        return f"{inputs[0]} as a matrix"
    if node.op.startswith(("Mm", "Bmm")) and len(inputs) == 2:
        return f"({inputs[0]}) @ {inputs[1]}" if " " in inputs[0] else f"{inputs[0]} @ {inputs[1]}"
    return node.op


def alias(reduction, node_id, used_by=None, placed=False):
    """A node's name in the step-through: a leaf or a layer by its name, a short subexpression as written, a long
    one shortened (`log(sum(p*detach(…)))`), never a 100-character label; `placed` adds its layer (`, in loss`)."""
    node = reduction.nodes.get(node_id)
    if node is not None and node.leaf:
        return node.leaf
    title = node_title(reduction, node_id)
    if node is not None and not node.layer and not node.expr and title == node.op:  # torch's own step inside @
        title = _inner_title(reduction, node, used_by)
    if node is None or node.layer or len(title) <= ALIAS_CHARS:
        return title
    if not placed:
        return elided(title)
    layer = _layer_of(reduction, node_id, _consumers(reduction) if used_by is None else used_by)
    return elided(title) + (f", in {layer}" if layer else "")


def _operands(exploration, reduction, node, used_by):
    """Each input of `node` as an Operand: its name and, where the pass recorded it, its forward value."""
    constants = iter(node.constants)
    operands = []
    for position, child in enumerate(node.inputs):
        if not child:
            operands.append(Operand(next(constants, None) or _constant_text(reduction, node, position, used_by),
                                    None))
            continue
        below = reduction.nodes.get(child)
        if below is not None and below.leaf:
            value = exploration.leaves.get(below.leaf)
        else:
            value = None if below is None else below.value
        operands.append(Operand(alias(reduction, child, used_by), value))
    return tuple(operands)


def _constant_text(reduction, node, position, used_by):
    """A number operand as written (`2` in `2*x`): the node's text around its other operand; else `a constant`."""
    others = [alias(reduction, child, used_by) for child in node.inputs if child]
    if node.expr and len(node.inputs) == 2 and len(others) == 1:
        for sign in (" + ", " - ", "*", "/", "**"):  # torch may put the number second: 2*x is mul(x, 2)
            if node.expr.startswith(others[0] + sign):
                return node.expr[len(others[0] + sign):]
            if node.expr.endswith(sign + others[0]):
                return node.expr[: -len(sign + others[0])]
    return "a constant"


def _exponent(node):
    """The exponent of a power `u**n` as written, when it is a plain number."""
    if node.expr and node.op == "PowBackward0" and "**" in node.expr:
        exponent = node.expr.rsplit("**", 1)[1].strip()
        try:
            float(exponent)
        except ValueError:
            return None
        return exponent
    return None


def _arrivals(reduction, node_id, used_by):
    """Each earlier node's gradient out along an edge into `node_id`: the terms autograd summed into it, with
    where each came from: a name and its step, and, when two sources share a name, the path each took (or, for
    one op that reads the node twice, as in h*h, which operand)."""
    found = []
    for number, step in enumerate(reduction.steps, 1):
        node = reduction.nodes[step.node]
        uses = [k for k, child in enumerate(node.inputs) if child == node_id]
        for k, (child, outgoing) in enumerate(zip(node.inputs, step.grad_out, strict=False)):
            if child == node_id and outgoing is not None:
                where = f"{alias(reduction, step.node, used_by)}, step {number}"
                if len(uses) > 1:
                    where += f", operand {k + 1}"
                found.append((alias(reduction, step.node, used_by), short(outgoing), where, step.node))
    names = [(name, source) for name, _, _, source in found]
    sources = []
    for name, _, where, source_id in found:
        if sum(1 for other, other_id in names if other == name and other_id != source_id):
            paths = [alias(reduction, parent, used_by) for parent in used_by.get(source_id, ())]
            where += f", via {' and '.join(paths)}" if paths else ""
        sources.append(where)
    return tuple((name, grad) for name, grad, _, _ in found), tuple(sources)


def _heading(reduction, node_id, used_by):
    """The node as the graph labels it (`o = tanh(x @ w + b)`, `out = o.sum()`), or its alias if that is long."""
    heading = node_heading(reduction, node_id)
    if reduction.nodes[node_id].layer or (len(heading) <= ALIAS_CHARS and heading != reduction.nodes[node_id].op):
        return heading
    return alias(reduction, node_id, used_by, placed=True)


def describe_tensors(exploration, name, number):
    """Step `number` (1-based) of reduction `name`'s backward pass, with each gradient as a whole tensor, and
    each input's gradient out explained by the op's local rule (explorer.views.local_rules.RULES)."""
    reduction = exploration.reductions[name]
    current = reduction.steps[number - 1]
    node = reduction.nodes[current.node]
    accumulates = node.op == "AccumulateGrad"
    used_by = _consumers(reduction)
    local = Local(current.grad_in, node.value, _operands(exploration, reduction, node, used_by), current.local,
                  _exponent(node))
    names = [operand.name for operand in local.operands]
    edges = tuple(
        TensorEdge(operand.name + (f", operand {k + 1}" if names.count(operand.name) > 1 else ""), short(outgoing),
                   tuple(rule_lines(node.op, local, k, outgoing) or ()))
        for k, (child, operand, outgoing) in enumerate(zip(node.inputs, local.operands, current.grad_out,
                                                           strict=False))
        if child and outgoing is not None
    )
    arrivals, sources = _arrivals(reduction, current.node, used_by)
    return TensorStepView(
        number=number,
        total=len(reduction.steps),
        title=node.leaf if accumulates else alias(reduction, current.node, used_by),
        heading=f"{node.leaf}.grad" if accumulates else _heading(reduction, current.node, used_by),
        op=node.op,
        incoming=short(current.grad_in),
        leaf=node.leaf if accumulates else None,
        edges=() if accumulates else edges,
        arrivals=arrivals,
        sources=sources,
    )
