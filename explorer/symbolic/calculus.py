"""Symbolic derivatives with sympy, built from the parsed tree, never from text.

For an elementwise program x is one real symbol and each layer one more
symbol. For each layer we show its formula in the inputs it reads directly,
its local derivatives, and the chain rule summed over every path to x (the
total derivative), e.g. dz/dx = dz/dy · dy/dx = 4y · 3 = 12(3x + 2). For each
way of starting backward, d out / d x_i = weight · f'(x_i), with weight 1/N for
mean, and its value at every element of x. `describe` is the one entry: a
program with leaves, @, sum, mean or detach takes explorer.symbolic.leaves'
road instead, one symbol per element, in the same worker under the same budgets.

It runs in the symbolic worker process (explorer.symbolic.client), never in the
server: measurements of those budgets are in bench/ANALYSIS.md.
"""

from dataclasses import dataclass

import numpy as np
import sympy
from sympy.printing.precedence import PRECEDENCE, precedence

from explorer.engine.language import INPUT_NAME, REDUCTIONS, name_latex
from explorer.engine.tree import is_elementwise, names_used
from explorer.symbolic.derivation import Derivation, LayerMath, ReductionMath
from explorer.symbolic.leaves import TooManyElements, describe_leaves
from explorer.symbolic.sympy_tree import (
    TooLarge,
    Undefined,
    capped,
    check_built,
    check_defined,
    check_size,
    readable,
    substitute,
    to_sympy,
)

__all__ = ["describe"]

# ---------------------------------------------------------------- the calculus


@dataclass(frozen=True)
class LayerCalculus:
    """One layer's symbolic derivatives, as sympy expressions (in-process only)."""

    name: str
    symbol: sympy.Symbol
    formula: sympy.Expr  # in the names it reads directly
    inputs: tuple  # those names: x and earlier layers, in order of first use
    local: tuple  # d formula / d input, one per input
    derivative: sympy.Expr  # d layer / dx, in x alone, in its readable form


@dataclass(frozen=True)
class Calculus:
    x: sympy.Symbol
    layers: tuple  # of LayerCalculus, in program order

    @property
    def output(self):
        return self.layers[-1]


def derive(program):
    """Each layer's formula, local derivatives and total derivative d layer / dx, summed over all paths."""
    x = sympy.Symbol(INPUT_NAME, real=True)
    symbols = {INPUT_NAME: x}
    in_x = {INPUT_NAME: x}  # each name as a function of x alone
    d_dx = {INPUT_NAME: sympy.Integer(1)}
    layers = []
    for layer in program.layers:
        formula = to_sympy(layer.expr, symbols)
        check_defined(formula, layer.name)
        check_size(formula, f"layer {layer.name}")
        inputs = tuple(name for name in names_used(layer.expr) if name in symbols)
        local = tuple(readable(sympy.diff(formula, symbols[name])) for name in inputs)
        in_terms_of_x = {symbols[name]: in_x[name] for name in inputs}
        # The chain rule, once per input: d layer/dx = sum over inputs n of (d layer/d n) · (d n/dx).
        paths = (substitute(d, in_terms_of_x) * d_dx[name] for d, name in zip(local, inputs, strict=True))
        total = check_built(sympy.Add(*paths))
        check_size(total, f"d{layer.name}/dx")
        symbol = sympy.Symbol(layer.name, real=True)
        symbols[layer.name] = symbol
        in_x[layer.name] = substitute(formula, in_terms_of_x)
        d_dx[layer.name] = readable(total)
        layers.append(LayerCalculus(layer.name, symbol, formula, inputs, local, d_dx[layer.name]))
    return Calculus(x, tuple(layers))


def reduction_weight(reduction, count):
    """d out / d z_i, exactly: 1 for sum and for ones_like's seed of ones, 1/N for mean."""
    weight = REDUCTIONS[reduction].weight(count)
    return sympy.Rational(weight.numerator, weight.denominator)


def reduction_derivative(calculus, reduction, count):
    """d out / d x_i for one element x_i (written in x): weight · f'(x)."""
    weight = reduction_weight(reduction, count)
    return readable(weight * calculus.output.derivative) if weight != 1 else calculus.output.derivative


def evaluate(expr, x_symbol, x_values):
    """expr at every element of x, in float64, shaped like x; overflow gives inf, not an error."""
    x_values = np.asarray(x_values, dtype=np.float64)
    # numpy has no complex infinity (a relu branch such as 1/0, where torch gives inf or nan): use inf.
    # (sympy.nan would break sympy's own ordering of the factors while printing.)
    expr = expr.xreplace({sympy.zoo: sympy.oo})
    function = sympy.lambdify(x_symbol, expr, modules=[{"RealAbs": np.abs}, "numpy"])  # built by us, never text
    with np.errstate(all="ignore"):
        result = np.asarray(function(x_values))
    if np.iscomplexobj(result):  # a branch with no real value, where torch gives nan
        result = np.where(result.imag == 0, result.real, np.nan)
    return np.broadcast_to(result.astype(np.float64), x_values.shape).copy()


# ---------------------------------------------------------------- LaTeX


class _Printer:
    """sympy.latex with every symbol printed by name_latex, and the length cap. Each expression is printed
    once: the chain rule shows every layer's derivative again, and printing can cost more than deriving."""

    def __init__(self, calculus, x_text="x"):
        self.names = {layer.symbol: name_latex(layer.name) for layer in calculus.layers}
        self.names[calculus.x] = x_text
        self.printed = {}

    def __call__(self, expr):
        if expr not in self.printed:
            self.printed[expr] = capped(sympy.latex(expr, symbol_names=self.names))
        return self.printed[expr]

    def factor(self, expr, left=True):
        """expr as one factor of a product, bracketed when it would read wrongly otherwise."""
        text = self(expr)
        if precedence(expr) < PRECEDENCE["Mul"] or (not left and text.startswith("-")):
            return rf"\left({text}\right)"
        return text



def _fraction(top, bottom, partial=False):
    d = r"\partial " if partial else "d"
    return rf"\frac{{{d}{top}}}{{{d}{bottom}}}"


def _sum(terms):
    text = terms[0]
    for term in terms[1:]:
        text += f" {term}" if term.startswith("-") else f" + {term}"
    return text


def _equation(parts):
    """parts joined by =, with a part equal to the one before it left out."""
    kept = [part for i, part in enumerate(parts) if i == 0 or part != parts[i - 1]]
    return capped(" = ".join(kept))


def _layer_math(layer, calculus, show):
    """The layer's formula, its local derivatives, and the chain rule: the rule, its factors, its value."""
    derivatives = {item.name: item.derivative for item in calculus.layers}
    me, partial = name_latex(layer.name), len(layer.inputs) > 1
    local, rule, product = [], [], []
    for name, d in zip(layer.inputs, layer.local, strict=True):
        d_me_d_name = _fraction(me, name_latex(name), partial)
        local.append(f"{d_me_d_name} = {show(d)}")
        if name == INPUT_NAME:
            rule.append(d_me_d_name)
            product.append(show(d))
        else:
            rule.append(rf"{d_me_d_name} \cdot {_fraction(name_latex(name), 'x')}")
            product.append(rf"{show.factor(d)} \cdot {show.factor(derivatives[name], left=False)}")
    derivative = show(layer.derivative)
    parts = [_fraction(me, "x")] + ([_sum(rule), _sum(product)] if rule else []) + [derivative]
    return LayerMath(layer.name, f"{me} = {show(layer.formula)}", tuple(local), _equation(parts), derivative)


def _reduction_start(reduction, z, w):
    """How backward starts, then the step the notebooks take: z_j depends on x_i only when j = i."""
    dz_j = r"\frac{\partial {" + z + r"}_{j}}{\partial x_{i}}"
    dz_i = r"\frac{\partial {" + z + r"}_{i}}{\partial x_{i}}"
    if REDUCTIONS[reduction].scalar is None:  # no scalar out: x.grad is the seed of ones, carried back
        return [r"\mathrm{x.grad}_{i} = \sum_{j} 1 \cdot " + dz_j, dz_i]
    return [r"\frac{\partial\,\mathrm{out}}{\partial x_{i}} = " + w + r"\sum_{j} " + dz_j, w + dz_i]


def _reduction_math(calculus, reduction, x_values, show):
    """d out / d x_i written out, and its value at every element of x."""
    count = max(1, x_values.size)
    weight, derivative = reduction_weight(reduction, count), calculus.output.derivative
    w = show(weight) + r" \cdot " if weight != 1 else ""
    expr = reduction_derivative(calculus, reduction, count)
    parts = _reduction_start(reduction, name_latex(calculus.output.name), w)
    parts += [w + show.factor(derivative, left=False) if w else show(derivative), show(expr)]
    values = evaluate(expr, calculus.x, x_values)
    values.setflags(write=False)  # a derivation may be cached and shared by every session
    return ReductionMath(reduction, _equation(parts), values)


def describe(program, x_values):
    """Everything the page shows about the symbolic derivatives, as plain data. Unbounded in time and
    memory: the worker calls it, and tests of the maths call it directly. It never raises."""
    try:
        if not is_elementwise(program):
            return describe_leaves(program, x_values)
        x_values = np.asarray(x_values, dtype=np.float64)
        calculus = derive(program)
        layer_show, element_show = _Printer(calculus), _Printer(calculus, "x_{i}")
        layers = tuple(_layer_math(layer, calculus, layer_show) for layer in calculus.layers)
        reductions = {name: _reduction_math(calculus, name, x_values, element_show) for name in REDUCTIONS}
        return Derivation("ok", "", layers, reductions)
    except (TooLarge, TooManyElements, MemoryError, RecursionError) as error:
        return Derivation("too_large", f"too large to show symbolically: {error or 'out of memory'}")
    except Undefined as error:
        return Derivation("error", str(error))
    except Exception as error:  # sympy has many ways to give up; the page must not
        return Derivation("error", f"sympy could not derive this: {type(error).__name__}: {error}"[:500])
