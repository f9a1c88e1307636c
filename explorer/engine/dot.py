"""torchviz's picture of an autograd graph, and the DOT statements that annotate it.

make_dot names each node `str(id(obj))`, for grad_fn nodes and tensors alike.
Annotations (explorer.views.graph) are extra node statements with the same ids
appended to its output; in DOT a later statement's attributes win. All text
passes through graphviz.escape and nohtml, so nothing a user types can open an
HTML-like label or break out of the quotes.

Colours are fixed, not themed: st.graphviz_chart ignores Streamlit's dark
theme, so the graph carries its own white background and dark ink.
"""

import warnings

import graphviz

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # torchviz 0.0.3 imports distutils
    from torchviz import make_dot

INK = "#1f2430"
PAPER = "white"
COLOURS = {
    "input": "#cfe8ff",  # x and every declared leaf: the tensors whose .grad we read
    "output": "#d9f2c4",  # the tensor backward starts from
    "layer": "#fff1c1",  # a grad_fn that produces a named layer
    "op": "#eeeeee",  # any other grad_fn
    "current": "#ffb347",  # the step-through's current node
    "done": "#f6d6ff",  # nodes the step-through has passed
}

def plain_dot(root, leaves, root_name):
    """torchviz's own picture of the graph behind `root`, with readable colours and the output named.

    `leaves` maps names to the tensors that require grad (x and the declared
    leaves), passed to make_dot as its params so each leaf is drawn by name.

    torchviz fills its op nodes without a fillcolor, and Graphviz then fills
    with `color`: so the fill is set apart from the ink, or the text vanishes.
    torchviz names only tensors passed in `params`, so the output's label would
    be its shape alone; `root_name` ("out", or the output layer) fills it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dot = make_dot(root, params=dict(leaves))
    dot.graph_attr.update(rankdir="TB", bgcolor=PAPER, fontcolor=INK)
    dot.node_attr.update(fontcolor=INK, color=INK, fillcolor=COLOURS["op"])
    dot.edge_attr.update(color=INK)
    shape = "(" + ", ".join(str(size) for size in root.shape) + ")"
    output = node_statement(str(id(root)), label_lines(root_name, shape), COLOURS["output"])
    return with_statements(dot.source, [output])


def graph_nodes(root):
    """Every grad_fn reachable from root, each once: torchviz's walk of next_functions, without drawing."""
    nodes, stack, seen = [], [root.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        nodes.append(fn)
        stack.extend(child for child, _ in fn.next_functions)
    return nodes


def label_lines(*lines):
    """A safe DOT label: each line escaped, joined by DOT's own line breaks."""
    return graphviz.nohtml("\\n".join(graphviz.escape(line) for line in lines if line))


def node_statement(node_id, label, colour, bold=False):
    extra = {"penwidth": "3"} if bold else {}
    statement = graphviz.Digraph()
    statement.node(node_id, label=label, fillcolor=colour, style="filled", **extra)
    return statement.body[0]


def with_statements(source, statements):
    """DOT source with extra statements appended inside its closing brace."""
    head = source.rstrip()
    assert head.endswith("}"), "make_dot's source ends with a brace"
    return head[:-1] + "".join(statements) + "}\n"

