"""Verification: x.grad against the symbolic derivative and a float64 finite difference."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorer
from explorer.engine.verify import verify
from explorer.symbolic.calculus import Derivation, ReductionMath, describe

SEED_X = "[[1., 2, 3], [3, 2, 1]]"
SEED_LAYERS = "y = 3*x + 2\nz = 2*y**2"
HAND = {
    "sum": [60.0, 96.0, 132.0, 132.0, 96.0, 60.0],
    "mean": [10.0, 16.0, 22.0, 22.0, 16.0, 10.0],
    "ones_like": [60.0, 96.0, 132.0, 132.0, 96.0, 60.0],
}


def verified(x_text, layers_text, symbolic=True):
    exploration = explorer.explore(x_text, layers_text)
    derivation = describe(exploration.program, exploration.x) if symbolic else None
    return verify(exploration, derivation)


def test_seed_passes_with_all_three_columns_equal_to_the_hand_values():
    verification = verified(SEED_X, SEED_LAYERS)
    assert verification.passed and verification.symbolic == "ok"
    for reduction, hand in HAND.items():
        check = verification.checks[reduction]
        assert check.passed is True and check.max_abs_diff < 1e-6
        assert [row.index for row in check.rows] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        assert [row.autograd for row in check.rows] == hand
        assert [row.symbolic for row in check.rows] == hand
        assert [row.finite_difference for row in check.rows] == pytest.approx(hand, rel=1e-8)
        assert all(row.ok is True and row.note == "" for row in check.rows)


def test_polynomial_at_2_passes_with_93():
    check = verified("2.0", "y = 2*x**4 + x**3 + 3*x**2 + 5*x + 1").checks["sum"]
    (row,) = check.rows
    assert row.index == () and row.autograd == 93.0 and row.symbolic == 93.0
    assert row.finite_difference == pytest.approx(93.0, rel=1e-8)
    assert check.passed


def test_without_a_derivation_the_finite_difference_still_checks():
    verification = verified(SEED_X, SEED_LAYERS, symbolic=False)
    assert verification.passed and verification.symbolic == "none"
    assert all(row.symbolic is None for row in verification.checks["mean"].rows)


def test_a_derivation_that_timed_out_is_left_out():
    exploration = explorer.explore(SEED_X, SEED_LAYERS)
    verification = verify(exploration, Derivation("timeout", "too large to show symbolically"))
    assert verification.passed and verification.symbolic == "timeout"
    assert all(row.symbolic is None for row in verification.checks["sum"].rows)


def test_a_doctored_derivation_is_flagged():
    exploration = explorer.explore(SEED_X, SEED_LAYERS)
    derivation = describe(exploration.program, exploration.x)
    wrong = ReductionMath("mean", "doctored", [[11.0, 16.0, 22.0], [22.0, 16.0, 10.0]])
    doctored = dataclasses.replace(derivation, reductions={**derivation.reductions, "mean": wrong})
    verification = verify(exploration, doctored)
    mean = verification.checks["mean"]
    assert not verification.passed and mean.passed is False
    assert mean.max_abs_diff == pytest.approx(1.0)
    assert [row.ok for row in mean.rows] == [False, True, True, True, True, True]
    assert verification.checks["sum"].passed  # the others are untouched


def test_a_wrong_autograd_gradient_is_caught_by_the_finite_difference():
    exploration = explorer.explore(SEED_X, SEED_LAYERS)
    reduction = exploration.reductions["sum"]
    broken = dataclasses.replace(reduction, grad=reduction.grad * 1.01)  # 1% off: far beyond float32 rounding
    exploration = dataclasses.replace(exploration, reductions={**exploration.reductions, "sum": broken})
    check = verify(exploration, None).checks["sum"]
    assert check.passed is False and all(row.ok is False for row in check.rows)


def test_relu_corner_at_0_is_marked_not_failed():
    check = verified("[-1.0, 0.0, 2.0]", "y = relu(x)").checks["sum"]
    corner = check.rows[1]
    assert corner.autograd == 0.0 and corner.symbolic == 0.0
    assert corner.finite_difference == pytest.approx(0.5)  # the average of the slopes 0 and 1
    assert corner.note.startswith("kink") and corner.ok is True
    assert check.passed


def test_non_finite_values_are_marked_not_crashed():
    verification = verified("[0.0, 1.0]", "y = 1/x")
    row_at_0, row_at_1 = verification.checks["sum"].rows
    assert row_at_0.autograd == float("-inf") and row_at_0.note == "non-finite" and row_at_0.ok is None
    assert row_at_1.autograd == -1.0 and row_at_1.ok is True
    assert verification.passed


def test_only_nan_gives_no_verdict():
    check = verified("-1.0", "y = sqrt(x)").checks["sum"]
    assert check.passed is None and check.max_abs_diff is None
    assert check.rows[0].note == "non-finite"


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.floats(-2.5, 2.5, allow_nan=False), min_size=1, max_size=6),
    formula=st.sampled_from(
        ["sin(3*x)*exp(x)", "tanh(x)**2 - x", "sigmoid(2*x)/(x**2 + 1)", "softplus(x)*cosh(x)", "x**3 - 2*x"]
    ),
)
def test_autograd_symbolic_and_finite_differences_agree(values, formula):
    verification = verified(str(values), f"y = {formula}\nz = y*x + y")
    assert verification.passed, {name: check.max_abs_diff for name, check in verification.checks.items()}


def test_abs_and_relu_of_inner_expressions_verify():
    verification = verified("[-2.0, 0.5, 1.0, 4.0, 9.0]", "y = abs(sqrt(abs(x)) - 2)\nz = relu(y - 1) + 1/relu(x + 3)")
    assert verification.symbolic == "ok" and verification.passed


def test_max_rows_limits_the_table_but_every_element_is_judged():
    result = explorer.explore(str([0.5] * 50), "y = x**2")
    checked = verify(result, None, max_rows=5)
    check = checked.checks["sum"]
    assert len(check.rows) == 5 and check.elements == 50 and check.passed
