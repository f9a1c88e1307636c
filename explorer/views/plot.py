"""The function and its tangent: out as one element of x varies, the others held fixed.

Every layer is elementwise in x, so moving element i changes only output
element i: out(t) = sum over j of w_j z_j with z_i = f(t), with w = 1/N for
the mean, v_j for a given vector v (z.backward(gradient=v) is the gradient of
(v * z).sum()), and 1 otherwise. One batched forward pass over all sample points gives
f(t), and one backward pass gives f'(t) at all of them, so the figure carries
a tangent for every slider position and moving the point needs no server.

When the other outputs hold inf or nan, their sum would make every sample
nan; the curve then shows the element's own term w * f(t), which has the same
slope, and the title says so.

A program with leaves, @, detach, sum or mean is not elementwise in x: there the
curve is the whole out as one element of one leaf varies (explorer.engine.elements
numbers them), every sample a forward pass of its own, batched with
torch.func.vmap, and its slope torch.func.grad of the same function. Every
detach(...) is held at its value, as autograd sees it, so the tangent touches
the curve. Each sample holds the whole program's intermediates, so that road is
sized first (explorer.engine.cost.curve_plan): vmap runs in chunks that fit
limits.CURVE_CHUNK_BYTES, and a program whose samples together would exceed
limits.MAX_CURVE_WORK gets fewer samples, down to limits.MIN_PLOT_SAMPLES, or no
curve (a FormulaError for the plot alone).
"""

from dataclasses import dataclass

import numpy as np
import plotly.io as pio
import torch
from plotly.basedatatypes import BaseFigure

from explorer.engine import elements, limits
from explorer.engine.cost import curve_plan
from explorer.engine.errors import FormulaError
from explorer.engine.forward import run_forward
from explorer.engine.language import ALL_REDUCTIONS, INPUT_NAME
from explorer.engine.tree import is_elementwise


@dataclass(frozen=True)
class Curve:
    label: str  # "x[0, 1]", or "x" for a scalar
    t: np.ndarray  # sample points for the element
    out: np.ndarray  # out(t)
    slope: np.ndarray  # d out / d t at each sample
    centre: int  # index of the sample at the element's own value
    value: float  # the element's value
    out_value: float  # out at the element's value
    grad: float  # autograd's x.grad for the element: the tangent's slope
    own_term_only: bool  # the other elements' outputs are not finite, so out(t) is w * f(t) alone


def element_label(shape, flat_index, name=INPUT_NAME):
    return elements.label(name, shape, flat_index)


def _samples(value, count=limits.PLOT_SAMPLES):
    span = max(1.0, 0.5 * abs(value))
    half = count // 2
    offsets = np.linspace(-span, span, 2 * half + 1)
    offsets[half] = 0.0  # the centre sample is exactly the element's value
    return torch.tensor(value + offsets, dtype=torch.float32), half


def _f_and_slope(program, t):
    """f(t) and f'(t) for the output layer at every sample, in one forward and one backward pass."""
    t = t.clone().requires_grad_(True)
    f = run_forward(program, t)[program.output.name]
    if f.requires_grad:
        (slope,) = torch.autograd.grad(f.sum(), t)  # elementwise: d sum f / d t_k = f'(t_k)
    else:
        slope = torch.zeros_like(t)
    return f.detach().double().numpy(), slope.double().numpy()


def tangent_curve(exploration, flat_index, reduction):
    """The curve, and its slopes, of `reduction`'s scalar out as element `flat_index` varies: of x, or, for a
    program with leaves, of the one numbering of explorer.engine.elements, sized by curve_plan (the samples and
    chunks the exploration's Cost counted)."""
    if not is_elementwise(exploration.program):  # the fast path below holds only for elementwise programs
        plan = curve_plan(exploration.program, exploration.cost.elements, exploration.work)
        if not plan.samples:
            raise FormulaError(
                f"the plot would run the whole program {limits.MIN_PLOT_SAMPLES} times ({exploration.work:,} "
                f"element-operations each), over the plot's limit of {limits.MAX_CURVE_WORK:,}; everything else "
                "on the page still holds")
        return _leaf_curve(exploration, flat_index, reduction, plan)
    x, program = exploration.x, exploration.program
    output = exploration.output.double().flatten()
    rule = ALL_REDUCTIONS[reduction]  # a given v weighs output element i (x's element i) by v_i: out = sum v * z
    weight = float(exploration.vector.flatten()[flat_index]) if rule.given else float(rule.weight(x.numel()))
    value = float(x.flatten()[flat_index])
    t, centre = _samples(value)
    f, slope = _f_and_slope(program, t)
    weighted = output * (exploration.vector.double().flatten() if rule.given else weight)
    others = float(weighted.sum() - weighted[flat_index])  # the other elements' terms of out, held still
    own_term_only = not np.isfinite(others)
    with np.errstate(all="ignore"):
        out = weight * f if own_term_only else others + weight * f
    return Curve(
        label=element_label(tuple(x.shape), flat_index),
        t=t.double().numpy(),
        out=out,
        slope=weight * slope,
        centre=centre,
        value=value,
        out_value=float(out[centre]),
        grad=float(exploration.grads[reduction].flatten()[flat_index]),
        own_term_only=own_term_only,
    )


def out_of_element(exploration, name, flat, reduction):
    """out as a function of one element of one leaf, the others held at their values."""
    program, leaves = exploration.program, exploration.leaves
    base = leaves[name].flatten()
    onehot = torch.zeros_like(base)
    onehot[flat] = 1.0
    scalar = ALL_REDUCTIONS[reduction].scalar or "sum"  # ones_like seeds ones: the slope of z.sum()
    seed = exploration.vector if ALL_REDUCTIONS[reduction].given else None  # v's slope: of (v * z).sum()
    frozen = {}  # detach(...) held at its value, as autograd sees it: the tangent touches the curve
    with torch.no_grad():
        run_forward(program, leaves[INPUT_NAME], leaves={k: v for k, v in leaves.items() if k != INPUT_NAME},
                    frozen=frozen)

    def out(t):
        tensors = dict(leaves)
        tensors[name] = (base + onehot * (t - base[flat])).reshape(leaves[name].shape)
        x = tensors.pop(INPUT_NAME)
        z = run_forward(program, x, leaves=tensors, frozen=frozen)[program.output.name]
        return getattr(z if seed is None else z * seed, scalar)()

    return out


def _leaf_curve(exploration, index, reduction, plan):
    name, flat = elements.locate(exploration, index)
    value = elements.value_at(exploration, index)
    t, centre = _samples(value, plan.samples)
    out = out_of_element(exploration, name, flat, reduction)
    with torch.no_grad():  # each chunk of samples holds its own copy of every intermediate tensor
        values = torch.func.vmap(out, chunk_size=plan.chunk)(t)
    slopes = torch.func.vmap(torch.func.grad(out), chunk_size=plan.chunk)(t)
    values, slopes = values.detach().double().numpy(), slopes.detach().double().numpy()
    return Curve(
        label=elements.element_label(exploration, index),
        t=t.double().numpy(),
        out=values,
        slope=slopes,
        centre=centre,
        value=value,
        out_value=float(values[centre]),
        grad=elements.grad_at(exploration, reduction, index),
        own_term_only=False,
    )


def _tangent_segment(curve, k):
    span = (curve.t[-1] - curve.t[0]) / 4
    ts = np.array([curve.t[k] - span, curve.t[k] + span])
    slope = _slope(curve, k)
    with np.errstate(all="ignore"):  # inf and nan draw as gaps
        return ts, curve.out[k] + slope * (ts - curve.t[k])


def _y_range(out):
    """Zoom past poles: when a few samples dwarf the rest, show the central 96%."""
    finite = out[np.isfinite(out)]
    if finite.size < 2:
        return None
    low, high = np.percentile(finite, [2, 98])
    if finite.max() - finite.min() <= 10 * max(high - low, 1e-12):
        return None
    pad = 0.1 * max(high - low, 1e-6)
    return [low - pad, high + pad]


def _slope(curve, k):
    return curve.grad if k == curve.centre else curve.slope[k]


def _title(curve, reduction, k):
    """The slope first, so a narrow plot cuts the words after it, never the number."""
    if curve.own_term_only:
        what = f"{curve.label}'s own term of out ({reduction}):<br>the other elements are inf or nan"
    else:
        what = f"out ({reduction}) as {curve.label} varies"
    return f"slope at the point = {_slope(curve, k):.6g}<br><sub>{what}</sub>"


def _slider(curve, reduction):
    """Slider steps that move the point, its tangent and the title's slope in the browser: no rerun.

    "update" rather than "restyle": the same trace change, plus the title's text (a cheap relayout).
    """
    positions = np.linspace(0, len(curve.t) - 1, limits.PLOT_SLIDER_STEPS).round().astype(int)
    steps = []
    for k in positions:
        ts, ys = _tangent_segment(curve, k)
        steps.append(
            {
                "method": "update",
                "label": f"{curve.t[k]:.3g}",
                "args": [
                    {"x": [ts.tolist(), [float(curve.t[k])]], "y": [ys.tolist(), [float(curve.out[k])]]},
                    {"title.text": _title(curve, reduction, k)},
                    [1, 2],
                ],
            }
        )
    active = int(np.argmin(np.abs(positions - curve.centre)))
    return [{"active": active, "steps": steps, "currentvalue": {"prefix": f"{curve.label} = "}, "pad": {"t": 40}}]


def _finite_or_nan(values):
    return np.where(np.isfinite(values), values, np.nan)


_NO_THEME = pio.templates["none"].to_plotly_json()  # plotly's "none" template, resolved once


def figure_spec(curve, reduction, present=False):
    """The plotly figure as plain data: the curve, the tangent at the element's value, the point, a slider."""
    ts, ys = _tangent_segment(curve, curve.centre)
    data = [
        {"type": "scatter", "x": curve.t, "y": _finite_or_nan(curve.out), "mode": "lines", "name": "out",
         "line": {"width": 3}},
        {"type": "scatter", "x": ts, "y": ys, "mode": "lines", "name": "tangent", "line": {"dash": "dash", "width": 2}},
        {"type": "scatter", "x": [curve.value], "y": [curve.out_value], "mode": "markers", "name": "point",
         "marker": {"size": 12, "symbol": "circle"}},
    ]
    layout = {
        "template": _NO_THEME,
        "height": 560 if present else 460,
        # The top margin holds the title and, under it, the legend: neither covers the curve. The right
        # margin holds plotly's toolbar, turned upright so that it never covers the title.
        "margin": {"l": 60, "r": 45, "t": 110, "b": 40},
        "title": {"text": _title(curve, reduction, curve.centre), "x": 0, "xref": "paper", "xanchor": "left",
                  "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12},
                  "font": {"weight": 600}},  # set here, or a slider step redraws it in normal weight
        "modebar": {"orientation": "v"},
        # Fixed margins: automargin made plotly re-measure the page on every redraw (~37 ms in Chromium).
        "xaxis": {"title": {"text": curve.label}, "automargin": False},
        "yaxis": {"title": {"text": "out"}, "automargin": False},
        "sliders": _slider(curve, reduction),
        # No legend background: the text takes the theme's colour, and a fixed light box under light
        # dark-theme text could not be read.
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
                   "bgcolor": "rgba(0,0,0,0)"},
    }
    y_range = _y_range(curve.out)
    if y_range is not None:
        layout["yaxis"]["range"] = y_range
    if present:  # a projector: every text larger, the title most (each set on its own: Streamlit's theme
        # sets them, and a figure-wide font would not reach them); short, beside the graph, no legend
        # and no slider: the element selector moves the point
        layout.update(height=220, showlegend=False, margin={"l": 60, "r": 40, "t": 50, "b": 45})
        del layout["sliders"]
        layout["title"]["text"] = f"slope at the point = {_slope(curve, curve.centre):.6g}"
        layout["font"] = {"size": 18}
        layout["title"]["font"]["size"] = 24
        layout["legend"]["font"] = {"size": 18}
        for axis in (layout["xaxis"], layout["yaxis"]):
            axis["tickfont"] = {"size": 16}
            axis["title"]["font"] = {"size": 18}
    return {"data": data, "layout": layout}


class SpecFigure(BaseFigure):
    """A finished figure spec, in the one form st.plotly_chart takes without checking it again.

    Given a dict, st.plotly_chart validates it property by property (about 50 ms a figure). A plotly
    Figure it takes as checked, but making one deep-copies the spec, and its to_dict() copies it again,
    turning arrays into base64: 1.5 ms of a 20 ms fresh edit, and 1 ms of every other rerun. The spec
    is ours, and tests/test_plot.py checks both that plotly's validation leaves it unchanged and that
    st.plotly_chart sends it as is; Streamlit calls nothing on a figure but to_dict().
    """

    def __init__(self, spec):  # BaseFigure.__init__ is the copy this class exists to skip
        self._spec = spec

    def to_dict(self):
        return self._spec


def tangent_figure(curve, reduction, present=False):
    """figure_spec, ready for st.plotly_chart."""
    return SpecFigure(figure_spec(curve, reduction, present))
