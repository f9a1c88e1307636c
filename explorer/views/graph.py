"""The autograd graph as the page draws it: torchviz's DOT (explorer.engine.dot) with each node's layer,
subexpression, value and gradient added as a thin layer of statements on its node ids, the step-through's
current node highlighted, and a projector's fitted version.
"""

import math

import graphviz
import numpy as np

from explorer.engine.dot import COLOURS, label_lines, node_statement, with_statements

# The grad_fn of `out = z.sum()` or `out = z.mean()`: a node with neither layer nor subexpression and one of
# these ops is that line (a formula's own sum(...) or mean(...) has its subexpression recorded).
REDUCTION_OPS = ("SumBackward0", "MeanBackward0")


def summary(tensor):
    """A tensor in a few characters: the number, a small array, or the shape and first values."""
    if tensor is None:
        return "-"
    values = tensor.detach().double().flatten() + 0.0  # + 0.0: a -0 prints as 0, as explanations should
    if values.numel() == 1:
        return f"{values.item():.4g}"
    if values.numel() <= 6:
        return small_array_text((tensor.detach().double() + 0.0).tolist())
    head = ", ".join(f"{v:.4g}" for v in values[:3].tolist())
    return f"{tuple(tensor.shape)} [{head}, ...]"


def small_array_text(nested):
    """A few numbers (nested lists of floats) as `np.array2string(a, precision=4, separator=", ")` writes them,
    on one line. Every node of a fresh graph shows two of these, and numpy's printer costs ~60 µs a call (2 ms a
    graph): this mirrors its one common case, positional notation (numpy's FloatingFormat, floatmode "maxprec"),
    and asks numpy for the rest: scientific notation, or a line long enough for numpy to wrap.
    tests/test_graph_and_steps.py compares the two on generated arrays."""
    flat = list(_flattened(nested))
    finite = [v for v in flat if math.isfinite(v)]
    sizes = [abs(v) for v in finite if v != 0]
    scientific = sizes and (max(sizes) >= 1e8 or min(sizes) < 1e-4 or max(sizes) / min(sizes) > 1e3)
    if not flat or scientific:
        return _numpy_text(nested)
    parts = [_positional(v) if math.isfinite(v) else None for v in flat]
    left = max((len(part[0]) for part in parts if part), default=0)
    right = max((len(part[1]) for part in parts if part), default=0)
    if len(finite) < len(flat):  # nan and inf take the whole width, which may have to grow for them
        negative_inf = any(v == -math.inf for v in flat)
        left = max(left, 3 - (right + 1), 3 + negative_inf - (right + 1))
    texts = iter(_padded(v, part, left, right) for v, part in zip(flat, parts, strict=True))
    text = _bracketed(nested, texts)
    return text if len(text) <= 70 else _numpy_text(nested)  # numpy wraps lines over 75 characters


def _numpy_text(nested):
    return np.array2string(np.array(nested, dtype=float), precision=4, separator=", ").replace("\n", "")


def _flattened(nested):
    if isinstance(nested, list):
        for item in nested:
            yield from _flattened(item)
    else:
        yield nested


def _positional(value):
    """numpy's dragon4_positional(value, precision=4, unique=True, trim="."): the shortest digits that give the
    value back, cut to 4 decimals (rounded) if longer; trailing zeros dropped, the point kept. As (whole, fraction)."""
    whole, _, fraction = repr(value).partition(".")
    if len(fraction) > 4:
        whole, _, fraction = f"{value:.4f}".partition(".")
    return whole, fraction.rstrip("0")


def _padded(value, part, left, right):
    """One number in numpy's column: `part` is its _positional (whole, fraction), None for nan and inf."""
    if part is None:
        word = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return word.rjust(left + right + 1)
    whole, fraction = part
    return whole.rjust(left) + "." + fraction.ljust(right)


def _bracketed(nested, texts, depth=0):
    """numpy's brackets, with its line breaks taken out: rows (lists) are indented by their depth after the comma."""
    if not isinstance(nested, list):
        return next(texts)
    rows = any(isinstance(item, list) for item in nested)
    separator = "," + " " * (depth + 1) if rows else ", "
    return "[" + separator.join(_bracketed(item, texts, depth + 1) for item in nested) + "]"


def node_title(reduction, node_id):
    """What a node computes, in the user's words: the layer, the subexpression, or out."""
    if node_id == reduction.x_id:
        return "x"
    node = reduction.nodes.get(node_id)
    if node is None:
        return "constant"
    if node.op == "AccumulateGrad":
        return f"{node.leaf or 'x'}.grad"
    if node.layer:
        return node.layer
    if node.expr:
        return node.expr
    if node.op in REDUCTION_OPS:
        return "out"
    return node.op


def node_heading(reduction, node_id):
    """A node's first line in the graph: `layer = formula`, or the line of code that made out."""
    node = reduction.nodes[node_id]
    if node.layer and node.expr:
        return f"{node.layer} = {node.expr}"
    if node.op in REDUCTION_OPS and not node.layer and not node.expr:
        return reduction_line(reduction)
    return node_title(reduction, node_id)


def reduction_line(reduction):
    """`out = loss.sum()`: the reduction's own line of code, which names the real output layer."""
    return reduction.code.split("\n")[0]


def summary_at(tensor, index):
    """One element of a tensor shaped like x (a scalar, such as out, as itself)."""
    if tensor is None:
        return "-"
    values = tensor.detach().double().flatten() + 0.0  # a -0 prints as 0
    return f"{values[index if values.numel() > index else 0].item():.4g}"


def annotated_dot(exploration, name, step=None, at=None):
    """torchviz's graph with each node's layer, forward value and gradient, micrograd-style.

    With `step`, the step-through's current node is highlighted and the nodes
    autograd has already visited are shaded. With `at`, a flat index of x, each
    node shaped like x shows its value and gradient at that element only, on one
    line: short enough for a projector. One rule: a tensor of another shape (s = W @ x,
    W) has no element "at x[i]", so it is shown whole, never its own element i.
    """
    reduction, x_values = exploration.reductions[name], exploration.x

    def show(tensor):
        if at is not None and tensor is not None and tuple(tensor.shape) == tuple(x_values.shape):
            return summary_at(tensor, at)
        return summary(tensor)

    grads = {s.node: s.grad_in for s in reduction.steps}
    visited = {s.node for s in reduction.steps[:step]} if step is not None else set()
    current = reduction.steps[step].node if step is not None and reduction.steps else None
    statements = [
        node_statement(
            reduction.x_id,
            label_lines("x", "value " + show(x_values), "grad " + show(reduction.grad)),
            COLOURS["input"],
        )
    ]
    statements += _leaf_statements(exploration, reduction)
    statements += _constant_statements(reduction)
    for node_id, node in reduction.nodes.items():
        if node.op == "AccumulateGrad":
            leaf = node.leaf or "x"  # `at` indexes x: another leaf is shown whole
            lines = ("AccumulateGrad", f"{leaf}.grad += " + (show if leaf == "x" else summary)(grads.get(node_id)))
        else:
            value, grad = show(node.value), show(grads.get(node_id))
            lines = (node_heading(reduction, node_id), node.op, "value " + value, "grad " + grad)
            if at is not None:
                lines = (*lines[:2], f"value {value}   grad {grad}")
        colour = COLOURS["layer"] if node.layer else COLOURS["op"]
        if node_id in visited:
            colour = COLOURS["done"]
        if node_id == current:
            colour = COLOURS["current"]
        statements.append(node_statement(node_id, label_lines(*lines), colour, bold=node_id == current))
    if reduction.out is None:
        root_lines = (exploration.program.output.name, show(exploration.output))
    else:
        root_lines = ("out", show(reduction.out))
    statements.append(node_statement(reduction.root_id, label_lines(*root_lines), COLOURS["output"]))
    return with_statements(reduction.dot, statements)



def _leaf_statements(exploration, reduction):
    """Each declared leaf by name, with its value and its .grad, on the node torchviz drew for it (make_dot's
    params); a leaf the output does not reach has no node, and its zero grad shows on the page instead."""
    values = exploration.leaves
    statements = []
    for name, node_id in reduction.leaf_ids.items():
        if name == "x":
            continue
        grad = reduction.leaf_grads[name]
        lines = (name, "value " + summary(values[name]), "grad " + summary(grad))
        statements.append(node_statement(node_id, label_lines(*lines), COLOURS["input"]))
    return statements


def _constant_statements(reduction):
    """Each detached operand as a constant box feeding its op: autograd's graph has no node for it."""
    statements = []
    for node_id, node in reduction.nodes.items():
        for number, text in enumerate(node.constants):
            constant_id = f"{node_id}_constant_{number}"
            box = graphviz.Digraph()
            box.node(constant_id, label=label_lines(text, "constant: no gradient"), shape="box", style="dashed")
            box.edge(constant_id, node_id, style="dashed")
            statements += box.body
    return statements


def titled(source, title, colour="black"):
    """The DOT with a title over the graph, in `colour`: bold, and larger than the nodes' text."""
    label = graphviz.Digraph()
    label.attr("graph", label=label_lines(title), labelloc="t", fontcolor=colour, fontsize="18",
               fontname="Helvetica-Bold")
    return with_statements(source, label.body)


def fitted(source, width_inches, height_inches, title=""):
    """The DOT packed tight and scaled, up or down, to fill a box, with an optional title on top: a projector
    shows the whole graph, as large as the screen allows, without scrolling. A title of several lines is a tuple:
    a long one-line title would widen the graph's box and shrink every node's text."""
    box = f'graph [size="{width_inches:g},{height_inches:g}!" ranksep=0.2 nodesep=0.15]'
    label = graphviz.Digraph()
    label.attr("graph", label=label_lines(*((title,) if isinstance(title, str) else title)), labelloc="t")
    return with_statements(source, [box, *(label.body if title else [])])


SAVED_COLOUR = "orange"  # torchviz's fill for a saved tensor (make_dot's show_saved)


def saved_bytes_text(size):
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.1f} KiB"


def with_saved(source, reduction, saved):
    """The graph with what backward keeps (explorer.engine.saved.Saved) drawn as torchviz's show_saved draws
    it: an orange node per saved tensor, joined to its grad_fn by an undirected edge, here labelled with its
    shape and bytes. Saved positions are nodes of the exploration's walk, so each lands on the node it belongs to;
    the graph's own labels (values, grads) stay as they are."""
    ids = list(reduction.nodes)
    statements = []
    for number, tensor in enumerate(saved.tensors):
        if tensor.node >= len(ids):  # never for the same program: its graph does not depend on its values
            continue
        node_id, saved_id = ids[tensor.node], f"{ids[tensor.node]}_saved_{number}"
        shape = "(" + ", ".join(str(size) for size in tensor.shape) + ")"
        box = graphviz.Digraph()
        box.node(saved_id, label=label_lines(f"saved {tensor.name}", shape, saved_bytes_text(tensor.bytes)),
                 fillcolor=SAVED_COLOUR, style="filled")
        box.edge(node_id, saved_id, dir="none")
        statements += box.body
    return with_statements(source, statements)


def saved_sentence(saved, output):
    """The saved tensors in one sentence, for under the graph."""
    if not saved.count:
        return f"Backward keeps no tensor here: `{output}`'s graph saved nothing it needs for its local derivatives."
    each = ", ".join(f"{t.op}'s {t.name} {tuple(t.shape)} ({saved_bytes_text(t.bytes)})" for t in saved.tensors[:8])
    more = f", and {saved.count - 8} more" if saved.count > 8 else ""
    return (f"**What backward keeps** (orange): {saved.count} saved tensor{'s' if saved.count != 1 else ''}, "
            f"{saved_bytes_text(saved.total)} held until backward frees them (shared memory counted once): "
            f"{each}{more}. That is why a second backward needs `retain_graph=True`.")
