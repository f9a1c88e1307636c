"""The Jacobian of the output by one leaf, and what it says about backward: pure views, the page draws them.

Every way of starting backward is a vector-Jacobian product. Write J as a matrix, a row per output element
(z[0, 1]) and a column per element of the leaf (x[1, 2]): backward from v leaves vᵀJ in the leaf's .grad, the
v-weighted sum of J's rows. sum and ones_like are v of ones, mean v of 1/N, a typed vector is v itself. One
backward pass gives one such row-combination (a one-hot v: one row of J); one forward-mode pass gives one
column, J·u for a one-hot u. So the whole J costs (output elements) backward passes or (leaf elements)
forward passes, and torch's jacrev and jacfwd are those two loops, batched.
"""

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine import elements
from explorer.engine.jacobian import jacobian, jvp, vjp
from explorer.engine.jacobian_check import check_jacobian
from explorer.engine.tree import is_elementwise
from explorer.views.plot import _NO_THEME, SpecFigure

MAX_NUMBERED_CELLS = 144  # up to this many entries, the heatmap writes each one in its cell
# Blue for negative, white for 0, red for positive: plotly's own "RdBu" is grey at its middle, and most of a
# Jacobian is 0.
COLOURS = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#ffffff"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
MAX_TERMS = 4  # rows of J named in a reading's weighted sum before "…"
MAX_SHOWN = 8  # numbers of a row or column written out before "…"


@dataclass(frozen=True)
class Reading:
    """One way of starting backward read as vᵀJ."""

    way: str  # "sum", "mean", "ones_like", "vector"
    v: np.ndarray  # the seed, flat: one weight per row of J
    product: np.ndarray  # vᵀJ, flat: one number per column
    grad: np.ndarray  # the leaf's .grad as autograd left it under this way, flat
    agrees: bool  # product and grad agree to float32 precision


@dataclass(frozen=True)
class JacobianView:
    leaf: str  # "x", "w"
    output: str  # the output layer's name, "z"
    rows: tuple  # labels of the output's elements: J's rows
    columns: tuple  # labels of the leaf's elements: J's columns
    matrix: np.ndarray  # J as rows × columns, float64
    readings: tuple  # of Reading, one per way of starting backward the result has
    diagonal: str  # a sentence when J is diagonal for an elementwise program, else ""
    check: object  # explorer.engine.jacobian_check.JacobianCheck


def _close(a, b):
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True))


def _seed(result, way, count):
    if way == "vector":
        return result.vector.double().flatten().numpy()
    return np.full(count, 1.0 / count if way == "mean" else 1.0)


def diagonal_sentence(result, name, matrix):
    """Why ones_like gives per-element derivatives, when J of x is diagonal because every layer is elementwise."""
    if name != "x" or not is_elementwise(result.program) or matrix.shape[0] != matrix.shape[1]:
        return ""
    if np.count_nonzero(matrix - np.diag(np.diag(matrix))):
        return ""
    output = result.program.output.name
    return (f"**J is diagonal.** Every layer is elementwise, so `{output}[i]` depends on `x[i]` alone and every "
            f"entry off the diagonal is 0. vᵀJ then multiplies v by the diagonal element by element: with v of ones "
            f"(`ones_like`, and `sum`) each `x.grad[i]` is d{output}[i]/dx[i], the element's own derivative, and "
            "`mean` divides each by N. For a matmul or a sum, rows of J overlap and the gradients mix.")


def jacobian_view(result, name):
    """J of the output by leaf `name`, every way of starting backward read off it, and its three-way check.
    Raises FormulaError (explorer.engine.jacobian) for an unknown leaf or a Jacobian over its limits."""
    matrix = jacobian(result, name)
    output, leaf = result.program.output.name, result.leaves[name]
    count_out, count_in = result.output.numel(), leaf.numel()
    flat = matrix.reshape(count_out, count_in).double().numpy()
    readings = []
    for way in result.reductions:
        v = _seed(result, way, count_out)
        product = v @ flat
        grad = result.leaf_grads[way][name].double().flatten().numpy()
        readings.append(Reading(way, v, product, grad, _close(product, grad)))
    return JacobianView(
        leaf=name,
        output=output,
        rows=tuple(elements.label(output, tuple(result.output.shape), i) for i in range(count_out)),
        columns=tuple(elements.label(name, tuple(leaf.shape), j) for j in range(count_in)),
        matrix=flat,
        readings=tuple(readings),
        diagonal=diagonal_sentence(result, name, flat),
        check=check_jacobian(result, name, matrix),
    )


def number(value):
    return f"{value + 0.0:.4g}"  # + 0.0: never -0


def numbers(values, most=MAX_SHOWN):
    shown = ", ".join(number(value) for value in values[:most])
    return f"[{shown}{', …' if len(values) > most else ''}]"


def reading_text(view):
    """Each way of starting backward as vᵀJ: its v, the weighted sum of J's rows, the product, and the .grad."""
    lines = []
    for reading in view.readings:
        terms = [f"{number(w)}·J[{row}]" for w, row in zip(reading.v, view.rows, strict=True)]
        shown = " + ".join(terms[:MAX_TERMS]) + (f" + … ({len(terms)} rows)" if len(terms) > MAX_TERMS else "")
        shown = shown.replace("+ -", "- ")
        mark = "✓" if reading.agrees else "✗ differs"
        lines += [f"{reading.way}:", f"  v   = {numbers(reading.v)}", f"  vᵀJ = {shown}",
                  f"      = {numbers(reading.product)}", f"  {view.leaf}.grad = {numbers(reading.grad)}  {mark}"]
    return "\n".join(lines)


def heatmap(view):
    """J as a plotly heatmap: a row per output element from the top, a column per leaf element, 0 white."""
    rows, columns = len(view.rows), len(view.columns)
    finite = view.matrix[np.isfinite(view.matrix)]
    reach = float(np.abs(finite).max()) if finite.size else 1.0
    trace = {
        "type": "heatmap", "z": np.where(np.isfinite(view.matrix), view.matrix, np.nan),
        "x": list(view.columns), "y": list(view.rows), "colorscale": COLOURS, "zmid": 0.0,
        "zmin": -reach or -1.0, "zmax": reach or 1.0, "xgap": 1, "ygap": 1, "textfont": {"color": "#1f2430"},
        "hovertemplate": "d %{y} / d %{x} = %{z:.6g}<extra></extra>",
    }
    if rows * columns <= MAX_NUMBERED_CELLS:
        trace["texttemplate"] = "%{z:.4~g}"  # d3's ~: 60, not 60.00
    layout = {
        "template": _NO_THEME,
        "height": min(640, 140 + 28 * rows),
        "margin": {"l": 80, "r": 30, "t": 50, "b": 70},
        "title": {"text": f"J = d {view.output} / d {view.leaf}: {rows} × {columns}", "x": 0, "xref": "paper"},
        "xaxis": {"title": {"text": f"element of {view.leaf} (column)"}, "type": "category", "side": "bottom"},
        "yaxis": {"title": {"text": f"element of {view.output} (row)"}, "type": "category",
                  "autorange": "reversed"},
    }
    return SpecFigure({"data": [trace], "layout": layout})


@dataclass(frozen=True)
class OnePass:
    """J's column for the chosen leaf element by one forward-mode pass, and one row by one backward pass."""

    column_label: str  # "x[0, 2]"
    column: np.ndarray  # J·u, u one-hot at the element: flat, one number per output element
    row_label: str  # "z[0, 2]": the output element with the same flat index, else the first
    row: np.ndarray  # vᵀJ, v one-hot at that output element: flat, one number per leaf element
    backward_passes: int  # for the whole J: one per output element
    forward_passes: int  # for the whole J: one per leaf element


def one_pass_each(result, name, flat):
    """One jvp (forward mode) and one vjp (backward), each run on its own, for element `flat` of leaf `name`."""
    leaf = result.leaves[name]
    u = torch.zeros(leaf.numel(), dtype=leaf.dtype)
    u[flat] = 1.0
    column = jvp(result, {name: u.reshape(leaf.shape)}).double().flatten().numpy()
    row_index = flat if flat < result.output.numel() else 0
    v = torch.zeros(result.output.numel(), dtype=result.output.dtype)
    v[row_index] = 1.0
    row = vjp(result, name, v.reshape(result.output.shape)).double().flatten().numpy()
    output = result.program.output.name
    return OnePass(elements.label(name, tuple(leaf.shape), flat), column,
                   elements.label(output, tuple(result.output.shape), row_index), row,
                   result.output.numel(), leaf.numel())


def passes_sentence(one, leaf, output):
    """What each whole Jacobian costs for this program, in passes."""
    cheaper = "backward is cheaper" if one.backward_passes < one.forward_passes else (
        "forward is cheaper" if one.forward_passes < one.backward_passes else "the two cost the same")
    return (f"The whole J takes **{one.backward_passes} backward passes** (reverse mode: a row per element of "
            f"`{output}`, what `torch.func.jacrev` batches) or **{one.forward_passes} forward passes** (forward "
            f"mode: a column per element of `{leaf}`, `torch.func.jacfwd`). Here {cheaper}"
            + (": a scalar loss is why training uses backward." if one.backward_passes == 1 else "."))
