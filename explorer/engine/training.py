"""Training: gradients put to use by torch.optim, a step at a time, with every step kept for the page.

The loss is the output reduced as a way of starting backward reduces it: z.sum() ("sum", and
"ones_like", whose gradient is the same) or z.mean() ("mean"). Each step is what a course's training
loop writes: optimizer.zero_grad(), a forward pass, loss.backward(), optimizer.step(). The update is
torch.optim's own, never written out here, so what the page shows is what PyTorch does.
"""

import math
import numbers
import operator
from dataclasses import dataclass

import torch

from explorer.engine import limits
from explorer.engine.errors import FormulaError
from explorer.engine.exploration import prepare
from explorer.engine.forward import leaf_tensors, run_forward
from explorer.engine.language import INPUT_NAME

# Each optimizer as the notebooks build it, from the parameters and the learning rate.
OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}
LOSSES = {"sum": "sum", "ones_like": "sum", "mean": "mean"}  # reduction -> the tensor method that makes the loss


@dataclass(frozen=True)
class Training:
    params: tuple  # the names trained, x first if it is among them, then in declaration order
    losses: tuple  # floats: the loss before any update, then after each (steps + 1, fewer if it diverged)
    values: tuple  # one dict per loss: trained name -> its value when that loss was computed
    grads: tuple  # one dict per update: trained name -> its .grad at that step (zeros where none reaches it)
    note: str  # "" or "diverged at step k": losses[k] is inf or nan, and the run stopped there


def _steps(steps):
    try:
        count = operator.index(steps)
    except TypeError:
        count = None
    if count is None or isinstance(steps, bool) or not 0 <= count <= limits.MAX_TRAIN_STEPS:
        raise FormulaError(f"steps must be a whole number from 0 to {limits.MAX_TRAIN_STEPS}, not {steps!r}",
                           field="steps")
    return count


def _lr(lr):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise FormulaError(f"the learning rate must be a finite number above 0, not {lr!r}", field="lr")
    return float(lr)


def _choice(value, table, field, what):
    if not isinstance(value, str) or value not in table:
        raise FormulaError(f"unknown {what} {value!r}; known: {', '.join(table)}", field=field)
    return value


def _params(program, params):
    """The names to train: every declared leaf, or x when there is none; else the given names, checked."""
    if params is None:
        return tuple(leaf.name for leaf in program.leaves) or (INPUT_NAME,)
    names = (params,) if isinstance(params, str) else tuple(params)
    unknown = [name for name in names if name not in program.leaf_names]
    if unknown or not names:
        raise FormulaError(f"cannot train {', '.join(map(repr, unknown)) or 'nothing'}; the leaves are"
                           f" {', '.join(program.leaf_names)}", field="params")
    return tuple(name for name in program.leaf_names if name in names)  # x first, then declaration order


def train(x_text, layers_text, steps=20, lr=0.1, reduction="sum", optimizer="sgd", params=None):
    """`steps` updates of the trained leaves by a torch.optim optimizer, from the values as written.

    params=None trains every declared leaf, or x when there is none: gradient descent on the function.
    Leaves not trained, and detach(...)'d values, stay as written. Every setting is checked, and the
    steps times (the program's work plus the trained elements, kept at every step) against
    limits.MAX_WORK, before any work: anything wrong is a FormulaError. A loss that turns inf or nan
    stops the run with a note, not an exception."""
    steps, lr = _steps(steps), _lr(lr)
    _choice(reduction, LOSSES, "reduction", "way of reducing the output to a loss")
    _choice(optimizer, OPTIMIZERS, "optimizer", "optimizer")
    prepared = prepare(x_text, layers_text)
    program = prepared.program
    names = _params(program, params)
    tensors = {INPUT_NAME: prepared.x.clone(), **leaf_tensors(program)}
    trained = sum(tensors[name].numel() for name in names)
    if steps * (prepared.work + trained) > limits.MAX_WORK:
        raise FormulaError(
            f"{steps} steps of {prepared.work:,} element-operations and {trained:,} trained elements each are over"
            f" the limit of {limits.MAX_WORK:,}; use fewer steps, a smaller x or shorter layers", field="steps",
        )
    for name in names:
        tensors[name].requires_grad_(True)
    chosen = OPTIMIZERS[optimizer]([tensors[name] for name in names], lr)

    def loss():
        env = run_forward(program, tensors[INPUT_NAME], leaves={n: t for n, t in tensors.items() if n != INPUT_NAME})
        return getattr(env[program.output.name], LOSSES[reduction])()

    def snapshot(grad=False):
        return {name: _grad_or_zeros(tensors[name]) if grad else tensors[name].detach().clone() for name in names}

    losses, values, grads = [], [], []
    for step in range(steps + 1):
        chosen.zero_grad()
        out = loss()
        losses.append(out.item())
        values.append(snapshot())
        if not math.isfinite(losses[-1]):
            return Training(names, tuple(losses), tuple(values), tuple(grads), f"diverged at step {step}")
        if step == steps:
            break
        if out.requires_grad:  # else no trained leaf reaches the loss: no grad, and the optimizer skips them all
            out.backward()
        grads.append(snapshot(grad=True))
        chosen.step()
    return Training(names, tuple(losses), tuple(values), tuple(grads), "")


def _grad_or_zeros(tensor):
    return torch.zeros_like(tensor.detach()) if tensor.grad is None else tensor.grad.detach().clone()
