"""The engine's one way in: explore(x_text, layers_text) -> Exploration."""

from dataclasses import dataclass

import torch

from .backward import run_reduction
from .forward import run_forward
from .language import REDUCTIONS
from .parse import parse_layers, parse_x
from .tree import Program


@dataclass(frozen=True)
class Exploration:
    x: torch.Tensor  # float32, as parsed
    program: Program
    layers: dict  # layer name -> forward value (detached)
    layer_reprs: dict  # layer name -> as torch prints it, grad_fn included
    reductions: dict  # "sum" / "mean" / "ones_like" -> backward.Reduction
    warnings: tuple  # plain sentences about inf and nan

    @property
    def output(self):
        return self.layers[self.program.output.name]

    @property
    def grads(self):
        """x.grad for each way of starting backward, shaped like x."""
        return {name: reduction.grad for name, reduction in self.reductions.items()}

    @property
    def dot(self):
        """torchviz's DOT source of the output's graph."""
        return self.reductions["ones_like"].dot

    @property
    def nbytes(self):
        """Bytes held in tensors: what caching this result costs."""
        return sum(t.nbytes for t in _tensors(self))

    @property
    def scalar_output(self):
        return self.output.numel() == 1


def _tensors(value):
    """Every tensor inside a result, however nested in dataclasses, dicts and tuples."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__)


def _first_bad(tensor):
    """Index of the first inf or nan, as a tuple, or None."""
    bad = (~torch.isfinite(tensor)).nonzero()
    return None if len(bad) == 0 else tuple(bad[0].tolist())


def _non_finite_warnings(program, layers, reductions):
    found = []
    for layer in program.layers:
        where = _first_bad(layers[layer.name])
        if where is not None:
            found.append(f"layer {layer.name} (line {layer.line}) produced inf or nan, first at x{list(where)}")
            break
    for name, reduction in reductions.items():
        if _first_bad(reduction.grad) is not None:
            found.append(f"x.grad under {name} holds inf or nan")
    return tuple(found)


def explore(x_text, layers_text):
    """Parse both fields, run the forward pass, and backward in all three ways.

    Raises FormulaError (a ValueError) for any bad input, before doing the
    work the input would cost.
    """
    program = parse_layers(layers_text)
    x_values = parse_x(x_text)
    x = x_values.clone().requires_grad_(True)
    forward = run_forward(program, x)
    names = program.names
    reductions = {name: run_reduction(program, x_values, name) for name in REDUCTIONS}
    layers = {name: forward[name].detach().clone() for name in names}
    return Exploration(
        x=x_values,
        program=program,
        layers=layers,
        layer_reprs={name: repr(forward[name]) for name in names},
        reductions=reductions,
        warnings=_non_finite_warnings(program, layers, reductions),
    )
