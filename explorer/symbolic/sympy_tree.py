"""A formula tree as sympy, under guards: sympy has no time or memory bound of its own, and folds what it builds.

sympy folds what it builds: `0*x + 2000` becomes an exact 2000, so
`(x+1)**(0*x+2000)` and, through constant layers, `a**a` with a = 99 get past
the parser's exponent limit. to_sympy and substitute hold what sympy builds,
after its folding, to limits.MAX_ABS_EXPONENT and limits.MAX_EXACT_DIGITS.
Both derivations (explorer.symbolic.calculus for one x, explorer.symbolic.leaves
for one symbol per element) build their expressions here.
"""

import math
from fractions import Fraction

import sympy

from explorer.engine import limits
from explorer.engine.fold import fold_constant
from explorer.engine.language import CONSTANTS, FUNCTIONS
from explorer.engine.tree import Binary, Call, Num, fold, names_used, operator_row, to_text, walk

_MAX_NODES = 2_000  # bigger than this, an expression can't print within limits.MAX_LATEX_CHARS
_MAX_FACTOR_NODES = 100  # factoring helps short expressions read like the notebooks; on long ones it is slow
_MAX_FACTOR_DEGREE = 12  # and on high powers: factoring 100(x + 1)^99 + 1 expands it, 1.5 s for nothing


class TooLarge(Exception):
    pass


class Undefined(Exception):
    pass


# ---------------------------------------------------------------- tree -> sympy


def exact_number(value):
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


def sympy_call(fn, argument):
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


def check_built(expr):
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
            return exact_number(node.value)
        return CONSTANTS[node.id].sympy(sympy) if node.id in CONSTANTS else symbols[node.id]

    return leaf


def _apply(node, args):
    if isinstance(node, Call):
        return check_built(sympy_call(node.fn, args[0]))
    if isinstance(node, Binary) and node.op == "**":
        _check_power(*args)
    return check_built(operator_row(node).sympy(*args))


def _folded_power(node):
    """A constant with a power in it, folded in float64 exactly as the forward pass folds it: no exact
    9**9**9 tower reaches sympy. None for anything else, which sympy builds."""
    if not (_has_power(node) and _is_constant(node)):
        return None
    value = fold_constant(node)
    if value is None:  # the forward pass refuses it too, and says why
        raise Undefined(f"the constant {to_text(node)} has no value")
    return exact_number(value)


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
            result = check_built(node.func(*args))
        rebuilt[node] = result
        return result

    return rebuild(expr)


def _size_exceeds(expr, most):
    for count, _ in enumerate(sympy.preorder_traversal(expr), 1):
        if count > most:
            return True
    return False


def check_size(expr, what):
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


def check_defined(formula, name):
    if _undefined(formula):
        raise Undefined(
            f"layer {name} is undefined in exact arithmetic (a division by an exact zero like sin(pi), an "
            "overflow, or a power with no real value), so it has no symbolic derivative; torch's rounded "
            "floats may still give numbers"
        )


def capped(text):
    if len(text) > limits.MAX_LATEX_CHARS:
        raise TooLarge(f"its LaTeX is longer than {limits.MAX_LATEX_CHARS:,} characters")
    return text
