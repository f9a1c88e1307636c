"""What backward keeps (issue 19): the saved tensors torchviz's show_saved draws, with shapes and bytes, on the
annotated graph; the page's toggle `saved`."""

import re
import warnings

import pytest

from explorer import explore
from explorer.engine.forward import leaf_tensors, run_forward
from explorer.engine.saved import saved_tensors
from explorer.views.graph import with_saved
from tests.app_page import open_link as run_app

SEED_X, SEED_LAYERS = "[[1., 2, 3], [3, 2, 1]]", "y = 3*x + 2\nz = 2*y**2"


def kept(x, layers, way="sum"):
    result = explore(x, layers)
    return result, saved_tensors(result.program, result.x, way)


def test_the_seed_keeps_each_factor_and_the_power_base():
    _, saved = kept(SEED_X, SEED_LAYERS)
    # 3*x keeps its 3 and 2*y**2 its 2 (0-d float64, 8 bytes each: torch wraps a Python number as a double),
    # y**2 keeps y (6 float32 elements, 24 bytes)
    assert [(t.op, t.name, t.shape, t.bytes) for t in saved.tensors] == [
        ("MulBackward0", "other", (), 8), ("PowBackward0", "self", (2, 3), 24), ("MulBackward0", "other", (), 8)]
    assert saved.total == 40


def test_a_tensor_saved_twice_is_counted_once():
    _, saved = kept("[1., 2, 3, 4]", "y = x * x")  # MulBackward0 keeps x as self and as other
    assert sorted(t.name for t in saved.tensors) == ["other", "self"]
    assert [t.bytes for t in saved.tensors] == [16, 16] and saved.total == 16


def test_exp_keeps_its_result_and_a_matrix_vector_product_both_operands():
    _, saved = kept("[1., 2]", "W = [[1., 2], [3, 4], [5, 6]]\nz = exp(W @ x)", "mean")
    assert [(t.op, t.name, t.shape) for t in saved.tensors] == [
        ("ExpBackward0", "result", (3,)), ("MvBackward0", "self", (3, 2)), ("MvBackward0", "vec", (2,))]
    assert saved.total == 12 + 24 + 8


def test_an_addition_keeps_nothing_and_a_constant_output_has_no_graph():
    assert kept("[1., 2]", "y = x + 2")[1].tensors == ()
    assert kept("[1., 2]", "y = detach(x)")[1].total == 0


@pytest.mark.parametrize("layers", [SEED_LAYERS, "y = sin(x)*exp(x)", "y = x * x\nz = sigmoid(y) / (1 + y)"])
def test_the_same_tensors_torchviz_show_saved_draws(layers):
    from torchviz import make_dot

    result, saved = kept(SEED_X, layers)
    x = result.x.clone().requires_grad_(True)
    z = run_forward(result.program, x, leaves=leaf_tensors(result.program, requires_grad=True))[
        result.program.output.name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        source = make_dot(z.sum(), params={"x": x}, show_saved=True).source
    orange = re.findall(r'\[label="([^"]*)" fillcolor=orange\]', source)
    assert len(orange) == saved.count
    assert sorted(label.split("\n")[0] for label in orange) == sorted(t.name for t in saved.tensors)


def test_the_saved_nodes_land_on_their_own_nodes_of_the_annotated_graph():
    result, saved = kept(SEED_X, SEED_LAYERS)
    reduction = result.reductions["sum"]
    source = with_saved(result.dot, reduction, saved)
    by_op = {node.op + (node.expr or ""): node_id for node_id, node in reduction.nodes.items()}
    pow_id = by_op["PowBackward0y**2"]
    assert f'{pow_id} -> "{pow_id}_saved_1" [dir=none]' in source
    assert f'"{pow_id}_saved_1" [label="saved self\\n(2, 3)\\n24 bytes" fillcolor=orange style=filled]' in source


def test_the_toggle_draws_them_with_values_and_grads_still_on_the_nodes():
    app = run_app(saved="true", reduction="mean")
    assert not app.exception and not app.error
    dot = app.get("graphviz_chart")[0].proto.spec
    assert dot.count("fillcolor=orange") == 3 and "24 bytes" in dot
    assert "grad [[10., 16., 22.], [22., 16., 10.]]" in dot  # x's grad under mean, still on x's node
    said = [block.value for block in app.markdown if "What backward keeps" in block.value]
    assert said and "3 saved tensors, 40 bytes" in said[0]
    plain = run_app()
    assert "fillcolor=orange" not in plain.get("graphviz_chart")[0].proto.spec


def test_on_a_projector_too():
    app = run_app(saved="true", present="true")
    assert not app.exception and "fillcolor=orange" in app.get("graphviz_chart")[0].proto.spec
