"""The osculating parabola on the tangent plot: the second-order Taylor polynomial of out at the point,

    p(t) = out(v) + g (t - v) + h/2 (t - v)²,

with g autograd's gradient for the chosen element (the tangent's slope) and h = d²out/dvᵢ², the Hessian's
diagonal entry for that element. h comes from torch: a second autograd pass through the same function of one
element the plot draws (explorer.views.plot), never a finite difference. Where h ≠ 0 the parabola's vertex is
Newton's step v - g/h: where one step of Newton's method would go.
"""

import math

import numpy as np
import torch

from explorer.engine import elements
from explorer.engine.forward import run_forward
from explorer.engine.language import REDUCTIONS
from explorer.engine.tree import is_elementwise
from explorer.views.plot import out_of_element

NEWTON_REACH = 2  # Newton's step is marked, and the parabola drawn out to it, within this many plot widths


def curvature(exploration, index, reduction):
    """d²out/dvᵢ² for element `index` of the one numbering (explorer.engine.elements), the others held: torch's
    grad of its grad, with every detach(...) held at its value as autograd sees it. One double backward.

    An elementwise program is run on the element alone, as the plot's fast road does: out(t) is w·(the other
    outputs + f(t)), so h is w·f''(t), whatever x's size, and finite even where the other outputs are not."""
    name, flat = elements.locate(exploration, index)
    if is_elementwise(exploration.program):
        program = exploration.program
        weight = float(REDUCTIONS[reduction].weight(exploration.x.numel()))

        def out(t):
            return weight * run_forward(program, t)[program.output.name]
    else:
        out = out_of_element(exploration, name, flat, reduction)
    value = torch.tensor(elements.value_at(exploration, index), dtype=exploration.leaves[name].dtype)
    return float(torch.func.grad(torch.func.grad(out))(value))


def newton_step(value, grad, h):
    """v - g/h, or None where h is 0 or either is not finite: the parabola then has no vertex."""
    if h == 0 or not (math.isfinite(h) and math.isfinite(grad)):
        return None
    return value - grad / h


def parabola(curve, h, t):
    """p(t) at the points `t`: touches the curve at the point, with its value, slope and curvature."""
    d = np.asarray(t, dtype=np.float64) - curve.value
    with np.errstate(all="ignore"):
        return curve.out_value + curve.grad * d + 0.5 * h * d * d


def _near(curve, step):
    span = curve.t[-1] - curve.t[0]
    return curve.t[0] - NEWTON_REACH * span <= step <= curve.t[-1] + NEWTON_REACH * span


def with_parabola(spec, curve, h):
    """The plot's figure spec (explorer.views.plot.figure_spec) with the parabola and Newton's step added after
    its three traces, so the slider's updates of the tangent and the point (traces 1 and 2) still hold."""
    data = list(spec["data"])
    step = newton_step(curve.value, curve.grad, h)
    if step is not None and not _near(curve, step):
        step = None  # far off the plot: the caption gives it, a marker there would squeeze the curve to a line
    t = curve.t if step is None else np.linspace(min(curve.t[0], step), max(curve.t[-1], step), len(curve.t))
    data.append({"type": "scatter", "x": t, "y": parabola(curve, h, t), "mode": "lines",
                 "name": "parabola", "line": {"dash": "dot", "width": 2}})
    if step is not None:
        data.append({"type": "scatter", "x": [step], "y": [float(parabola(curve, h, [step])[0])],
                     "mode": "markers", "name": "Newton step",
                     "marker": {"size": 12, "symbol": "x"}})
    # Two more legend entries: a narrow plot wraps the legend onto another row, which the top margin makes room for.
    layout = dict(spec["layout"])
    if "sliders" in layout:  # not on a projector, whose plot has no legend
        layout["margin"] = {**layout["margin"], "t": layout["margin"]["t"] + 30}
        layout["height"] += 30
    return {"data": data, "layout": layout}


def parabola_words(curve, h):
    """One line under the plot: the curvature and, where there is one, Newton's step."""
    step = newton_step(curve.value, curve.grad, h)
    words = f"Parabola: h = d²out/d{curve.label}² = {h:.6g} at the point"
    if step is None:
        return words + "; h is 0 or not finite, so no Newton step."
    where = "(×)" if _near(curve, step) else "(off the plot)"
    return words + f"; Newton's step v − g/h = {curve.value:.6g} − ({curve.grad:.6g})/({h:.6g}) = {step:.6g} {where}."
