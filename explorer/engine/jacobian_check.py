"""Reverse mode = forward mode = finite differences, column by column of one leaf's Jacobian.

Column j of J (d output / d leaf[j]) is read three ways: off J as jacobian() built it (reverse mode, or
forward mode when that is cheaper: either way torch's AD), by one forward-mode pass of its own with the tangent
one-hot at j (jacobian.jvp), and by a central finite difference of the output in float64 with leaf[j] moved
by ±h (every detach(...) held at its value, as autograd sees it). Above a cap, an evenly spaced sample of
the columns is judged, first and last kept, and the check says so. Agreement is verify's rule:
|J - reference| <= ATOL + RTOL·|reference|, where both are finite.
"""

from dataclasses import dataclass

import torch

from explorer.engine import elements, limits
from explorer.engine.jacobian import jvp
from explorer.engine.verify import ATOL, RTOL, float64_output, nudged, sampled_elements


@dataclass(frozen=True)
class ColumnCheck:
    label: str  # the leaf's element, "x[1, 2]": J's column
    forward: float  # max |J[:, j] - jvp(one-hot j)| over the output's elements (nan where not finite)
    finite_difference: float  # max |J[:, j] - central difference| (nan where not finite)
    ok: bool | None  # both agree by the rule; None when nothing finite could be compared


@dataclass(frozen=True)
class JacobianCheck:
    columns: tuple  # of ColumnCheck, in the leaf's order
    total: int  # the leaf's elements: J's columns
    passed: bool | None  # no column disagrees; None when nothing could be compared

    @property
    def sampled(self):
        return len(self.columns) < self.total


def _central_differences(r, name, flats):
    """d output / d leaf[j] for each flat index j, as central differences in float64: a column each."""
    base, output = float64_output(r)
    columns = []
    for flat in flats:
        (up, step_up), (down, step_down) = ((output(leaves), step) for leaves, step in nudged(base, name, flat))
        columns.append(((up - down) / (step_up - step_down)).flatten())
    return columns


def _worst(column, reference):
    """max |column - reference| where both are finite, and whether they agree there (None: nothing finite)."""
    finite = column.isfinite() & reference.isfinite()
    if not finite.any():
        return float("nan"), None
    diff = (column - reference).abs()[finite]
    return float(diff.max()), bool((diff <= ATOL + RTOL * reference.abs()[finite]).all())


def check_jacobian(r, name, matrix, most=None):
    """Judge `matrix` (jacobian(r, name), or any tensor shaped output.shape + leaf.shape) column by column
    against forward mode and float64 finite differences: at most `most` columns (limits.MAX_CHECKED_ELEMENTS
    by default), evenly spaced. Plain data; never raises on inf or nan."""
    leaf = r.leaves[name]
    total = leaf.numel()
    flats = sampled_elements(total, limits.MAX_CHECKED_ELEMENTS if most is None else most)
    columns_of_j = matrix.reshape(r.output.numel(), total).double()
    differences = _central_differences(r, name, flats)
    rows = []
    for flat, difference in zip(flats, differences, strict=True):
        one_hot = torch.zeros(total, dtype=leaf.dtype)
        one_hot[flat] = 1.0
        forward = jvp(r, {name: one_hot.reshape(leaf.shape)}).flatten().double()
        column = columns_of_j[:, flat]
        worst_forward, forward_ok = _worst(column, forward)
        worst_difference, difference_ok = _worst(column, difference)
        marks = [ok for ok in (forward_ok, difference_ok) if ok is not None]
        label = elements.label(name, tuple(leaf.shape), flat)
        rows.append(ColumnCheck(label, worst_forward, worst_difference, all(marks) if marks else None))
    marks = [row.ok for row in rows if row.ok is not None]
    return JacobianCheck(tuple(rows), total, all(marks) if marks else None)
