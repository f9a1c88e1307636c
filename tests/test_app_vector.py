"""Backward from a typed vector v (issue 19, the page): z.backward(gradient=v) beside sum, mean and ones_like."""

import json

import pytest

from explorer.engine import limits
from tests.app_page import open_link as run_app

SIXTHS = "[[" + ", ".join(["0.1666666667"] * 3) + "], [" + ", ".join(["0.1666666667"] * 3) + "]]"


def page_code(app):
    return "\n".join(block.value for block in app.code)


def assert_clean(app):
    assert not app.exception, [e.value for e in app.exception]


def vector_block(app):
    blocks = [block.value for block in app.code if "gradient=v" in block.value]
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_the_chooser_gains_vector_only_when_a_vector_is_typed():
    app = run_app()
    assert app.segmented_control(key="reduction").options == ["sum", "mean", "ones_like"]
    assert app.text_input(key="vector").value == ""
    app.text_input(key="vector").set_value("[[1, 0, -2], [0.5, 3, 0]]").run()
    assert_clean(app)
    assert app.segmented_control(key="reduction").options == ["sum", "mean", "ones_like", "vector"]
    # x.grad = v * 12(3x + 2), by hand: 60, 96, 132 / 132, 96, 60 weighed by v
    assert "v = torch.tensor([[1.0, 0.0, -2.0], [0.5, 3.0, 0.0]])\nz.backward(gradient=v)" in vector_block(app)
    assert "# tensor([[  60.,    0., -264.],\n#         [  66.,  288.,    0.]])" in vector_block(app)


def test_ones_are_ones_like_and_one_sixth_is_mean():
    ones = run_app(vector="[[1, 1, 1], [1, 1, 1]]")
    assert "# tensor([[ 60.,  96., 132.],\n#         [132.,  96.,  60.]])" in vector_block(ones)
    sixth = run_app(vector=SIXTHS)
    assert "# tensor([[10., 16., 22.],\n#         [22., 16., 10.]])" in vector_block(sixth)


def test_a_one_hot_picks_one_row_of_the_jacobian():
    app = run_app(vector="[[0, 0, 1], [0, 0, 0]]")  # z[0, 2] reads x[0, 2] alone: 12(3*3 + 2) = 132 there
    assert "# tensor([[  0.,   0., 132.],\n#         [  0.,   0.,   0.]])" in vector_block(app)


def test_under_vector_the_plot_the_steps_and_the_graph_follow_v():
    app = run_app(vector="[[1, 0, -2], [0.5, 3, 0]]", reduction="vector", element="x[0, 2]")
    assert_clean(app)
    assert app.segmented_control(key="reduction").value == "vector"
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "slope at the point = -264" in figure["layout"]["title"]["text"]  # -2 * 12(3*3 + 2)
    steps = app.slider(key="backward_step")
    steps.set_value(steps.max).run()
    assert_clean(app)
    assert "x.grad at x[0, 2] = -264" in page_code(app)
    dot = app.get("graphviz_chart")[0].proto.spec
    assert "-264" in dot


def test_the_layer_gradients_tab_starts_from_v():
    app = run_app(vector="[[1, 0, -2], [0.5, 3, 0]]", reduction="vector", values="Layer gradients")
    assert_clean(app)
    assert "print(z.grad)\n# tensor([[ 1.0000,  0.0000, -2.0000]," in page_code(app)  # z.grad is v itself


def test_clearing_the_vector_goes_back_to_sum():
    app = run_app(vector="[[1, 1, 1], [1, 1, 1]]", reduction="vector")
    assert app.segmented_control(key="reduction").value == "vector"
    app.text_input(key="vector").set_value("").run()
    assert_clean(app)
    assert app.segmented_control(key="reduction").value == "sum"
    assert app.segmented_control(key="reduction").options == ["sum", "mean", "ones_like"]


def test_a_link_asking_for_vector_without_one_gets_sum_quietly():
    app = run_app(reduction="vector")
    assert_clean(app)
    assert app.segmented_control(key="reduction").value == "sum" and not app.error


def test_a_program_with_leaves_takes_a_vector_for_every_leaf():
    app = run_app(x="[1., 2]", layers="w = [3., 4]\ny = w * x", vector="[10, 100]", reduction="vector",
                  element="w[1]")
    assert_clean(app)
    block = vector_block(app)
    assert "print(x.grad)\n# tensor([ 30., 400.])" in block and "print(w.grad)\n# tensor([ 10., 200.])" in block
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "slope at the point = 200" in figure["layout"]["title"]["text"]  # d (10 w0 x0 + 100 w1 x1) / d w1


HOSTILE_VECTORS = [
    ("[1, 2]", "shape (2,) but the output z has shape (2, 3)"),
    ("__import__('os')", "vector"),
    ("[[1e999, 0, 0], [0, 0, 0]]", "vector"),
    ("1" * 10_000, "vector"),
    ("[" * (limits.MAX_BRACKET_DEPTH + 5), "vector"),
    ("7", "shape () but the output z has shape (2, 3)"),
]


@pytest.mark.parametrize(("text", "said"), HOSTILE_VECTORS, ids=range(len(HOSTILE_VECTORS)))
def test_a_bad_vector_is_said_in_place_and_the_rest_of_the_page_holds(text, said):
    app = run_app(vector=text, reduction="vector")
    assert_clean(app)
    errors = [error.value.replace("\\", "") for error in app.error]
    assert len(errors) == 1 and errors[0].startswith("**Can't use this vector:** vector: "), errors
    assert said in errors[0] and len(errors[0]) < 400
    assert app.segmented_control(key="reduction").options == ["sum", "mean", "ones_like"]
    assert app.segmented_control(key="reduction").value == "sum"
    assert "# tensor([[ 60.,  96., 132.],\n#         [132.,  96.,  60.]])" in page_code(app)
    assert app.get("graphviz_chart") and app.get("plotly_chart")
    assert not any("last example that worked" in warning.value for warning in app.warning)


def test_the_link_carries_the_vector_and_the_new_sections_and_brings_them_back():
    from urllib.parse import parse_qs, urlsplit

    app = run_app(vector="[[1, 0, -2], [0.5, 3, 0]]", reduction="vector", jacobian="true", accumulate="true",
                  saved="true")
    assert_clean(app)
    link = [block.value for block in app.code if block.value.startswith("/?")][0]
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert query["vector"] == "[[1, 0, -2], [0.5, 3, 0]]" and query["reduction"] == "vector"
    assert query["jacobian"] == query["accumulate"] == query["saved"] == "true"
    again = run_app(**query)
    assert_clean(again)
    assert again.segmented_control(key="reduction").value == "vector"
    assert again.text_input(key="vector").value == "[[1, 0, -2], [0.5, 3, 0]]"
    assert "fillcolor=orange" in again.get("graphviz_chart")[0].proto.spec
    assert any("retain_graph" in block.value for block in again.code)
    assert len(again.get("plotly_chart")) == 2  # the tangent and J


def test_unchanged_defaults_stay_out_of_the_link():
    link = [block.value for block in run_app().code if block.value.startswith("/?")][0]
    assert "vector" not in link and "jacobian" not in link and "saved" not in link


def test_a_vector_too_long_for_a_link_is_said_and_no_link_is_cut():
    app = run_app(vector="[[1, 1, 1], [1, 1, 1]]" + " " * 20_000, reduction="vector")
    assert_clean(app)
    assert app.segmented_control(key="reduction").value == "vector"  # spaces are no error: v is ones
    assert not [block.value for block in app.code if block.value.startswith("/?")]
    assert any("x, the layers and the vector are 20," in caption.value for caption in app.caption)


def test_with_the_editor_hidden_the_links_vector_still_rules():
    app = run_app(hide="editor", vector="[[1, 0, 0], [0, 0, 0]]", reduction="vector")
    assert_clean(app)
    assert app.segmented_control(key="reduction").value == "vector"
    assert "# tensor([[60.,  0.,  0.],\n#         [ 0.,  0.,  0.]])" in vector_block(app)
