"""tensor_repr prints exactly what repr(tensor) prints: by hand on a few tensors, by property on many."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.autograd import forward_ad as fwAD
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from explorer.engine.printing import tensor_repr

NAN, INF = float("nan"), float("inf")
MAX_ELEMENTS = 60
THRESHOLD = 1000  # torch's default: more elements are summarised


def printed(tensor):
    """The fast path's text, checked against torch's own before it is returned."""
    text = tensor_repr(tensor)
    assert text == repr(tensor)
    return text


# Written out, so a reader sees the format.


def test_seed_x_grad_pads_integers_to_the_widest_with_a_point():
    grad = torch.tensor([[60.0, 96, 132], [132, 96, 60]])
    assert printed(grad) == "tensor([[ 60.,  96., 132.],\n        [132.,  96.,  60.]])"


def test_seed_layer_carries_its_grad_fn():
    x = torch.tensor([[1.0, 2, 3], [3, 2, 1]], requires_grad=True)
    assert printed(3 * x + 2) == "tensor([[ 5.,  8., 11.],\n        [11.,  8.,  5.]], grad_fn=<AddBackward0>)"


def test_a_leaf_clone_that_requires_grad_says_so():
    leaf = torch.tensor([[1.0, 2, 3], [3, 2, 1]]).clone().requires_grad_(True)
    assert printed(leaf) == "tensor([[1., 2., 3.],\n        [3., 2., 1.]], requires_grad=True)"


def test_scalar_output_prints_without_brackets():
    x = torch.tensor([[1.0, 2, 3], [3, 2, 1]], requires_grad=True)
    assert printed((2 * (3 * x + 2) ** 2).sum()) == "tensor(840., grad_fn=<SumBackward0>)"


def test_magnitudes_over_a_thousandfold_apart_switch_to_scientific():
    assert printed(torch.tensor([1e-5, 1.0, 1e3])) == "tensor([1.0000e-05, 1.0000e+00, 1.0000e+03])"


def test_scientific_thresholds_are_strict_and_judged_on_the_stored_value():
    assert printed(torch.tensor([1.0, 1000.0])) == "tensor([   1., 1000.])"  # ratio 1000: not over
    assert printed(torch.tensor([1e8])) == "tensor([100000000.])"
    assert printed(torch.tensor([1e-4], dtype=torch.float64)) == "tensor([0.0001], dtype=torch.float64)"
    assert printed(torch.tensor([1e-4])) == "tensor([1.0000e-04])"  # float32's 1e-4 is just under 1e-4


def test_fractions_print_four_decimals():
    assert printed(torch.tensor([0.5, -1.25])) == "tensor([ 0.5000, -1.2500])"


def test_nan_inf_and_negative_zero_keep_their_spelling_and_do_not_set_the_width():
    assert printed(torch.tensor([NAN, INF, -INF, -0.0, 2.0])) == "tensor([nan, inf, -inf, -0., 2.])"


def test_a_long_row_wraps_at_80_columns_under_the_bracket():
    assert printed(torch.full((8,), 1234.5)) == (
        "tensor([1234.5000, 1234.5000, 1234.5000, 1234.5000, 1234.5000, 1234.5000,\n"
        "        1234.5000, 1234.5000])"
    )


def test_a_row_that_fills_the_line_exactly_does_not_wrap():
    row = "[0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000]"  # 9 of 8 columns: 72
    assert printed(torch.full((2, 9), 0.5)) == f"tensor([{row},\n        {row}])"


def test_three_dims_separate_blocks_with_a_blank_line():
    assert printed(torch.ones(2, 1, 2)) == "tensor([[[1., 1.]],\n\n        [[1., 1.]]])"


def test_float64_names_its_dtype_before_requires_grad():
    value = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    assert printed(value) == "tensor([0.5000], dtype=torch.float64, requires_grad=True)"


def test_an_empty_tensor_gives_its_size_unless_one_dimensional():
    assert printed(torch.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert printed(torch.zeros(0)) == "tensor([])"


# Outside the fast path: torch's own printer answers.


@pytest.mark.parametrize(
    "tensor",
    [
        torch.tensor([1, 2, 3]),  # int64
        torch.tensor([True, False]),
        torch.tensor([0.5, 1.5], dtype=torch.float16),
        torch.tensor([1 + 2j]),
        torch.arange(THRESHOLD + 1.0),  # summarised: more elements than the threshold
        torch.nn.Parameter(torch.ones(2)),
        torch.ones(3).to_sparse(),
    ],
    ids=["int64", "bool", "float16", "complex", "summarised", "parameter", "sparse"],
)
def test_tensors_outside_the_fast_path_print_as_torch_does(tensor):
    assert tensor_repr(tensor) == repr(tensor)


@pytest.mark.parametrize(
    "options", [{"precision": 2}, {"linewidth": 40}, {"sci_mode": True}, {"threshold": 5}, {"edgeitems": 1}]
)
def test_non_default_print_options_print_as_torch_does(options):
    tensor = torch.arange(12.0).reshape(3, 4) / 7
    try:
        torch.set_printoptions(**options)
        assert tensor_repr(tensor) == repr(tensor)
    finally:
        torch.set_printoptions(profile="default")
    assert tensor_repr(tensor) == repr(tensor)


class PassingFunctionMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class PassingDispatchMode(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mode", [PassingFunctionMode, PassingDispatchMode, fwAD.dual_level])
def test_under_a_torch_mode_or_forward_ad_level_torch_prints(mode):
    tensor = torch.tensor([[1.0, 2, 3], [3, 2, 1]], requires_grad=True) * 2
    with mode():
        assert tensor_repr(tensor) == repr(tensor)


def test_a_dual_tensor_shows_its_tangent():
    with fwAD.dual_level():
        dual = fwAD.make_dual(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
        assert printed(dual) == "tensor([1., 2.], tangent=tensor([1., 0.]))"


def test_a_non_default_dtype_is_named_on_float32():
    try:
        torch.set_default_dtype(torch.float64)
        assert printed(torch.tensor([0.5], dtype=torch.float32)) == "tensor([0.5000], dtype=torch.float32)"
    finally:
        torch.set_default_dtype(torch.float32)


# The property: any tensor the app might print, torch's text.

SPECIALS = st.sampled_from([NAN, INF, -INF, 0.0, -0.0])
SMALL_INTEGERS = st.integers(-20, 300).map(float)
# The scientific switch's edges (a ratio of exactly 1000, 1e8, 1e-4) and values that round up a digit at 4
# decimals, one group at a time so that the edge, not another value, decides the mode.
EDGES = [
    st.sampled_from([1.0, -1.0, 0.5, 500.0, 1e3, -1e3]),
    st.sampled_from([1e8, -1e8, 99999999.0, 1e6]),
    st.sampled_from([1e-4, -1e-4, 0.1, 0.001]),
    st.sampled_from([0.99995, 9999.99995, 0.00015, 0.00005, 1.5]),
]


def scaled(exponent):
    """Floats around 10**exponent, either sign, sometimes whole numbers at that scale."""
    mantissas = st.floats(1.0, 10.0, exclude_max=True)
    signs = st.sampled_from([1.0, -1.0])
    values = st.builds(lambda m, s: s * m * 10.0**exponent, mantissas, signs)
    return st.one_of(values, values.map(math.floor)) if exponent >= 0 else values


@st.composite
def element_values(draw):
    """A strategy for one tensor's values: one group of edge values, or mostly one scale (so fixed-point
    printing happens) mixed with integers, every magnitude from 1e-12 to 1e12, and nan, inf, -inf, 0, -0."""
    if draw(st.integers(0, 5)) == 0:
        return st.one_of(draw(st.sampled_from(EDGES)), SPECIALS)
    exponent = draw(st.integers(-12, 12))
    anywhere = st.integers(-12, 12).flatmap(scaled)
    weighted = [(scaled(exponent), 6), (SMALL_INTEGERS, 3), (anywhere, 1), (SPECIALS, 1)]
    chosen = [strategy for strategy, weight in weighted for _ in range(draw(st.integers(0, weight)))]
    return st.one_of(chosen) if chosen else SMALL_INTEGERS


@st.composite
def shapes(draw):
    """Rank 0 to 4, at most MAX_ELEMENTS elements, sometimes a size-0 dimension."""
    rank = draw(st.integers(0, 4))
    shape, budget = [], MAX_ELEMENTS
    for _ in range(rank):
        size = draw(st.integers(0 if draw(st.integers(0, 20)) == 0 else 1, max(1, budget)))
        shape.append(size)
        budget = max(1, budget // max(1, size))
    return tuple(shape)


def with_autograd(values, how):
    """The tensor as the app meets it: detached, a leaf that requires grad, or a result with a grad_fn."""
    if how == "detached":
        return values
    leaf = values.clone().requires_grad_(True)
    return {
        "leaf": leaf,
        "mul": leaf * 1,
        "add": leaf + 0,
        "view": leaf.view(values.shape),
        "transposed": leaf.transpose(0, -1) if leaf.dim() else leaf.clone(),
        "detached_result": (leaf * 1).detach(),
    }[how]


AUTOGRAD = st.sampled_from(["detached", "leaf", "mul", "add", "view", "transposed", "detached_result"])
DTYPES = st.sampled_from([torch.float32, torch.float64])
PROPERTY = settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow  # over 5 s (--durations)
@PROPERTY
@given(shape=shapes(), data=st.data(), dtype=DTYPES, how=AUTOGRAD)
def test_small_tensors_print_as_torch_does(shape, data, dtype, how):
    count = math.prod(shape)
    values = data.draw(st.lists(data.draw(element_values()), min_size=count, max_size=count))
    tensor = with_autograd(torch.tensor(values, dtype=dtype).reshape(shape), how)
    assert tensor_repr(tensor) == repr(tensor)


@settings(max_examples=300, deadline=None)
@given(
    pool=st.lists(element_values().flatmap(lambda values: values), min_size=1, max_size=30),
    leading=st.sampled_from([(), (), (2,), (3,), (2, 2)]),
    data=st.data(),
    order=st.randoms(use_true_random=False),
    dtype=DTYPES,
    how=AUTOGRAD,
)
@pytest.mark.slow  # over 5 s (--durations)
def test_long_rows_wrap_as_torch_does(pool, leading, data, order, dtype, how):
    """Rows up to the threshold, at each depth (so each indent): line wrapping with every width. Values
    come from a small drawn pool, placed in a drawn order: hypothesis cannot draw a thousand floats."""
    row = data.draw(st.integers(7, THRESHOLD // math.prod(leading)))
    values = [order.choice(pool) for _ in range(math.prod(leading) * row)]
    tensor = with_autograd(torch.tensor(values, dtype=dtype).reshape(*leading, row), how)
    assert tensor_repr(tensor) == repr(tensor)
