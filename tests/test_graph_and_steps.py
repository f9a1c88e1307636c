"""The annotated graph, the step-through and the intermediate gradients, against hand values."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import explore
from explorer.engine.dot import label_lines, node_statement
from explorer.views.graph import annotated_dot, small_array_text
from explorer.views.walkthrough import describe

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"


@pytest.fixture(scope="module")
def seed():
    return explore(SEED_X, SEED_LAYERS)


def labels(dot):
    """node id -> label, the last statement winning as in DOT."""
    return dict(re.findall(r'\t(\d+) \[label="((?:[^"\\]|\\.)*)"', dot))


def test_annotated_graph_labels_layers_values_and_gradients(seed):
    dot = annotated_dot(seed, "mean")
    text = "\n".join(labels(dot).values())
    assert "y = 3*x + 2\\nAddBackward0\\nvalue [[ 5.,  8., 11.], [11.,  8.,  5.]]" in text
    assert "z = 2*y**2\\nMulBackward0" in text
    assert "grad [[0.1667, 0.1667, 0.1667], [0.1667, 0.1667, 0.1667]]" in text  # d out / d z = 1/6
    assert "x\\nvalue [[1., 2., 3.], [3., 2., 1.]]\\ngrad [[10., 16., 22.], [22., 16., 10.]]" in text
    assert "out\\n140" in text


def test_plain_view_is_torchviz_itself(seed):
    plain = seed.reductions["mean"].dot
    assert "MeanBackward0" in plain and "value" not in plain


def test_step_highlights_one_node_and_shades_the_visited(seed):
    dot = annotated_dot(seed, "mean", step=2)
    assert dot.count("#ffb347") == 1 and dot.count("penwidth=3") == 1
    assert dot.count("#f6d6ff") == 2  # MeanBackward0 and the outer MulBackward0 came before


def test_label_text_cannot_break_out_of_dot_quotes():
    hostile = '<x> URL="javascript:alert(1)"'
    statement = node_statement("1", label_lines(hostile, 'a"b{c}\\n'), "#ffffff")
    assert statement.startswith('\t1 [label="') and 'URL="javascript' not in statement
    assert '\\"' in statement and "label=<" not in statement


@pytest.mark.parametrize("name, expected", [("sum", 60.0), ("mean", 10.0), ("ones_like", 60.0)])
def test_step_through_visits_every_node_and_ends_at_x_grad(seed, name, expected):
    reduction = seed.reductions[name]
    visited = {step.node for step in reduction.steps}
    assert visited == set(reduction.nodes), "every grad_fn node is visited exactly once"
    last = describe(seed, name, len(reduction.steps), 0)
    assert last.op == "AccumulateGrad" and last.incoming == pytest.approx(expected)


def test_step_through_of_the_seed_multiplies_the_local_derivatives(seed):
    # x[0, 1] = 2, y = 8: mean's 1/6, then 2 (from 2*u), 2y = 16, 1, 3.
    views = [describe(seed, "mean", k, 1) for k in range(1, 6)]
    assert [v.op for v in views] == ["MeanBackward0", "MulBackward0", "PowBackward0", "AddBackward0", "MulBackward0"]
    assert [v.edges[0].local for v in views] == pytest.approx([1 / 6, 2, 16, 1, 3])
    assert views[-1].running == pytest.approx(16) and views[-1].is_chain


def test_step_through_adds_paths_in_a_dag():
    result = explore("[2.]", "y = x**2\nz = y*x + y")  # dz/dx = 3x^2 + 2x = 16
    steps = result.reductions["sum"].steps
    last = describe(result, "sum", len(steps), 0)
    assert last.incoming == pytest.approx(16) and not last.is_chain


def test_intermediate_gradients_of_the_seed_under_mean(seed):
    grads = seed.reductions["mean"].layer_grads
    assert grads["z"].flatten().tolist() == pytest.approx([1 / 6] * 6)  # d out / d z = 1/6
    y = seed.layers["y"]
    assert grads["y"].flatten().tolist() == pytest.approx((4 * y / 6).flatten().tolist())  # 4y/6


def test_constant_layers_have_no_tracked_gradient():
    result = explore("[1., 2]", "c = 3*pi\nz = c*x")
    assert result.reductions["sum"].layer_grads["c"] is None
    assert result.grads["sum"].tolist() == pytest.approx([3 * 3.141592653589793] * 2)


def test_graph_carries_its_own_colours_for_light_and_dark_themes(seed):
    # st.graphviz_chart ignores Streamlit's theme: the DOT sets paper, ink and fills itself.
    for dot in (seed.dot, annotated_dot(seed, "sum")):
        assert "bgcolor=white" in dot and 'fontcolor="#1f2430"' in dot and 'edge [color="#1f2430"]' in dot


def test_reduction_node_and_first_step_name_the_output_layer():
    result = explore("[1., 2.]", "y = 2*x\nloss = y**2")
    assert "out = loss.mean()\\nMeanBackward0" in annotated_dot(result, "mean")
    first = describe(result, "mean", 1, 0)
    assert (first.title, first.heading) == ("out", "out = loss.mean()")
    assert [edge.to for edge in first.edges] == ["loss"] and first.edges[0].local == pytest.approx(1 / 2)


def test_last_step_is_x_grad_receiving_d_out_d_x(seed):
    last = describe(seed, "sum", len(seed.reductions["sum"].steps), 0)
    assert last.accumulates and (last.title, last.heading) == ("x", "x.grad")
    assert last.incoming == pytest.approx(60)  # 12 * (3*1 + 2)


def test_plain_graph_fills_op_nodes_apart_from_their_ink_and_names_the_output(seed):
    plain = seed.reductions["sum"].dot
    assert re.search(r'node \[[^]]*color="#1f2430"[^]]*fillcolor="#eeeeee"', plain), "fill differs from the ink"
    assert labels(plain)[seed.reductions["sum"].root_id] == "out\\n()"
    assert labels(seed.reductions["ones_like"].dot)[seed.reductions["ones_like"].root_id] == "z\\n(2, 3)"


_SHAPES = [(2,), (3,), (6,), (2, 2), (2, 3), (3, 2), (1, 2, 3), (2, 1, 2), (2, 3, 1), (1, 1, 5)]
_EDGES = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e8, 99999999.0, 1e-4, 0.0001000001, 0.03125, 0.00005, 0.99995,
          1000.0, 0.5, 1 / 3, 2 / 3, -1 / 6]


@st.composite
def small_arrays(draw):
    shape = draw(st.sampled_from(_SHAPES))
    value = st.one_of(
        st.integers(-1000, 1000).map(float),
        st.floats(-1e9, 1e9, allow_nan=False),
        st.floats(1e-6, 1e3).map(lambda v: v * draw(st.sampled_from([1, -1]))),
        st.integers(-99999, 99999).map(lambda n: n / 10**4),  # 4 decimals: the rounding edge
        st.integers(-999, 999).map(lambda n: n / 2**draw(st.integers(1, 16))),  # exact binary fractions: ties
        st.sampled_from(_EDGES),
    )
    values = np.array(draw(st.lists(value, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    if draw(st.booleans()):
        values = values.astype(np.float32).astype(np.float64)  # what a float32 tensor's .double() holds
    return values.reshape(shape)


@pytest.mark.slow  # over 5 s (--durations)
@settings(max_examples=1500, deadline=None)
@given(small_arrays())
def test_small_array_text_is_numpys_text(array):
    """The graph's labels skip numpy's printer for a few numbers: they must read exactly as numpy writes them."""
    expected = np.array2string(array, precision=4, separator=", ").replace("\n", "")
    assert small_array_text(array.tolist()) == expected
