"""The formula language's vocabulary: one row per function, constant, operator and reduction.

Each row carries every backend's form of its word (torch, numpy, sympy, LaTeX,
Python text), so a new word is one row here, and each backend is a fold over
the tree (tree.fold) that looks its words up in these tables. Nothing here
imports torch: the symbolic worker reads these tables and never loads it.

Every function in FUNCTIONS and every operator but `@` is elementwise. A program
that reads only x through them ("elementwise in x", tree.is_elementwise) has
each element of every layer depend on the same element of x alone, and the
plot, the symbolic maths and the finite differences take the fast road that
gives: d out / d x_i = weight * f'(x_i). Leaves (`w = [1, 2]`), `@`, the
TENSOR_FUNCTIONS (detach, sum, mean) and detached literals break that
assumption, and the views take their general road (one element at a time).
"""

import importlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

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


@dataclass(frozen=True)
class Constant:
    value: float
    sympy: Callable  # (sympy module) -> the exact constant
    latex: str


@dataclass(frozen=True)
class Operator:
    ast: str  # the class Python's ast gives it: "Add", "USub"
    precedence: int  # how tightly it binds, as in Python: + 1, * 2, unary minus 3, ** 4
    text: str  # as Python writes it, over the operands {0} and {1}
    torch: Callable  # on tensors, as the user's Python would apply it
    numpy: Callable  # on float64, for folding constants: overflow gives inf, not an error
    sympy: Callable  # on sympy expressions
    latex: str  # as LaTeX writes it, over {0} and {1}
    note: str  # a word for people
    right_associative: bool = False
    latex_precedence: int | None = None  # where LaTeX groups otherwise than Python


def _not_symbolic(*operands):
    """The sympy form of a word with no elementwise sympy form (@, sum, mean): a program that uses one is not
    elementwise (tree.is_elementwise), so the symbolic maths takes the per-element road
    (explorer.symbolic.leaves), which has numpy's own matmul and reductions; never reached from the page."""
    raise NotImplementedError("no symbolic form yet")


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

def _same(u):
    """The operand itself: unary plus, and detach, sum or mean of one float (torch gives back the same tensor)."""
    return u


@dataclass(frozen=True)
class TensorFunction:
    """A call that is not elementwise: it stops the gradient, or reduces a tensor to a scalar."""

    torch_path: str  # torch's function of the same name: torch.detach, torch.sum, torch.mean
    numpy: Callable  # on one float: a constant is a scalar, so each of these gives it back
    latex: str
    note: str

    @property
    def torch(self):
        module, _, name = self.torch_path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    sympy = staticmethod(_not_symbolic)


TENSOR_FUNCTIONS = {
    "detach": TensorFunction(
        "torch.detach", _same, r"\operatorname{detach}",
        "no gradient flows through; a list inside it is a constant tensor, such as a target",
    ),
    "sum": TensorFunction("torch.sum", _same, r"\operatorname{sum}", "the sum of every element: a scalar"),
    "mean": TensorFunction("torch.mean", _same, r"\operatorname{mean}", "the mean of every element: a scalar"),
}
# Every name a formula may call.
CALLS = {**FUNCTIONS, **TENSOR_FUNCTIONS}

CONSTANTS = {
    "pi": Constant(math.pi, lambda sp: sp.pi, r"\pi"),
    "e": Constant(math.e, lambda sp: sp.E, r"e"),
}


# One row per operator. Precedence as Python's grammar has it; atoms (numbers, names, calls) bind tightest.
# `text` is Python's (and the exported torch script's) spelling, `latex` LaTeX's, both over the operands
# {0} and {1}; an operand inside the template's own braces ({{{0}}}) needs no brackets.
BINARY = {
    "+": Operator("Add", 1, "{0} + {1}", operator.add, np.add, operator.add, "{0} + {1}", "addition"),
    "-": Operator("Sub", 1, "{0} - {1}", operator.sub, np.subtract, operator.sub, "{0} - {1}", "subtraction"),
    "*": Operator("Mult", 2, "{0}*{1}", operator.mul, np.multiply, operator.mul, r"{0} \cdot {1}", "product"),
    "/": Operator(
        "Div", 2, "{0}/{1}", operator.truediv, np.divide, operator.truediv, r"\frac{{{0}}}{{{1}}}", "quotient",
        latex_precedence=3,  # a fraction bar groups its parts: x \cdot \frac{1}{2} needs no brackets
    ),
    "**": Operator(
        "Pow", 4, "{0}**{1}", operator.pow, np.power, operator.pow, "{0}^{{{1}}}", "power",
        right_associative=True,  # 2**3**2 is 2**(3**2)
    ),
    # torch.matmul, with torch's shape rules (explorer.engine.shapes checks them before any tensor is made).
    "@": Operator(
        "MatMult", 2, "{0} @ {1}", operator.matmul, np.matmul, _not_symbolic, r"{0} \, {1}", "matrix product",
    ),
}
UNARY = {
    "-": Operator("USub", 3, "-{0}", operator.neg, np.negative, operator.neg, "-{0}", "negation"),
    "+": Operator("UAdd", 3, "+{0}", _same, _same, _same, "+{0}", "unary plus: the operand itself"),
}
ATOM_PRECEDENCE = 9  # numbers, names and calls: never bracketed

# For the parser: ast operator class name -> the symbol users write.
BINARY_OPERATORS = {row.ast: symbol for symbol, row in BINARY.items()}
UNARY_OPERATORS = {row.ast: symbol for symbol, row in UNARY.items()}


@dataclass(frozen=True)
class ReductionRule:
    """One way of starting backward from the output layer z.

    Every way is a vector-Jacobian product: backward carries a seed v (shaped like z) back through J, and
    each leaf's .grad is vᵀJ. sum and ones_like seed ones, mean 1/N, and "vector" the caller's own v.
    """

    code: str  # as the notebooks write it; {z} is the output layer's name, v the given vector
    scalar: str | None  # the tensor method that makes the scalar out ("sum", "mean"); None: backward from z itself
    divides: bool  # out divides by z's element count N, so d out / d z_i is 1/N
    given: bool = False  # the seed is a vector the caller gives (explore's `vector`), not ones

    def weight(self, count):
        """d out / d z_i, exactly: 1/N for mean over N elements, 1 for sum and for ones_like's seed of ones.
        A given vector has no one weight: d out / d z_i is v_i."""
        if self.given:
            raise ValueError("a given vector weighs each element by its own v_i, not by one number")
        return Fraction(1, max(1, count)) if self.divides else Fraction(1)

    def out(self, z):
        """The tensor backward starts from: the scalar out, or z itself (then seeded with ones or v)."""
        return getattr(z, self.scalar)() if self.scalar else z

    def seed(self, root, vector=None):
        """The gradient= that backward is called with on `root` (self.out(z)): None for a scalar out, which
        torch seeds with 1; the given vector; else ones like z."""
        if self.given:
            if vector is None:
                raise ValueError("this way of starting backward needs a vector")
            return vector
        return None if self.scalar else root.new_ones(root.shape)


# Every way of starting backward, one row each. The first three run for every exploration; a "given" row runs
# only when its vector is given (explore(..., vector=...)). ones_like is the vector of ones, mean the vector 1/N.
ALL_REDUCTIONS = {
    "sum": ReductionRule("out = {z}.sum()\nout.backward()", "sum", divides=False),
    "mean": ReductionRule("out = {z}.mean()\nout.backward()", "mean", divides=True),
    "ones_like": ReductionRule("{z}.backward(gradient=torch.ones_like({z}))", None, divides=False),
    "vector": ReductionRule("{z}.backward(gradient=v)", None, divides=False, given=True),
}
# The ways every exploration has: what the views and the page iterate.
REDUCTIONS = {name: rule for name, rule in ALL_REDUCTIONS.items() if not rule.given}

INPUT_NAME = "x"
RESERVED_NAMES = frozenset({INPUT_NAME, *CALLS, *CONSTANTS})


def name_latex(name):
    """A layer name as itself: one letter in math italic like the notebooks' y, longer names upright,
    so `alpha` never turns into a Greek letter nor `lambda_1` into λ₁."""
    if not (name.isascii() and name.isidentifier()):
        raise ValueError(f"not a layer name: {name!r}")
    return name if len(name) == 1 and name.isalpha() else r"\mathrm{" + name.replace("_", r"\_") + "}"
