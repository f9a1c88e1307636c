"""Prove the solution, as the notebooks do: x.grad beside the symbolic derivative and a finite difference.

Every layer is elementwise, so out's slope in x_i depends on x_i alone, and
perturbing all elements by ±h at once gives every central difference from two
forward passes. Those run in float64 on the same x (parsed float32 values,
widened exactly), so the references are far more precise than autograd's
float32: their error is ~1e-10 relative, autograd's ~1e-7 per operation.

A program with leaves, @, detach, sum or mean is not elementwise: there each
element of every leaf (x included) is perturbed on its own, two float64
forward passes apiece, with every detach(...) held at its unperturbed value
(what autograd differentiates: no gradient flows through it), and above limits.MAX_CHECKED_ELEMENTS an evenly spaced
sample of the elements is judged, and the Check says so.
"""

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import torch

from explorer.engine import elements, limits
from explorer.engine.forward import run_forward
from explorer.engine.language import INPUT_NAME, REDUCTIONS
from explorer.engine.tree import is_elementwise

# |autograd - reference| <= weight·ATOL + RTOL·|reference|. float32 keeps ~7 digits and a formula of a few
# dozen operations loses one or two, so 1e-4 relative leaves a wide margin for rounding, while a wrong
# derivative is off by far more. ATOL covers slopes that are ~0 by cancellation; it is scaled by the
# reduction's weight (1/N for mean) so that a mean over many elements is still checked, not waved through.
ATOL = 1e-4
RTOL = 1e-4
STEP = 6e-6  # ~ cube root of float64's epsilon, the step that balances truncation and rounding error
_KINK = 0.5  # one-sided slopes further apart than this fraction: a corner, like relu's at 0


class Row(NamedTuple):
    index: tuple  # the element of x: (row, col) for a matrix, () for a scalar
    autograd: float  # x.grad[index]
    symbolic: float | None  # the symbolic derivative at x[index]; None when it is unavailable
    finite_difference: float  # central difference of out, in float64
    ok: bool | None  # autograd agrees with every usable reference; None when none was usable
    note: str  # "", "non-finite" or "kink: finite difference skipped"
    label: str = ""  # the element as the page names it ("w[1]"), where index alone does not say


@dataclass(frozen=True)
class Check:
    reduction: str  # "sum", "mean" or "ones_like"
    rows: tuple  # of Row, one per element of x in x's order, or the first max_rows of them
    elements: int  # how many elements were judged
    max_abs_diff: float | None  # largest |autograd - reference| over the comparisons made
    passed: bool | None  # no row disagrees; None when nothing could be compared
    total: int | None = None  # when only a sample was judged: how many elements there are in all


@dataclass(frozen=True)
class Verification:
    checks: dict  # reduction name -> Check
    symbolic: str  # the derivation's status, or "none" when there was no derivation
    tolerance: str  # the rule, for the page

    @property
    def passed(self):
        """No check found a disagreement."""
        return all(check.passed is not False for check in self.checks.values())


def _output(program, x):
    with torch.no_grad():
        return run_forward(program, x)[program.output.name]


def finite_differences(program, x):
    """Central, left and right difference quotients of the output at every element of x, in float64."""
    x = x.detach().double()
    h = STEP * x.abs().clamp(min=1.0)
    up, down = x + h, x - h
    f_up, f_mid, f_down = _output(program, up), _output(program, x), _output(program, down)
    # Divide by the steps as float64 actually took them, not by the h we asked for.
    return (f_up - f_down) / (up - down), (f_mid - f_down) / (x - down), (f_up - f_mid) / (up - x)


def _compare(grad, reference, weight):
    """Where both values are finite (so a comparison means something), and where they agree."""
    comparable = grad.isfinite() & reference.isfinite()
    agree = (grad - reference).abs() <= weight * ATOL + RTOL * reference.abs()
    return comparable, agree & comparable


def _symbolic_values(derivation, reduction, shape):
    if derivation is None or derivation.status != "ok" or reduction not in derivation.reductions:
        return None
    return torch.tensor(derivation.reductions[reduction].values, dtype=torch.float64).reshape(shape)


def _max_diff(grad, references):
    gaps = torch.cat([(grad - reference).abs()[judged] for reference, judged in references])
    return gaps.max().item() if gaps.numel() else None


_NOTES = ("", "non-finite", "kink: finite difference skipped")


def _rows(grad, symbolic, central, ok, judged, notes, most):
    """The first `most` elements as rows: building a row per element of a large x costs a second."""
    indices = itertools.product(*(range(size) for size in grad.shape))

    def head(tensor):
        return tensor.flatten()[:most].tolist()

    symbolic = head(symbolic) if symbolic is not None else itertools.repeat(None)
    columns = (head(grad), symbolic, head(central), head(ok), head(judged), head(notes))
    return tuple(
        Row(index, a, s, fd, good if judge else None, _NOTES[note])
        for index, a, s, fd, good, judge, note in zip(indices, *columns, strict=False)
    )


def _against_finite_difference(grad, central, left, right, weight):
    """Where the finite difference can judge autograd, where they agree, and where x sits on a corner."""
    judged, agrees = _compare(grad, central, weight)
    # At a corner (relu at 0) the central difference averages two slopes and autograd picks one: not a failure.
    kink = judged & ~agrees & ((right - left).abs() > _KINK * torch.maximum(left.abs(), right.abs()))
    return judged & ~kink, agrees, kink


def _check(reduction, grad, symbolic, differences, weight, most):
    central, left, right = (d * weight for d in differences)
    fd_judged, fd_agrees, kink = _against_finite_difference(grad, central, left, right, weight)
    if symbolic is None:
        sym_judged = sym_agrees = torch.zeros_like(fd_judged)
    else:
        sym_judged, sym_agrees = _compare(grad, symbolic, weight)
    judged = fd_judged | sym_judged
    ok = (fd_agrees | ~fd_judged) & (sym_agrees | ~sym_judged)
    finite = grad.isfinite() & central.isfinite() & (symbolic.isfinite() if symbolic is not None else True)
    notes = torch.where(kink, 2, torch.where(finite, 0, 1))
    references = [(central, fd_judged)] + ([(symbolic, sym_judged)] if symbolic is not None else [])
    passed = bool(ok[judged].all()) if judged.any() else None
    rows = _rows(grad, symbolic, central, ok, judged, notes, most)
    return Check(reduction, rows, grad.numel(), _max_diff(grad, references), passed)


def sampled_elements(total, most=None):
    """Indices into explorer.engine.elements' numbering: all of them, or `most` evenly spaced, first and last kept."""
    most = limits.MAX_CHECKED_ELEMENTS if most is None else most
    if total <= most:
        return list(range(total))
    return sorted({round(k * (total - 1) / (most - 1)) for k in range(most)})


def float64_output(exploration):
    """(the leaves' values in float64, x's included; output(leaves) -> the output z in float64, without a graph).
    detach(...) keeps its value as typed, as autograd sees no path through it: the first call, at these values,
    fixes it. Finite differences move one element (`nudged`) and call output again."""
    program = exploration.program
    base = {name: values.detach().double() for name, values in exploration.leaves.items()}
    frozen = {}

    def output(leaves):
        tensors = dict(leaves)
        x = tensors.pop(INPUT_NAME)
        with torch.no_grad():
            return run_forward(program, x, leaves=tensors, frozen=frozen)[program.output.name].double()

    output(base)  # fills `frozen` at the unperturbed values
    return base, output


def nudged(base, name, flat):
    """The leaves with element `flat` of `name` moved up, then down, by STEP·max(1, |value|): (leaves, the step
    float64 really took) for each."""
    value = float(base[name].flatten()[flat])
    h = STEP * max(1.0, abs(value))
    for sign in (1, -1):
        moved = base[name].flatten().clone()
        moved[flat] = value + sign * h
        yield {**base, name: moved.reshape(base[name].shape)}, float(moved[flat]) - value


def _leaf_differences(exploration, chosen):
    """Central, left and right differences of each reduction's out in each chosen element, in float64."""
    base, output = float64_output(exploration)

    def outs(leaves):
        z = output(leaves)
        return {"sum": z.sum(), "mean": z.mean(), "ones_like": z.sum()}

    middle = outs(base)
    columns = {name: ([], [], []) for name in REDUCTIONS}
    for index in chosen:
        name, flat = elements.locate(exploration, index)
        (up, step_up), (down, step_down) = ((outs(leaves), step) for leaves, step in nudged(base, name, flat))
        for reduction, (central, left, right) in columns.items():
            central.append(float((up[reduction] - down[reduction]) / (step_up - step_down)))
            left.append(float((middle[reduction] - down[reduction]) / -step_down))
            right.append(float((up[reduction] - middle[reduction]) / step_up))
    return {name: tuple(torch.tensor(column, dtype=torch.float64) for column in columns[name]) for name in columns}


def _verify_leaves(exploration, derivation, max_rows):
    """Every leaf's elements (a sample above the cap) against float64 finite differences of out itself, and
    against the symbolic derivative where `derivation` has one (symbolic_leaves numbers elements alike)."""
    total = elements.count(exploration)
    chosen = sampled_elements(total)
    differences = _leaf_differences(exploration, chosen)
    count = exploration.output.numel()
    labels = [elements.element_label(exploration, index) for index in chosen]
    checks = {}
    for reduction in REDUCTIONS:
        grad = torch.tensor([elements.grad_at(exploration, reduction, i) for i in chosen], dtype=torch.float64)
        weight = float(REDUCTIONS[reduction].weight(count))
        # _check scales differences of the output's elements by the weight; these are of out already.
        unscaled = tuple(d / weight for d in differences[reduction])
        symbolic = _symbolic_values(derivation, reduction, (total,))
        symbolic = None if symbolic is None else symbolic[chosen]
        check = _check(reduction, grad, symbolic, unscaled, weight, max_rows)
        rows = tuple(row._replace(label=label) for row, label in zip(check.rows, labels, strict=False))
        checks[reduction] = Check(reduction, rows, check.elements, check.max_abs_diff, check.passed,
                                  total if len(chosen) < total else None)
    return Verification(
        checks=checks,
        symbolic="none" if derivation is None else derivation.status,
        tolerance=f"|autograd - reference| <= {ATOL:g}·weight + {RTOL:g}·|reference| (weight 1/N for mean)",
    )


def verify(exploration, derivation=None, max_rows=None):
    """For each reduction, autograd's x.grad against the symbolic derivative (when `derivation` has one)
    and a float64 central difference. Plain data; never raises on inf or nan. Every element is judged;
    only the first `max_rows` (all, by default) become rows. A program with leaves: see _verify_leaves."""
    if not is_elementwise(exploration.program):
        return _verify_leaves(exploration, derivation, max_rows)
    differences = finite_differences(exploration.program, exploration.x)
    count = exploration.x.numel()
    checks = {}
    for reduction in REDUCTIONS:
        grad = exploration.grads[reduction].double()
        weight = float(REDUCTIONS[reduction].weight(count))
        symbolic = _symbolic_values(derivation, reduction, grad.shape)
        checks[reduction] = _check(reduction, grad, symbolic, differences, weight, max_rows)
    return Verification(
        checks=checks,
        symbolic="none" if derivation is None else derivation.status,
        tolerance=f"|autograd - reference| <= {ATOL:g}·weight + {RTOL:g}·|reference| (weight 1/N for mean)",
    )
