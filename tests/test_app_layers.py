"""The page through AppTest with leaves (issue 11): micrograd's neuron shows its numbers everywhere."""

import json

from explorer.page import presets
from tests.app_page import open_link

NEURON = presets.BY_KEY["neuron"]


def neuron_page(**query):
    app = open_link(x=NEURON.x, layers=NEURON.layers, **query)
    assert not app.exception, [e.value for e in app.exception]
    return app


def page_code(app):
    return "\n".join(block.value for block in app.code)


def test_neuron_shows_its_numbers_in_the_graph_and_the_gradients():
    app = neuron_page()
    dot = app.get("graphviz_chart")[0].proto.spec
    assert "o = tanh(x @ w + b)" in dot and "value 0.7071" in dot
    assert "w\\nvalue [-3.,  1.]\\ngrad [1., 0.]" in dot
    assert "b\\nvalue 6.881\\ngrad 0.5" in dot
    assert "x\\nvalue [2., 0.]\\ngrad [-1.5,  0.5]" in dot
    code = page_code(app)
    assert "print(w.grad)\n# tensor([1.0000, 0.0000])" in code
    assert "print(b.grad)\n# tensor(0.5000)" in code
    assert "print(x.grad)\n# tensor([-1.5000,  0.5000])" in code


def test_selecting_w0_moves_the_tangent_and_its_slope_reads_one():
    app = neuron_page()
    labels = app.selectbox(key="element").options
    assert labels == ["x[0]", "x[1]", "w[0]", "w[1]", "b"]
    app.selectbox(key="element").set_value("w[0]").run()
    assert not app.exception
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "slope at the point = 1<" in figure["layout"]["title"]["text"]  # w.grad[0] = x[0]·(1 − o²) = 2·0.5
    assert figure["layout"]["xaxis"]["title"]["text"] == "w[0]"
    point = figure["data"][2]
    assert point["x"] == [-3.0] and abs(point["y"][0] - 0.7071) < 1e-4


def test_neuron_check_agrees_for_every_leaf_and_the_chain_rule_reads_the_same_numbers():
    app = neuron_page(verify="true", chain="true")
    text = " ".join(md.value for md in app.markdown)
    for name in ("sum", "mean", "ones_like"):
        assert f"**{name}**: ✓ agree" in text
    table = app.table[0].value
    assert list(table["element"]) == ["x[0]", "x[1]", "w[0]", "w[1]", "b"]
    assert list(table["autograd"]) == ["-1.5", "0.5", "1", "0", "0.5"]
    assert list(table["symbolic"]) == ["-1.5", "0.5", "1", "0", "0.5"]
    assert "At `x[0]` this is **-1.5**" in text and "`x.grad` at `x[0]` = **-1.5**" in text


def test_neuron_forward_pass_declares_the_leaves():
    code = page_code(neuron_page(values="Forward pass"))
    declared = "w = torch.tensor([-3.0, 1.0], requires_grad=True)\nprint(w)\n# tensor([-3.,  1.], requires_grad=True)"
    assert declared in code
    assert "o = torch.tanh(x @ w + b)\nprint(o)\n# tensor(0.7071, grad_fn=<TanhBackward0>)" in code


def test_on_a_projector_a_leafs_element_draws_the_graph_with_whole_tensors():
    """The projector's graph labels one element of x; w[0] is not one, so its nodes show whole tensors (the
    hand values of the neuron: w.grad = 0.5·x = [1, 0]), where before the graph failed."""
    app = neuron_page(present="true", element="w[0]")
    assert not app.error, [e.value for e in app.error]
    dot = app.get("graphviz_chart")[0].proto.spec
    assert 'label="values and grads"' in dot
    assert "w.grad += [1., 0.]" in dot
    at_x = neuron_page(present="true", element="x[1]").get("graphviz_chart")[0].proto.spec
    assert "values and grads at x[1]" in at_x


def test_the_seeds_chain_rule_names_x_grad_at_the_element():
    """The same sentence for a program of x alone: 12 (3x + 2) at x[0, 1] = 2 is 96, under sum."""
    app = open_link(x="[[1., 2, 3], [3, 2, 1]]", layers="y = 3*x + 2\nz = 2*y**2", chain="true", element="x[0, 1]")
    text = "\n".join(block.value for block in app.markdown)
    assert "At `x[0, 1]` this is **96**" in text and "`x.grad` at `x[0, 1]` = **96**" in text
