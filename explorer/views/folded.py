"""The autograd graph folded by layer, for a room: each layer's subexpressions become one node.

A layer formula such as `p = exp(s) / sum(exp(s))` makes several backward nodes (ExpBackward0 twice,
SumBackward0, DivBackward0); folded, they are one node labelled with the formula and its op count, carrying the
layer's value and gradient under the same rule as the unfolded graph (explorer.views.graph.annotated_dot). A
leaf keeps its own node and takes in its AccumulateGrad, whose `.grad +=` is the leaf's grad. Edges between
layers and leaves are kept, each once. With fewer, shorter rows the fitted graph's text stays large enough to
read from the back of a room.
"""

import graphviz

from explorer.engine.dot import COLOURS, INK, PAPER, label_lines, node_statement
from explorer.views.graph import node_heading, summary, summary_at

WRAP_CHARS = 30  # a value longer than this is written a row of its matrix to a line


def groups(reduction):
    """Which folded node each backward node goes to: node id -> group id.

    A layer's grad_fn is its group (its id); a subexpression goes to the layer whose formula made it, found by
    walking down from the layer's node and stopping at other layers and at AccumulateGrads. An AccumulateGrad
    goes to its leaf's tensor node (torchviz's id of x or the leaf). A node no layer made (the `out = z.sum()`
    line) is a group of its own.
    """
    nodes = reduction.nodes
    group = {}
    for node_id, node in nodes.items():
        if node.op == "AccumulateGrad":
            group[node_id] = reduction.leaf_ids.get(node.leaf or "x", reduction.x_id)
    for node_id, node in nodes.items():
        if not node.layer:
            continue
        stack = [node_id]
        while stack:
            member = stack.pop()
            if member in group or member not in nodes:
                continue
            group[member] = node_id
            stack.extend(i for i in nodes[member].inputs if i and i in nodes and not nodes[i].layer)
    for node_id in nodes:
        group.setdefault(node_id, node_id)
    return group


def wrapped(prefix, text):
    """`prefix text` as lines, so a node stays narrow: a long matrix one row to a line; a long summary with a
    shape (`(4, 4) [0.8, ...]`) breaks after the shape; any other long value goes under its prefix."""
    if len(text) <= WRAP_CHARS:
        return (f"{prefix} {text}",)
    if text.startswith("[["):
        rows = text.replace("], [", "],\n[").split("\n")
        return (f"{prefix} {rows[0]}", *rows[1:])
    if text.startswith("(") and ") " in text:
        shape, rest = text.split(") ", 1)
        return (f"{prefix} {shape})", rest)
    return (prefix, text) if prefix else (text,)


def ops_line(ops):
    """`MvBackward0` for one op; `4 ops: Exp×2, Sum, Div` for several, in the order the forward pass made them."""
    if len(ops) == 1:
        return ops[0]
    names = [op.removesuffix("Backward0").removesuffix("Backward1") for op in ops]
    counted = {name: names.count(name) for name in names}
    return f"{len(ops)} ops: " + ", ".join(name + (f"×{n}" if n > 1 else "") for name, n in counted.items())


def folded_dot(exploration, name, step=None, at=None):
    """The annotated graph (explorer.views.graph.annotated_dot) with each layer folded into one node, as DOT.

    Contract: one node per layer that has a grad_fn, one for x and one for each other leaf the output reaches,
    one for each op no layer made (the reduction `out = z.sum()`), and the output tensor; no other nodes. A
    folded node's lines are `layer = formula`, its op (or `n ops: ...`), its value and its gradient
    d out / d layer, under annotated_dot's rule: with `at`, a tensor shaped like x shows its element `at`, any
    other tensor whole. A detached operand is a line on the node that reads it (`target: constant, no
    gradient`). There is an edge a -> b when some node of a feeds some node of b, each once. With `step`
    (0-based, as annotated_dot), the node holding the current step is highlighted and bold, and a node all of
    whose steps autograd has run is shaded as done.
    """
    reduction, x_values = exploration.reductions[name], exploration.x
    group = groups(reduction)
    nodes = reduction.nodes

    def show(tensor):
        if at is not None and tensor is not None and tuple(tensor.shape) == tuple(x_values.shape):
            return summary_at(tensor, at)
        return summary(tensor)

    grads = {s.node: s.grad_in for s in reduction.steps}
    order = [s.node for s in reversed(reduction.steps)]  # the forward pass's order
    order += [node_id for node_id in nodes if node_id not in order]
    members = {}
    for node_id in order:
        members.setdefault(group[node_id], []).append(node_id)
    visited = {s.node for s in reduction.steps[:step]} if step is not None else set()
    current = reduction.steps[step].node if step is not None and reduction.steps else None

    def holds_current(group_id):
        return current is not None and group[current] == group_id

    def colour(group_id, resting):
        if holds_current(group_id):
            return COLOURS["current"]
        steps = members.get(group_id, ())
        if steps and all(member in visited for member in steps):
            return COLOURS["done"]
        return resting

    statements = []
    leaves = {"x": (reduction.x_id, x_values), **{n: (i, exploration.leaves[n]) for n, i in reduction.leaf_ids.items()
                                                  if n != "x" and n in exploration.leaves}}
    for leaf, (leaf_id, value) in leaves.items():
        if leaf_id not in members and leaf != "x":
            continue  # the output does not reach it: no node in the unfolded graph either
        shown = show if leaf == "x" else summary  # `at` indexes x: another leaf is shown whole
        lines = (leaf, *wrapped("value", shown(value)), *wrapped("grad", shown(reduction.leaf_grads[leaf])))
        statements.append(_node(leaf_id, lines, colour(leaf_id, COLOURS["input"]), holds_current(leaf_id)))
    for group_id, ids in members.items():
        if group_id in reduction.leaf_ids.values() or group_id == reduction.x_id:
            continue
        head = nodes[group_id]
        constants = [text for member in ids for text in nodes[member].constants]
        lines = (node_heading(reduction, group_id), ops_line([nodes[member].op for member in ids]),
                 *wrapped("value", show(head.value)), *wrapped("grad", show(grads.get(group_id))),
                 *(line for text in constants for line in (f"{text}:", "constant, no gradient")))
        resting = COLOURS["layer"] if head.layer else COLOURS["op"]
        statements.append(_node(group_id, lines, colour(group_id, resting), holds_current(group_id)))
    if reduction.out is None:
        root_lines = (exploration.program.output.name, *wrapped("", show(exploration.output)))
    else:
        root_lines = ("out", show(reduction.out))
    statements.append(_node(reduction.root_id, root_lines, COLOURS["output"], False))
    statements += _edges(reduction, group)
    return _digraph(statements)


def _node(node_id, lines, colour, bold):
    return node_statement(node_id, label_lines(*(line.strip() for line in lines)), colour, bold=bold)


def _edges(reduction, group):
    """a -> b once for every node of group a feeding a node of group b, and the last op into the output."""
    edges = []
    consumed = {i for node in reduction.nodes.values() for i in node.inputs}
    for node_id, node in reduction.nodes.items():
        for source in node.inputs:
            if source and source in group and (group[source], group[node_id]) not in edges:
                if group[source] != group[node_id]:
                    edges.append((group[source], group[node_id]))
        if node_id not in consumed and node_id not in reduction.leaf_ids.values():  # the root's own grad_fn
            edges.append((group[node_id], reduction.root_id))
    graph = graphviz.Digraph()
    for source, target in edges:
        graph.edge(source, target)
    return graph.body


def _digraph(statements):
    """torchviz's look (explorer.engine.dot.plain_dot): boxes of monospace text, the same colours and ink."""
    graph = graphviz.Digraph(
        graph_attr={"bgcolor": PAPER, "fontcolor": INK, "rankdir": "TB", "size": "12,12"},
        node_attr={"style": "filled", "shape": "box", "align": "left", "fontsize": "10", "height": "0.2",
                   "fontname": "monospace", "fontcolor": INK, "color": INK, "fillcolor": COLOURS["op"]},
        edge_attr={"color": INK},
    )
    graph.body += statements
    return graph.source
