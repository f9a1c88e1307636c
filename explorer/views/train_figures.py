"""Training as the page shows it: the loss curve, the path of each trained element, and one step's p, p.grad and
the update the optimizer made, from explorer.engine.training's Training (torch.optim's own numbers).

A run that trains one element in all (x = 0.0 with loss = (x - 3)**2, or a single weight) draws its path along
the function's own curve: the loss as that element varies, the others held, sampled as the tangent plot samples
it (explorer.views.plot, sized by explorer.engine.cost.curve_plan), and each step a point on it.
"""

import numpy as np
import torch

from explorer.engine import elements
from explorer.engine.cost import curve_plan
from explorer.engine.printing import tensor_repr
from explorer.views.plot import out_of_element

MAX_PATHS = 24  # trained elements drawn as paths; more are summed up in the caption


def trained_elements(training):
    """Every trained element: (name, flat index, label), in the Training's order."""
    shapes = {name: tuple(value.shape) for name, value in training.values[0].items()}
    return [(name, flat, elements.label(name, shape, flat))
            for name, shape in shapes.items() for flat in range(int(np.prod(shape, dtype=np.int64)))]


def loss_spec(training, log=False):
    """The loss before any update, then after each: a point per step, on a log scale if asked."""
    steps = list(range(len(training.losses)))
    losses = [loss if np.isfinite(loss) else None for loss in training.losses]
    layout = {"title": {"text": f"loss: {_number(training.losses[0])} → {_number(training.losses[-1])}", "x": 0},
              "height": 340, "margin": {"l": 60, "r": 20, "t": 50, "b": 45},
              "xaxis": {"title": {"text": "step"}},
              "yaxis": {"title": {"text": "loss"}, "type": "log" if log else "linear"}}
    return {"data": [{"type": "scatter", "x": steps, "y": losses, "mode": "lines+markers", "name": "loss"}],
            "layout": layout}


def _number(value):
    return f"{value:.6g}"


def path_spec(training, along=None):
    """Each trained element's value at each step; for a run of one element, `along` (from curve_along) draws
    the function's curve with the steps as points on it."""
    if along is not None:
        (name, flat, label), = trained_elements(training)
        values = [float(value[name].reshape(-1)[flat]) for value in training.values]
        data = [{"type": "scatter", "x": along[0], "y": along[1], "mode": "lines", "name": "loss"},
                {"type": "scatter", "x": values, "y": list(training.losses), "mode": "lines+markers",
                 "name": "steps", "marker": {"size": 8}}]
        axes = {"xaxis": {"title": {"text": label}}, "yaxis": {"title": {"text": "loss"}}}
        title = f"the path of {label} down the loss"
    else:
        data = []
        for name, flat, label in trained_elements(training)[:MAX_PATHS]:
            data.append({"type": "scatter", "x": list(range(len(training.values))), "mode": "lines", "name": label,
                         "y": [float(value[name].reshape(-1)[flat]) for value in training.values]})
        axes = {"xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": "value"}}}
        title = "the path of each trained element"
    layout = {"title": {"text": title, "x": 0}, "height": 340, "margin": {"l": 60, "r": 20, "t": 50, "b": 45}, **axes}
    return {"data": data, "layout": layout}


def curve_along(exploration, training, reduction):
    """The loss as the one trained element varies over its path (padded by a tenth each side): (t, loss) as
    lists, or None when more than one element is trained or the samples would be over the plot's limit."""
    found = trained_elements(training)
    if len(found) != 1:
        return None
    (name, flat, _), = found
    visited = np.array([float(value[name].reshape(-1)[flat]) for value in training.values])
    visited = visited[np.isfinite(visited)]
    plan = curve_plan(exploration.program, exploration.cost.elements, exploration.work)
    if not plan.samples or not visited.size:
        return None
    pad = max(0.1 * (visited.max() - visited.min()), 0.5)
    t = torch.linspace(visited.min() - pad, visited.max() + pad, plan.samples, dtype=torch.float32)
    out = out_of_element(exploration, name, flat, reduction)
    with torch.no_grad():
        losses = torch.func.vmap(out, chunk_size=plan.chunk)(t).double().numpy()
    return t.double().numpy().tolist(), [value if np.isfinite(value) else None for value in losses.tolist()]


def step_lines(training, step):
    """Step `step` of the run as a course prints it: p, p.grad, and the update p(after) − p(before) that the
    optimizer made; the last point (no update after it) shows the values alone."""
    lines = []
    if step < len(training.grads):
        lines.append(f"# step {step}: loss {_number(training.losses[step])} -> {_number(training.losses[step + 1])}")
    else:
        lines.append(f"# after {step} steps: loss {_number(training.losses[step])}")
    for name in training.params:
        before = training.values[step][name]
        lines.append(f"{name} = {tensor_repr(before)}")
        if step < len(training.grads):
            lines.append(f"{name}.grad = {tensor_repr(training.grads[step][name])}")
            lines.append(f"update = {tensor_repr(training.values[step + 1][name] - before)}")
    return lines


def trained_lines(training):
    """The values the run ends with, each as torch prints it."""
    return [f"{name} = {tensor_repr(value)}" for name, value in training.values[-1].items()]
