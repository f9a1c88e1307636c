"""The graph folded by layer (explorer.views.folded): one node per layer, the leaves and the output, edges kept
between them, values and grads on the folded nodes, and the step-through's current layer highlighted."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer import explore
from explorer.engine.dot import COLOURS
from explorer.page import presets
from explorer.views.export import dot_export
from explorer.views.folded import folded_dot, groups, ops_line, wrapped
from tests.app_page import open_link


def example(key):
    preset = presets.BY_KEY[key]
    return explore(preset.x, preset.layers)


@pytest.fixture(scope="module")
def cross_entropy():
    return example("softmax_cross_entropy")


def parsed(dot):
    """(node id -> (label lines, attributes text), set of edges) from a folded graph's DOT."""
    nodes = {}
    for node_id, label, attributes in re.findall(r'^\t(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$', dot, re.M):
        nodes[node_id] = (label.split("\\n"), attributes)
    edges = re.findall(r"^\t(\d+) -> (\d+)$", dot, re.M)
    return nodes, edges


def by_heading(nodes):
    return {lines[0]: (node_id, lines, attributes) for node_id, (lines, attributes) in nodes.items()}


def test_cross_entropy_folds_to_one_node_per_layer_plus_the_leaves_and_the_output(cross_entropy):
    nodes, _ = parsed(folded_dot(cross_entropy, "sum"))
    headings = [lines[0] for lines, _ in nodes.values()]
    # x and W; the layers s, p, loss; the line out = loss.sum(); the output tensor. torchviz draws 15: the 12
    # backward ops (2 of them AccumulateGrad), x, W and the output.
    assert sorted(headings) == sorted(["x", "W", "s = W @ x", "p = exp(s)/sum(exp(s))",
                                       "loss = -log(sum(p*detach([0.0, 1.0, 0.0])))", "out = loss.sum()", "out"])
    assert len(set(re.findall(r"^\t(\d+) \[label=", cross_entropy.reductions["sum"].dot, re.M))) == 15


def test_a_folded_layer_says_its_ops_in_the_order_the_forward_pass_made_them(cross_entropy):
    nodes = by_heading(parsed(folded_dot(cross_entropy, "sum"))[0])
    assert nodes["s = W @ x"][1][1] == "MvBackward0"  # one op: its own name, as unfolded
    assert nodes["p = exp(s)/sum(exp(s))"][1][1] == "4 ops: Exp×2, Sum, Div"
    loss = nodes["loss = -log(sum(p*detach([0.0, 1.0, 0.0])))"][1]
    assert loss[1] == "4 ops: Mul, Sum, Log, Neg"
    assert loss[-2:] == ["detach([0.0, 1.0, 0.0]):", "constant, no gradient"]  # the detached target, on its reader


def test_edges_are_kept_between_layers_and_leaves_each_once(cross_entropy):
    nodes, edges = parsed(folded_dot(cross_entropy, "sum"))
    named = {node_id: lines[0] for node_id, (lines, _) in nodes.items()}
    assert sorted((named[a], named[b]) for a, b in edges) == sorted([
        ("x", "s = W @ x"), ("W", "s = W @ x"),
        ("s = W @ x", "p = exp(s)/sum(exp(s))"),  # twice unfolded: exp(s) and exp(s) in sum(exp(s))
        ("p = exp(s)/sum(exp(s))", "loss = -log(sum(p*detach([0.0, 1.0, 0.0])))"),
        ("loss = -log(sum(p*detach([0.0, 1.0, 0.0])))", "out = loss.sum()"), ("out = loss.sum()", "out")])


def test_folded_nodes_carry_the_layers_value_and_gradient(cross_entropy):
    nodes = by_heading(parsed(folded_dot(cross_entropy, "sum"))[0])
    # p = softmax([1, 2, 3]); d loss / d p = -onehot / p_1 = [0, -1/0.2447, 0] = [0, -4.0862, 0]
    assert nodes["p = exp(s)/sum(exp(s))"][1][2:] == ["value [0.09  , 0.2447, 0.6652]",
                                                       "grad [ 0.    , -4.0862,  0.    ]"]
    assert nodes["s = W @ x"][1][2:] == ["value [1., 2., 3.]", "grad [ 0.09  , -0.7553,  0.6652]"]  # p − onehot
    # a leaf keeps its value and its .grad: W.grad = outer(p − onehot, x), one row of the matrix to a line
    assert nodes["W"][1] == ["W", "value [[1., 0.], [0., 1.], [1., 1.]]", "grad [[ 0.09  ,  0.1801],",
                             "[-0.7553, -1.5105],", "[ 0.6652,  1.3305]]"]
    # Wᵀ (p − onehot) = [p0 + p2, p1 − 1 + p2] = [0.7553, −p0] = [0.7553, −0.09]
    assert nodes["x"][1] == ["x", "value [1., 2.]", "grad [ 0.7553, -0.09  ]"]


def test_at_an_element_the_folded_graph_keeps_the_projector_rule(cross_entropy):
    """x-shaped tensors at the element, any other tensor whole: s = W @ x is (3,), x is (2,)."""
    nodes = by_heading(parsed(folded_dot(cross_entropy, "sum", at=0))[0])
    assert nodes["x"][1] == ["x", "value 1", "grad 0.7553"]
    assert nodes["s = W @ x"][1][2:] == ["value [1., 2., 3.]", "grad [ 0.09  , -0.7553,  0.6652]"]
    seed = by_heading(parsed(folded_dot(example("two_layers"), "sum", at=0))[0])
    # x[0] = 1: y = 5, z = 50; d out / d z = 1, d out / d y = 4y = 20, x.grad = 12y = 60
    assert seed["y = 3*x + 2"][1] == ["y = 3*x + 2", "2 ops: Mul, Add", "value 5", "grad 20"]
    assert seed["z = 2*y**2"][1] == ["z = 2*y**2", "2 ops: Pow, Mul", "value 50", "grad 1"]
    assert seed["x"][1] == ["x", "value 1", "grad 60"]


def colour_of(attributes):
    return re.search(r'fillcolor="([^"]+)"', attributes).group(1)


def test_the_step_through_highlights_the_layer_holding_its_step(cross_entropy):
    reduction = cross_entropy.reductions["sum"]
    ops = [reduction.nodes[step.node].op for step in reduction.steps]
    for op, heading in (("MvBackward0", "s = W @ x"), ("DivBackward0", "p = exp(s)/sum(exp(s))"),
                        ("ExpBackward0", "p = exp(s)/sum(exp(s))"), ("LogBackward0", "loss = -log(sum(p*detach("
                                                                                       "[0.0, 1.0, 0.0])))"),
                        ("AccumulateGrad", "W")):
        step = ops.index(op) if op != "AccumulateGrad" else next(
            i for i, s in enumerate(reduction.steps) if reduction.nodes[s.node].leaf == "W")
        nodes = by_heading(parsed(folded_dot(cross_entropy, "sum", step=step))[0])
        current = [h for h, (_, _, attributes) in nodes.items() if colour_of(attributes) == COLOURS["current"]]
        assert current == [heading], (op, current)
        assert "penwidth=3" in nodes[heading][2]
    # at s's step (10 of 12), loss and p have run all their ops: done; the leaves wait
    nodes = by_heading(parsed(folded_dot(cross_entropy, "sum", step=ops.index("MvBackward0")))[0])
    assert colour_of(nodes["p = exp(s)/sum(exp(s))"][2]) == COLOURS["done"]
    assert colour_of(nodes["out = loss.sum()"][2]) == COLOURS["done"]
    assert colour_of(nodes["W"][2]) == COLOURS["input"]
    # at p's first op to run (Div), p is current and loss, all four of its ops run, is done
    assert colour_of(by_heading(parsed(folded_dot(cross_entropy, "sum", step=ops.index("DivBackward0")))[0])[
        "loss = -log(sum(p*detach([0.0, 1.0, 0.0])))"][2]) == COLOURS["done"]


def test_a_layer_used_twice_gives_one_edge_and_the_paths_still_meet():
    reuse = example("reuse")  # y = x**2; z = y*x + y
    nodes, edges = parsed(folded_dot(reuse, "sum"))
    named = {node_id: lines[0] for node_id, (lines, _) in nodes.items()}
    assert sorted((named[a], named[b]) for a, b in edges) == sorted([
        ("x", "y = x**2"), ("x", "z = y*x + y"), ("y = x**2", "z = y*x + y"), ("z = y*x + y", "out = z.sum()"),
        ("out = z.sum()", "out")])
    z = by_heading(nodes)["z = y*x + y"][1]
    assert z[1] == "2 ops: Mul, Add" and z[3] == "grad [1., 1., 1.]"
    assert by_heading(nodes)["x"][1][2] == "grad [ 5., 16., 33.]"  # 3x² + 2x at 1, 2, 3


def test_the_neuron_folds_dot_add_tanh_into_o_and_keeps_three_leaves():
    nodes = by_heading(parsed(folded_dot(example("neuron"), "sum"))[0])
    assert set(nodes) == {"x", "w", "b", "o = tanh(x @ w + b)", "out = o.sum()", "out"}
    assert nodes["o = tanh(x @ w + b)"][1] == ["o = tanh(x @ w + b)", "3 ops: Dot, Add, Tanh", "value 0.7071",
                                               "grad 1"]
    assert nodes["b"][1][2] == "grad 0.5" and nodes["w"][1][2] == "grad [1., 0.]"


def test_ones_like_ends_at_the_output_layer_and_a_leaf_not_reached_has_no_node():
    seed = example("two_layers")
    nodes, edges = parsed(folded_dot(seed, "ones_like"))
    assert [lines[0] for lines, _ in nodes.values()] == ["x", "y = 3*x + 2", "z = 2*y**2", "z"]
    assert len(edges) == 3
    unreached = explore("[1.0, 2.0]", "w = [5.0, 6.0]\ny = 2*x")
    assert [lines[0] for lines, _ in parsed(folded_dot(unreached, "sum"))[0].values()] == [
        "x", "y = 2*x", "out = y.sum()", "out"]


def test_every_step_node_belongs_to_exactly_one_folded_node(cross_entropy):
    reduction = cross_entropy.reductions["sum"]
    group = groups(reduction)
    assert set(group) == set(reduction.nodes)
    layer_ids = {node_id for node_id, node in reduction.nodes.items() if node.layer}
    leaf_ids = set(reduction.leaf_ids.values())
    sums = [node_id for node_id, node in reduction.nodes.items() if node.op == "SumBackward0"]
    assert set(group.values()) == layer_ids | leaf_ids | {sums[0]}  # the out = loss.sum() line is its own


def test_the_export_folds_when_asked_and_plain_wins(cross_entropy):
    assert dot_export(cross_entropy, "sum", 3, fold=True) == folded_dot(cross_entropy, "sum", 3)
    assert dot_export(cross_entropy, "sum", 3, plain=True, fold=True) == cross_entropy.reductions["sum"].dot


def test_small_helpers_write_ops_and_wrap_matrices():
    assert ops_line(["MulBackward0"]) == "MulBackward0"
    assert ops_line(["PowBackward0", "MulBackward0", "PowBackward0"]) == "3 ops: Pow×2, Mul"
    assert wrapped("grad", "[1., 2.]") == ("grad [1., 2.]",)
    assert wrapped("grad", "[[0.09, 0.1801], [-0.7553, -1.5105], [0.6652, 1.3305]]") == (
        "grad [[0.09, 0.1801],", "[-0.7553, -1.5105],", "[0.6652, 1.3305]]")
    assert wrapped("value", "(4, 4) [0.8005, -0.2913, 0.1974, ...]") == (
        "value (4, 4)", "[0.8005, -0.2913, 0.1974, ...]")
    assert wrapped("grad", "[-2.0334, -0.0404,  1.7379, -1.9028]") == ("grad", "[-2.0334, -0.0404,  1.7379, -1.9028]")
    assert wrapped("", "[-2.0334, -0.0404,  1.7379, -1.9028]") == ("[-2.0334, -0.0404,  1.7379, -1.9028]",)


@pytest.mark.parametrize("present", ["false", "true"])
def test_fold_in_a_link_folds_the_page_graph_and_the_link_keeps_it(present):
    app = open_link(preset=presets.BY_KEY["softmax_cross_entropy"].title, fold="true", backward_step="10",
                    present=present)
    assert not app.exception and not app.error
    assert app.toggle(key="fold").value is True
    nodes = by_heading(parsed(app.get("graphviz_chart")[0].proto.spec)[0])
    assert nodes["p = exp(s)/sum(exp(s))"][1][1] == "4 ops: Exp×2, Sum, Div"
    assert not any("AccumulateGrad" in "".join(lines) for _, lines, _ in nodes.values())
    assert colour_of(nodes["s = W @ x"][2]) == COLOURS["current"]  # step 10 of 12 is s's MvBackward0
    assert parse_qs(urlsplit(app.sidebar.code[0].value).query)["fold"] == ["true"]
    if present == "false":  # the caption under the graph says what folding did
        assert any(caption.value.startswith("Folded: each layer is one node") for caption in app.caption)
    unfolded = open_link(preset=presets.BY_KEY["softmax_cross_entropy"].title, present=present)
    assert "AccumulateGrad" in unfolded.get("graphviz_chart")[0].proto.spec
    assert "fold" not in parse_qs(urlsplit(unfolded.sidebar.code[0].value).query)
