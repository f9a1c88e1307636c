"""The formula language's vocabulary: one table from name to torch, numpy, sympy and LaTeX.

Every function is elementwise, so each element of every layer depends only on
the same element of x. The plot, the symbolic maths and the finite differences
all rely on that: d out / d x_i = weight * f'(x_i).
"""

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Function:
    torch_path: str  # where torch keeps it: "torch.sin", "torch.nn.functional.softplus"
    numpy: Callable  # float64 -> float64, for folding constants such as sin(pi)
    sympy: Callable  # (sympy module, expr) -> expr
    latex: str  # how the name prints, before its parenthesised argument
    note: str  # one line for the README and the page's help

    @property
    def torch(self):
        """The torch function, imported on first use: the symbolic worker never loads torch (~200 MB)."""
        module, _, name = self.torch_path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _relu_sympy(sp, u):
    # Piecewise, not Max: its derivative is 0 at u=0, as torch's relu backward gives.
    return sp.Piecewise((0, u <= 0), (u, True))


FUNCTIONS = {
    "sin": Function("torch.sin", np.sin, lambda sp, u: sp.sin(u), r"\sin", "sine"),
    "cos": Function("torch.cos", np.cos, lambda sp, u: sp.cos(u), r"\cos", "cosine"),
    "tan": Function("torch.tan", np.tan, lambda sp, u: sp.tan(u), r"\tan", "tangent"),
    "exp": Function("torch.exp", np.exp, lambda sp, u: sp.exp(u), r"\exp", "e to the power"),
    "log": Function("torch.log", np.log, lambda sp, u: sp.log(u), r"\log", "natural logarithm"),
    "sqrt": Function("torch.sqrt", np.sqrt, lambda sp, u: sp.sqrt(u), r"\sqrt", "square root"),
    "abs": Function("torch.abs", np.abs, lambda sp, u: sp.Abs(u), r"\operatorname{abs}", "absolute value"),
    "tanh": Function("torch.tanh", np.tanh, lambda sp, u: sp.tanh(u), r"\tanh", "hyperbolic tangent"),
    "sinh": Function("torch.sinh", np.sinh, lambda sp, u: sp.sinh(u), r"\sinh", "hyperbolic sine"),
    "cosh": Function("torch.cosh", np.cosh, lambda sp, u: sp.cosh(u), r"\cosh", "hyperbolic cosine"),
    "sigmoid": Function(
        "torch.sigmoid", lambda u: 1 / (1 + np.exp(-u)), lambda sp, u: 1 / (1 + sp.exp(-u)), r"\sigma",
        "1 / (1 + exp(-u))",
    ),
    "relu": Function(
        "torch.relu", lambda u: np.maximum(u, 0.0), _relu_sympy, r"\operatorname{relu}", "max(0, u); slope 0 at 0"
    ),
    "softplus": Function(
        "torch.nn.functional.softplus",
        lambda u: np.where(u > 20, u, np.log1p(np.exp(u))),  # torch's default threshold of 20
        lambda sp, u: sp.log(1 + sp.exp(u)),
        r"\operatorname{softplus}",
        "log(1 + exp(u))",
    ),
}

CONSTANTS = {
    "pi": (math.pi, lambda sp: sp.pi, r"\pi"),
    "e": (math.e, lambda sp: sp.E, r"e"),
}

# Operators: ast operator class name -> the symbol users write.
BINARY_OPERATORS = {"Add": "+", "Sub": "-", "Mult": "*", "Div": "/", "Pow": "**"}
UNARY_OPERATORS = {"USub": "-", "UAdd": "+"}

# How each way starts backward, as the notebooks write it; {z} is the output layer's name.
REDUCTIONS = {
    "sum": "out = {z}.sum()\nout.backward()",
    "mean": "out = {z}.mean()\nout.backward()",
    "ones_like": "{z}.backward(gradient=torch.ones_like({z}))",
}

INPUT_NAME = "x"
RESERVED_NAMES = frozenset({INPUT_NAME, *FUNCTIONS, *CONSTANTS})
