"""The chain rule for programs with leaves, @, sum, mean or detach: one sympy symbol per element.

A layer is a numpy array of sympy expressions (dtype object), so torch's shape
rules come for free: numpy broadcasts the elementwise operators and np.matmul
multiplies object arrays as torch.matmul multiplies tensors. Each layer is
written in the elements of what it reads directly (`h_{0} = tanh(...)`); its
local derivatives are Jacobians; ∂out/∂(each element of each leaf) is summed
over every path, with detach(...) held at its value, as autograd holds it.

Only small problems: at most limits.MAX_SYMBOLIC_ELEMENTS elements of x and
the leaves together, and every expression within symbolic's size checks.
It runs in the symbolic worker, under its time and memory budgets; no torch.
"""

import numpy as np
import sympy

from explorer.engine import limits
from explorer.engine.fold import fold_constant
from explorer.engine.language import BINARY, CONSTANTS, INPUT_NAME, REDUCTIONS, name_latex
from explorer.engine.tree import Call, Lit, Name, Num, Unary, fold, names_used
from explorer.symbolic.derivation import Derivation, LayerMath, ReductionMath
from explorer.symbolic.sympy_tree import capped, check_built, exact_number, readable, sympy_call


class TooManyElements(Exception):
    pass


def _element_latex(name, shape, index):
    base = name_latex(name)
    if not shape:
        return base
    return f"{base}_{{{','.join(str(int(i)) for i in index)}}}"


def _symbols(name, shape):
    """An object array of real symbols shaped like the tensor, and their LaTeX names."""
    array = np.empty(shape, dtype=object)
    names = {}
    for index in np.ndindex(*shape):
        symbol = sympy.Symbol(f"{name}{list(index)}", real=True)
        array[index] = symbol
        names[symbol] = _element_latex(name, shape, index)
    return array, names


def _array(value):
    return value if isinstance(value, np.ndarray) else np.array(value, dtype=object)


def _elementwise(function, array):
    return np.vectorize(function, otypes=[object])(_array(array)) if isinstance(array, np.ndarray) else function(array)


def _at(expr, values):
    """An expression's float value with its symbols at `values` (a plain number is its own value)."""
    return float(expr.xreplace(values).evalf()) if isinstance(expr, sympy.Basic) else float(expr)


def _evaluate(node, env, values, checks):
    """A tree as sympy: a scalar expression, or an object array shaped as torch would shape the tensor."""
    def leaf(node):
        if isinstance(node, Num):
            return exact_number(node.value)
        if isinstance(node, Lit):
            return np.array([exact_number(v) for v in node.values], dtype=object).reshape(node.shape)
        if isinstance(node, Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id].sympy(sympy)
        return env[node.id]

    def apply(node, args):
        if isinstance(node, Call):
            if node.fn in ("sum", "mean"):
                total = sympy.Add(*_array(args[0]).flat)
                return total / _array(args[0]).size if node.fn == "mean" else total
            if node.fn == "detach":  # held at its value: no derivative flows through
                return _elementwise(lambda e: exact_number(_at(e, values)), args[0])
            return _elementwise(lambda e: checks(sympy_call(node.fn, e)), args[0])
        if isinstance(node, Unary):
            return -args[0] if node.op == "-" else args[0]
        if node.op == "@":
            return np.matmul(_array(args[0]), _array(args[1]))
        result = BINARY[node.op].sympy(*args)
        return _elementwise(checks, result)

    return fold(node, leaf, apply)


def _matrix_latex(array, names):
    array = _array(array)
    if array.ndim == 0:
        return sympy.latex(array.item(), symbol_names=names)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim > 2:
        raise TooManyElements("a layer of rank above 2 has no matrix to print")
    return sympy.latex(sympy.Matrix(array.tolist()), symbol_names=names)


def _jacobian(layer, inputs):
    """d vec(layer) / d vec(input), a sympy Matrix."""
    return sympy.Matrix([[sympy.diff(out, symbol) for symbol in _array(inputs).flat] for out in _array(layer).flat])


def describe_leaves(program, x_values):
    """Derivation for a program with leaves: each layer's formula and Jacobians, and ∂out/∂(every element)."""
    x_values = np.asarray(x_values, dtype=np.float64)
    leaves = {INPUT_NAME: (x_values.shape, x_values.flatten().tolist())}
    leaves.update({leaf.name: (leaf.shape, list(leaf.values)) for leaf in program.leaves})
    count = sum(int(np.prod(shape, dtype=np.int64)) for shape, _ in leaves.values())
    if count > limits.MAX_SYMBOLIC_ELEMENTS:
        raise TooManyElements(
            f"{count} scalar elements in x and the leaves, over {limits.MAX_SYMBOLIC_ELEMENTS}"
        )
    names, values, in_leaves, order = {}, {}, {}, []
    for name, (shape, flat) in leaves.items():
        array, latex = _symbols(name, shape)
        names.update(latex)
        for symbol, value in zip(array.flat, flat, strict=True):
            values[symbol] = sympy.Float(value)
            order.append(symbol)
        in_leaves[name] = array
    direct = dict(in_leaves)  # each name as the symbols the next layers read
    layers = []
    for layer in program.layers:
        formula = _evaluate(layer.expr, direct, values, check_built)
        substituted = _evaluate(layer.expr, in_leaves, values, check_built)
        if fold_constant(layer.expr) is not None:  # a constant layer is shaped like x, as in the forward pass
            formula = substituted = np.full(x_values.shape, formula, dtype=object)
        symbols, latex = _symbols(layer.name, _array(formula).shape)
        names.update(latex)
        inputs = [name for name in names_used(layer.expr) if name in direct]
        local = tuple(
            rf"\frac{{\partial {name_latex(layer.name)}}}{{\partial {name_latex(name)}}} = "
            + capped(sympy.latex(readable_matrix(_jacobian(formula, direct[name]), readable), symbol_names=names))
            for name in inputs
        )
        text = f"{_matrix_latex(symbols, names)} = {_matrix_latex(formula, names)}"
        layers.append(LayerMath(layer.name, capped(text), local, local[0] if local else "", ""))
        direct[layer.name] = symbols
        in_leaves[layer.name] = _array(substituted)
        leaf_values = {symbol: values[symbol] for symbol in order}
        for symbol, expr in zip(symbols.flat, in_leaves[layer.name].flat, strict=True):
            values[symbol] = sympy.Float(_at(expr, leaf_values))
    output = _array(in_leaves[program.output.name])
    reductions = {}
    for reduction, rule in REDUCTIONS.items():
        out = sympy.Add(*output.flat) * (sympy.Rational(1, output.size) if rule.divides else 1)
        rows, numbers = [], []
        for symbol in order:
            derivative = sympy.diff(out, symbol)
            number = float(derivative.xreplace(values).evalf())
            numbers.append(number)
            rows.append(rf"\frac{{\partial\,\mathrm{{out}}}}{{\partial {names[symbol]}}} &= {number:.6g}")
        latex = capped(r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}")
        array = np.array(numbers, dtype=np.float64)
        array.setflags(write=False)
        reductions[reduction] = ReductionMath(reduction, latex, array)
    return Derivation("ok", "", tuple(layers), reductions)


def readable_matrix(matrix, readable):
    return matrix.applyfunc(readable)
