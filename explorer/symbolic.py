"""Symbolic derivatives with sympy, built from the parsed tree, never from text.

Every function is elementwise, so x is one real symbol and each layer one more
symbol. For each layer we show its formula in the inputs it reads directly,
its local derivatives, and the chain rule summed over every path to x (the
total derivative), e.g. dz/dx = dz/dy · dy/dx = 4y · 3 = 12(3x + 2). For each
way of starting backward, d out / d x_i = weight · f'(x_i), with weight 1/N for
mean, and its value at every element of x. A program with leaves, @, sum,
mean or detach is not elementwise: explorer.symbolic_leaves gives it one
symbol per element instead, in the same worker under the same budgets.

sympy has no time or memory bound of its own, and small formulas can need a
lot of both (measured: `(tan(8**((x**x/(pi-sqrt(sigmoid(x))))**(-59)))**x)**x`
takes 13.8 s to build, `x/sin(pi)` sent diff past 20 s, and
`abs(tan(sigmoid(tan((x+4.235)**(-0.042))*sigmoid(x)))**7)` printed 1.1 MB of
LaTeX through sympy's complex-valued Abs; RealAbs below brings it to 1 KB).
And sympy folds what it builds: `0*x + 2000` becomes an exact 2000, so
`(x+1)**(0*x+2000)` and, through constant layers, `a**a` with a = 99 get past
the parser's exponent limit. to_sympy and substitute hold what sympy builds,
after its folding, to limits.MAX_ABS_EXPONENT and limits.MAX_EXACT_DIGITS.

So `symbolic_derivation` sends the tree, as JSON, to one of a few warm worker
processes (`python -m explorer.symbolic_worker`, see explorer/symbolic_pool.py):
sympy and numpy only, an address space capped at limits.SYMBOLIC_MEMORY_BYTES,
an alarm at limits.SYMBOLIC_SECONDS, and a kill a grace period later. Each
session runs one derivation at a time, and sessions take turns.

Measured on the shared 2-CPU VM (Python 3.11, sympy 1.14, three workers, other
engineers' jobs running): a worker is ready 1.6-2.1 s after it starts (three at
once: 5.6-6.1 s), at ~160 MB of address space and 88 MB resident; with the
pool warm, the notebooks' seed (`y = 3*x + 2`, `z = 2*y**2` on a 2x3 x) takes
7-28 ms (p50 15-19 ms) from call to Derivation, and 0.13-0.19 s on an x of
100,000 elements (peak 175 MB of address space); a trap answers "timeout"
after 2.00-2.03 s and the same worker then serves the seed in 13-25 ms; the
folding traps above answer "too_large" in 3-36 ms; with two sessions looping
traps, a third session's derivations came back in 0.02-0.44 s.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from sympy.printing.precedence import PRECEDENCE, precedence

from . import limits, wire
from .derivation import Derivation, LayerMath, ReductionMath, timed_out
from .fold import fold_constant
from .language import CONSTANTS, FUNCTIONS, INPUT_NAME, REDUCTIONS, name_latex
from .symbolic_leaves import TooManyElements, describe_leaves
from .symbolic_pool import Pool
from .tree import Binary, Call, Num, fold, is_elementwise, names_used, operator_row, to_text, walk

__all__ = ["Derivation", "LayerMath", "ReductionMath", "describe", "start_worker", "symbolic_derivation"]

_MAX_NODES = 2_000  # bigger than this, an expression can't print within limits.MAX_LATEX_CHARS
_MAX_FACTOR_NODES = 100  # factoring helps short expressions read like the notebooks; on long ones it is slow
_MAX_FACTOR_DEGREE = 12  # and on high powers: factoring 100(x + 1)^99 + 1 expands it, 1.5 s for nothing


class TooLarge(Exception):
    pass


class Undefined(Exception):
    pass


# ---------------------------------------------------------------- tree -> sympy


def _number(value):
    """Integers and short fractions stay exact (3, 1/2), so factoring works; other values are floats (4.235,
    and 1e100: a float past 2**53 is no exact integer, and an exact 10**100 would be refused as too large)."""
    if not math.isfinite(value) or abs(value) >= 2**53:
        return sympy.Float(value)  # oo or nan are refused later as undefined
    if value.is_integer():
        return sympy.Integer(int(value))
    fraction = Fraction(value).limit_denominator(20)
    if float(fraction) == value:
        return sympy.Rational(fraction.numerator, fraction.denominator)
    return sympy.Float(value)


def _has_power(node):
    return any(isinstance(current, Binary) and current.op == "**" for current in walk(node))


def _is_constant(node):
    return all(name in CONSTANTS for name in names_used(node))


class RealAbs(sympy.Function):
    """|u| for a real u, as every value here is. sympy's Abs allows a complex u, so its derivative needs
    re, im and 1/|u| (slow to build, undefined at u = 0); here d|u|/du = sign(u), with sign(0) = 0 as torch."""

    is_extended_real = True
    is_extended_nonnegative = True

    @classmethod
    def eval(cls, arg):
        if arg.is_number or arg.is_extended_nonnegative:
            return sympy.Abs(arg)
        if arg.could_extract_minus_sign():
            return cls(-arg)
        return None

    def fdiff(self, argindex=1):
        return sympy.sign(self.args[0])

    def _latex(self, printer, exp=None):
        text = r"\left|{" + printer._print(self.args[0]) + r"}\right|"
        return text if exp is None else text + "^{" + exp + "}"


def _call(fn, argument):
    # abs is the one function whose sympy form from FUNCTIONS we replace: see RealAbs.
    return RealAbs(argument) if fn == "abs" else FUNCTIONS[fn].sympy(sympy, argument)


def _digits(number):
    """Decimal digits of an exact number's numerator or denominator, whichever is longer (from bit lengths:
    str() of a huge integer is slow, and refused past 4,300 digits)."""
    return max(abs(number.p).bit_length(), number.q.bit_length()) * math.log10(2)


def _bounded_exponent(exponent):
    return exponent.is_Number and exponent.is_finite


def _check_power(base, exponent):
    """Before sympy builds base**exponent, which it folds: (x+1)**(0*x+2000) would build a 2000th power, and
    99**99**99 an integer tower. An exact exponent stays within ±MAX_ABS_EXPONENT, and an exact result
    within MAX_EXACT_DIGITS (sympy also raises a product's coefficient: (10**30*x)**3 = 10**90*x**3)."""
    if not _bounded_exponent(exponent):
        return
    if abs(exponent) > limits.MAX_ABS_EXPONENT:
        raise TooLarge(f"it builds a power with exponent {_short(exponent)}, outside ±{limits.MAX_ABS_EXPONENT}")
    coefficients = [base] if base.is_Rational else [arg for arg in base.args if arg.is_Rational] if base.is_Mul else []
    if exponent.is_Integer and any(_digits(c) * abs(int(exponent)) > limits.MAX_EXACT_DIGITS for c in coefficients):
        raise TooLarge(f"it builds an exact number of more than {limits.MAX_EXACT_DIGITS} digits")


def _check_built(expr):
    """What sympy built after its own folding, at the top and one level down (the levels an operation
    rewrites): exact numbers within MAX_EXACT_DIGITS, exact exponents within ±MAX_ABS_EXPONENT
    ((x**60)**2 folds into x**120). Every operand was checked when it was built."""
    for part in (expr, *expr.args):
        if part.is_Rational and _digits(part) > limits.MAX_EXACT_DIGITS:
            raise TooLarge(f"it builds an exact number of more than {limits.MAX_EXACT_DIGITS} digits")
        if part.is_Pow and _bounded_exponent(part.exp) and abs(part.exp) > limits.MAX_ABS_EXPONENT:
            raise TooLarge(f"it builds a power with exponent {_short(part.exp)}, outside ±{limits.MAX_ABS_EXPONENT}")
    return expr


def _short(number):
    return "of more than 20 digits" if number.is_Rational and _digits(number) > 20 else str(number)


def _leaf(symbols):
    def leaf(node):
        if isinstance(node, Num):
            return _number(node.value)
        return CONSTANTS[node.id].sympy(sympy) if node.id in CONSTANTS else symbols[node.id]

    return leaf


def _apply(node, args):
    if isinstance(node, Call):
        return _check_built(_call(node.fn, args[0]))
    if isinstance(node, Binary) and node.op == "**":
        _check_power(*args)
    return _check_built(operator_row(node).sympy(*args))


def _folded_power(node):
    """A constant with a power in it, folded in float64 exactly as the forward pass folds it: no exact
    9**9**9 tower reaches sympy. None for anything else, which sympy builds."""
    if not (_has_power(node) and _is_constant(node)):
        return None
    value = fold_constant(node)
    if value is None:  # the forward pass refuses it too, and says why
        raise Undefined(f"the constant {to_text(node)} has no value")
    return _number(value)


def to_sympy(node, symbols):
    """A formula tree as a sympy expression; `symbols` maps x and layer names to sympy symbols."""
    return fold(node, _leaf(symbols), _apply, whole=_folded_power)


def substitute(expr, mapping):
    """expr.xreplace(mapping), rebuilt under to_sympy's checks. Writing a layer in x folds again: with
    a = 0*x + 99, the layer b = a**a is the harmless a**a until a becomes 99."""
    rebuilt = {}

    def rebuild(node):
        if node in mapping:
            return mapping[node]
        if not node.args or node in rebuilt:
            return rebuilt.get(node, node)
        args = [rebuild(arg) for arg in node.args]
        result = node
        if any(new is not old for new, old in zip(args, node.args, strict=True)):
            if node.is_Pow:
                _check_power(*args)
            result = _check_built(node.func(*args))
        rebuilt[node] = result
        return result

    return rebuild(expr)


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


def _size_exceeds(expr, most):
    for count, _ in enumerate(sympy.preorder_traversal(expr), 1):
        if count > most:
            return True
    return False


def _check_size(expr, what):
    if _size_exceeds(expr, _MAX_NODES):
        raise TooLarge(f"{what} has more than {_MAX_NODES:,} parts")


def _has_high_power(expr):
    powers = expr.atoms(sympy.Pow)
    return any(power.exp.is_Number and abs(power.exp) > _MAX_FACTOR_DEGREE for power in powers)


def readable(expr):
    """sympy's own form or its factored form, whichever is shorter; a tie (or one step more) goes to the
    factored form, as the notebooks write 12(3x + 2) rather than 36x + 24."""
    if expr.has(sympy.Float) or _size_exceeds(expr, _MAX_FACTOR_NODES) or _has_high_power(expr):
        return expr  # factoring floats gives 8.47(0.236x + 1.0)
    try:
        factored = sympy.factor(expr)
    except (sympy.PolynomialError, TypeError, ValueError):  # factor refuses some Piecewise and relational forms
        return expr
    return factored if sympy.count_ops(factored) <= sympy.count_ops(expr) + 1 else expr


_NOT_REAL = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I)


def _undefined(expr):
    """zoo, oo, nan or I outside a Piecewise branch. A branch may be infinite where torch's value is too
    (1/relu(x) for x <= 0), but x/sin(pi) = zoo·x and x*log(-2) = x·(log 2 + iπ) are never real."""
    if expr in _NOT_REAL:
        return True
    if isinstance(expr, sympy.Piecewise) or not expr.has(*_NOT_REAL):
        return False
    return any(_undefined(arg) for arg in expr.args)


def _check_defined(formula, name):
    if _undefined(formula):
        raise Undefined(
            f"layer {name} is undefined in exact arithmetic (a division by an exact zero like sin(pi), an "
            "overflow, or a power with no real value), so it has no symbolic derivative; torch's rounded "
            "floats may still give numbers"
        )


def derive(program):
    """Each layer's formula, local derivatives and total derivative d layer / dx, summed over all paths."""
    x = sympy.Symbol(INPUT_NAME, real=True)
    symbols = {INPUT_NAME: x}
    in_x = {INPUT_NAME: x}  # each name as a function of x alone
    d_dx = {INPUT_NAME: sympy.Integer(1)}
    layers = []
    for layer in program.layers:
        formula = to_sympy(layer.expr, symbols)
        _check_defined(formula, layer.name)
        _check_size(formula, f"layer {layer.name}")
        inputs = tuple(name for name in names_used(layer.expr) if name in symbols)
        local = tuple(readable(sympy.diff(formula, symbols[name])) for name in inputs)
        in_terms_of_x = {symbols[name]: in_x[name] for name in inputs}
        # The chain rule, once per input: d layer/dx = sum over inputs n of (d layer/d n) · (d n/dx).
        paths = (substitute(d, in_terms_of_x) * d_dx[name] for d, name in zip(local, inputs, strict=True))
        total = _check_built(sympy.Add(*paths))
        _check_size(total, f"d{layer.name}/dx")
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
            self.printed[expr] = _capped(sympy.latex(expr, symbol_names=self.names))
        return self.printed[expr]

    def factor(self, expr, left=True):
        """expr as one factor of a product, bracketed when it would read wrongly otherwise."""
        text = self(expr)
        if precedence(expr) < PRECEDENCE["Mul"] or (not left and text.startswith("-")):
            return rf"\left({text}\right)"
        return text


def _capped(text):
    if len(text) > limits.MAX_LATEX_CHARS:
        raise TooLarge(f"its LaTeX is longer than {limits.MAX_LATEX_CHARS:,} characters")
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
    return _capped(" = ".join(kept))


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




# ---------------------------------------------------------------- the bounded workers


_POOL = Pool(limits.SYMBOLIC_WORKERS, limits.SYMBOLIC_START_SECONDS, idle_seconds=limits.SYMBOLIC_IDLE_SECONDS)


def start_worker():
    """Start the worker pool in the background now, so the first derivation finds a warm worker
    rather than waiting ~1-2 s for one to import sympy. Returns at once; calling it again is harmless."""
    _POOL.warm_up()


def _float64(x_values):
    """x as a float64 numpy array (0-d for a number), the only form of x that crosses to the worker."""
    if hasattr(x_values, "detach"):
        x_values = x_values.detach().cpu().double().numpy()
    return np.asarray(x_values, dtype=np.float64)


def symbolic_derivation(program, x_values, owner=None):
    """describe(program, x_values), computed in a worker process limited to limits.SYMBOLIC_SECONDS and
    limits.SYMBOLIC_MEMORY_BYTES. x_values: a tensor, an array, nested lists or a number. `owner` (a
    session id) runs one derivation at a time and takes turns with other owners; every caller that
    passes None shares one turn. Never raises, never hangs: every status but "busy" depends on the
    formula and x alone (and, near the time limit, on the machine's load), so it may be cached."""
    try:
        request = {"program": wire.program_to_plain(program), "x": wire.array_to_plain(_float64(x_values))}
        seconds = limits.SYMBOLIC_SECONDS + limits.SYMBOLIC_KILL_GRACE_SECONDS
        outcome = _POOL.run(owner, wire.dumps(request), seconds, limits.SYMBOLIC_QUEUE_SECONDS)
        return _derivation(outcome)
    except Exception as error:  # starting a process can fail (no memory, too many processes)
        return Derivation("error", f"the symbolic worker could not run: {type(error).__name__}: {error}"[:500])


def _derivation(outcome):
    if outcome.kind == "answer":
        return wire.derivation_from_plain(wire.loads(outcome.line))
    if outcome.kind == "timeout":  # the worker did not stop itself, and was killed
        return timed_out()
    if outcome.kind == "died":  # its memory cap, most likely: a MemoryError it could not even answer
        return Derivation("too_large", "too large to show symbolically: sympy ran out of its memory budget")
    if outcome.kind == "busy":
        seconds = limits.SYMBOLIC_QUEUE_SECONDS
        return Derivation("busy", f"every symbolic worker stayed busy for {seconds:g} s; try again")
    return Derivation("error", outcome.reason or "the symbolic worker could not run")
