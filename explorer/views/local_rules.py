"""Each backward op's local rule, micrograd-style: one row per grad_fn op name, beside the op it belongs to.

A row says, for input k of the op, what torch multiplies the incoming gradient by (or which product it takes),
first in words (`gradient · (1 − o²)`, `Wᵀ @ gradient`, `outer(gradient, x)`), then with the numbers. The
numbers come from the recorded pass: the operands' forward values, the node's output, and the node's local
derivative (its vector-Jacobian product with ones, explorer.engine.backward._local_derivatives), which for an
elementwise op is exactly the factor the rule names. The result printed after the last `=` is always the
gradient torch itself sent (Step.grad_out), never a value recomputed here.
"""

import math
import re
from dataclasses import dataclass

import torch

MAX_SHOWN = 12  # elements of a tensor written out in full; beyond, its shape and first values


def number(value):
    """A number for an explanation: at most 4 decimals, no trailing zeros, and never `-0`."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) < 1e-4 or abs(value) >= 1e6:
        return f"{value:.4g}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def short(tensor):
    """A tensor in an explanation: `0.5`, `[-3, 1]`, `[[1, 0], [0, 1]]`, or its shape and first values."""
    if tensor is None:
        return "-"
    values = tensor.detach().double()
    if values.numel() == 1:
        return number(values.item())
    if values.numel() <= MAX_SHOWN:
        return _nested(values.tolist())
    head = ", ".join(number(v) for v in values.flatten()[:3].tolist())
    return f"{tuple(values.shape)} [{head}, …]"


def _nested(values):
    if isinstance(values, list):
        return "[" + ", ".join(_nested(item) for item in values) + "]"
    return number(values)


@dataclass(frozen=True)
class Operand:
    name: str  # how the step names it: "w", "x @ w + b", "detach([0.0, 1.0, 0.0])", "a constant"
    value: torch.Tensor | None  # its forward value, when the pass recorded it


@dataclass(frozen=True)
class Local:
    """What one step knows about its node, for the rules to read."""

    gradient: torch.Tensor  # d out / d (the node's output): the gradient in
    output: torch.Tensor | None  # the node's forward value
    operands: tuple  # of Operand, one per input of the node (constants included)
    local: tuple  # the node's vector-Jacobian product with ones, per input (None where torch refused)
    exponent: str | None = None  # a power's exponent as written (`2` in `(h - target)**2`), if it is a number


def _same_shape(a, b):
    return a is not None and b is not None and tuple(a.shape) == tuple(b.shape)


def _factor_text(tensor):
    """A factor after `·`: a negative number in brackets, `1 · (−1)`, not `1 · -1`."""
    text = short(tensor)
    return f"({text})" if text.startswith("-") else text


def _product(words, factor_words=None, reads_output=False):
    """A row for an elementwise op: input k's gradient is the gradient times a factor, computed by elements.
    `words(k, step)` gives the factor in words for input k (None: no gradient flows there); the factor's numbers
    are the node's local derivative, which for an elementwise op is that very factor. Where the input was
    broadcast (a bias added to every row), torch sums the product back to the input's shape, and says so."""

    def rule(step, k, result):
        factor = words(k, step)
        if factor is None:
            return None
        local = step.local[k] if k < len(step.local) else None
        if not _same_shape(local, step.gradient):
            return f"gradient · {factor}, summed back to {step.operands[k].name}'s shape (broadcasting)", None
        broadcast = result is not None and tuple(result.shape) != tuple(step.gradient.shape)
        shape = f"{step.operands[k].name}'s shape {tuple(result.shape)}" if broadcast and result.dim() else "one number"
        summed = f", summed to {shape} (broadcasting)" if broadcast else ""
        if factor in ("1", "(−1)"):  # a sum or a difference passes the gradient through, or its negative
            return f"gradient · {factor}{summed}", (f"sum of {short(step.gradient)}", None) if broadcast else None
        by = " · " if step.gradient.numel() == 1 else " ⊙ "
        simple = factor in {o.name for o in step.operands}
        where = None if simple or factor_words is None else f"{factor_words(k, step)} = {short(local)}"
        if where and reads_output and step.output is not None:  # o, the op's own output: tanh's 1 − o²
            where += f", with o = {short(step.output)}"
        return f"gradient{by}{factor}{summed}", (f"{short(step.gradient)}{by}{_factor_text(local)}", where)

    return rule


def _other(k, step):
    return step.operands[1 - k].name


def bracketed(name):
    """A name inside a formula: `(h - target)` where it holds an operator, `h` alone."""
    return f"({name})" if any(sign in name for sign in " +-*/@") else name


def _power_words(k, step):
    base = bracketed(step.operands[0].name)
    if k == 1:
        return f"({base}^{bracketed(step.operands[1].name)} · ln {base})"
    exponent = step.exponent or (bracketed(step.operands[1].name) if len(step.operands) > 1 else "n")
    try:
        n = float(exponent)
    except ValueError:  # a tensor exponent, such as x**(w*2)
        return f"({exponent}·{base}^({exponent} − 1))"
    if n == 2:
        return f"(2·{base})"
    return f"({exponent}·{base}^{number(n - 1)})"


def _unary(words):
    """A row for a function of one operand: the factor in words, with `u` standing for the operand and `o` for
    the output."""

    def factor(k, step):
        if k:
            return None
        text = words.format(u=step.operands[0].name, o="o")
        return text if re.fullmatch(r"\w+\([^()]*\)", text) else f"({text})"  # exp(s) needs no brackets

    def factor_alone(k, step):
        return words.format(u=step.operands[0].name, o="o")

    return _product(factor, factor_alone, reads_output="{o}" in words)


def _broadcast(divide):
    def rule(step, k, result):
        if k:
            return None
        count = result.numel() if result is not None else None
        if count == 1:  # the sum or mean of one number is that number: its gradient passes through
            return "gradient · 1", (f"{short(step.gradient)} · 1", None)
        if divide and count:
            text = f"gradient ÷ N, broadcast to every element ({count} elements)"
            return text, (f"{short(step.gradient)} ÷ {count}, to each of {count}", None)
        shape = "" if count is None else f" ({count} elements)"
        return f"gradient broadcast to every element{shape}", (f"{short(step.gradient)} to each", None)

    return rule


def _matmul_rule(forms):
    """A row for a product of tensors: `forms[k]` gives input k's gradient in words and with numbers."""

    def rule(step, k, result):
        if k >= len(forms):
            return None
        a, b = step.operands[0], step.operands[1] if len(step.operands) > 1 else Operand("?", None)
        words, numbers = forms[k](a, b, step)
        return words, (numbers, None)

    return rule


def _value(operand):
    return short(operand.value) if operand.value is not None else bracketed(operand.name)


# One row per grad_fn op: what torch multiplies the incoming gradient by, for each input.
RULES = {
    "AddBackward0": _product(lambda k, step: "1"),
    "SubBackward0": _product(lambda k, step: "1" if k == 0 else "(−1)"),
    "NegBackward0": _product(lambda k, step: "(−1)" if k == 0 else None),
    "MulBackward0": _product(_other),
    "DivBackward0": _product(
        lambda k, step: f"(1/{step.operands[1].name})" if k == 0
        else f"(−{step.operands[0].name}/{step.operands[1].name}²)",
        lambda k, step: f"1/{step.operands[1].name}" if k == 0
        else f"−{step.operands[0].name}/{step.operands[1].name}²",
    ),
    "PowBackward0": _product(_power_words, lambda k, step: _power_words(k, step)[1:-1]),
    "PowBackward1": _product(_power_words, lambda k, step: _power_words(k, step)[1:-1]),
    "PowBackward2": _product(lambda k, step: f"(ln c · c^{step.operands[0].name})" if k == 0 else None,
                             lambda k, step: f"ln c · c^{step.operands[0].name}"),
    "TanhBackward0": _unary("1 − {o}²"),
    "SigmoidBackward0": _unary("{o}·(1 − {o})"),
    "ExpBackward0": _unary("exp({u})"),
    "LogBackward0": _unary("1/{u}"),
    "SinBackward0": _unary("cos({u})"),
    "CosBackward0": _unary("−sin({u})"),
    "TanBackward0": _unary("1 + {o}²"),
    "SinhBackward0": _unary("cosh({u})"),
    "CoshBackward0": _unary("sinh({u})"),
    "SqrtBackward0": _unary("1/(2·{o})"),
    "AbsBackward0": _unary("sign({u})"),
    "ReluBackward0": _unary("{u} > 0"),
    "SoftplusBackward0": _unary("sigmoid({u})"),
    "SumBackward0": _broadcast(divide=False),
    "MeanBackward0": _broadcast(divide=True),
    # Products of tensors, in the form torch's derivatives.yaml computes them.
    "DotBackward0": _matmul_rule((
        lambda a, b, step: (f"gradient · {b.name}", f"{short(step.gradient)} · {_value(b)}"),
        lambda a, b, step: (f"gradient · {a.name}", f"{short(step.gradient)} · {_value(a)}"),
    )),
    "MvBackward0": _matmul_rule((
        lambda a, b, step: (f"outer(gradient, {b.name})", f"outer({short(step.gradient)}, {_value(b)})"),
        lambda a, b, step: (f"{bracketed(a.name)}ᵀ @ gradient", f"{_value(a)}ᵀ @ {short(step.gradient)}"),
    )),
    "MmBackward0": _matmul_rule((
        lambda a, b, step: (f"gradient @ {bracketed(b.name)}ᵀ", f"{short(step.gradient)} @ {_value(b)}ᵀ"),
        lambda a, b, step: (f"{bracketed(a.name)}ᵀ @ gradient", f"{_value(a)}ᵀ @ {short(step.gradient)}"),
    )),
}

def rule_lines(op, step, k, result):
    """Input k's gradient out for a step of `op`, as lines: the rule in words and numbers, `= result`.
    None when the table has no row for `op` (the step then says only what torch sent)."""
    row = RULES.get(op)
    explained = row(step, k, result) if row else None
    if explained is None:
        return None
    words, shown = explained
    if shown is None:
        return [f"{words} = {short(result)}"]
    numbers, where = shown
    lines = [f"{words} = {numbers} = {short(result)}"]
    if where:
        lines.append(f"where {where}")
    return lines
