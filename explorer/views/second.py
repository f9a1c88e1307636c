"""Second derivatives as the page shows them: the Hessian as a heatmap over the labelled leaf elements, its
diagonal shaped like x when every layer is elementwise, and the sentence that says what the graph of backward is.

The numbers are torch's (explorer.engine.second_order.hessian); this module only lays them out.
"""

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine import elements
from explorer.engine.second_order import hessian
from explorer.engine.tree import is_elementwise
from explorer.views.plot import SpecFigure

NUMBERED_ELEMENTS = 12  # up to this many elements, each cell of the heatmap shows its number

DOUBLE_BACKWARD_WORDS = (
    "This is the graph of backward itself: `torch.autograd.grad(out, leaves, create_graph=True)` records the "
    "operations that compute each gradient, so every `.grad` (green) has a grad_fn of its own. Differentiating "
    "it once more gives the Hessian's rows."
)


@dataclass(frozen=True)
class SecondOrder:
    """The Hessian of `reduction`'s out over every leaf element, in the one numbering of explorer.engine.elements."""

    reduction: str
    labels: tuple  # "x[0, 1]", "w[2]", "b": one per row and column
    matrix: np.ndarray  # (n, n) float64 copy of torch's float32 Hessian
    diagonal: str  # for an elementwise program of x alone, d²out/dxᵢ² printed shaped like x; else ""


def second_order(exploration, reduction):
    """The Hessian and, for an elementwise program, its diagonal read as d²out/dxᵢ² (the rest is 0: an element
    reaches only its own output). Raises the engine's FormulaError over limits.MAX_HESSIAN_ELEMENTS or MAX_WORK."""
    matrix = hessian(exploration, reduction)
    diagonal = ""
    if is_elementwise(exploration.program) and not exploration.program.leaves:
        diagonal = repr(torch.diagonal(matrix).reshape(exploration.x.shape))
    return SecondOrder(reduction, tuple(elements.labels(exploration)), matrix.double().numpy(), diagonal)


def heatmap_spec(second):
    """The Hessian as a plotly heatmap, read like the matrix (row 0 on top), diverging around 0; the numbers
    written in the cells when there are few."""
    labels = list(second.labels)
    finite = second.matrix[np.isfinite(second.matrix)]
    reach = float(np.abs(finite).max()) if finite.size else 1.0
    heat = {"type": "heatmap", "z": second.matrix.tolist(), "x": labels, "y": labels, "colorscale": "RdBu",
            "zmin": -reach or -1.0, "zmax": reach or 1.0,
            "hovertemplate": "d²out / d%{y} d%{x} = %{z:.6g}<extra></extra>"}
    if len(labels) <= NUMBERED_ELEMENTS:
        heat["texttemplate"] = "%{z:.4~g}"
    side = min(640, 160 + 36 * len(labels))
    layout = {
        "title": {"text": f"Hessian of out ({second.reduction}): d²out / dvᵢ dvⱼ", "x": 0, "xanchor": "left"},
        "height": side, "margin": {"l": 80, "r": 20, "t": 50, "b": 80},
        "xaxis": {"type": "category", "side": "bottom", "tickangle": -45},
        "yaxis": {"type": "category", "autorange": "reversed"},
    }
    return {"data": [heat], "layout": layout}


def hessian_figure(second):
    """heatmap_spec, ready for st.plotly_chart."""
    return SpecFigure(heatmap_spec(second))
