"""The JSON that crosses the pipes to the sympy worker: formula trees, float64 arrays, derivations.

One message is one line of JSON (json.dumps escapes every newline inside
strings). A tree travels as nested lists, e.g. `3*x` is
["binary", "*", ["num", 3.0, "3"], ["name", "x"]], and is rebuilt from the
whitelist on arrival: nothing here is text for sympy or Python to parse.
Arrays travel as base64 of little-endian float64 bytes with their shape,
about 11 characters an element rather than ~20 for a list of floats.
"""

import base64
import json

import numpy as np

from explorer.engine.language import BINARY, CALLS, UNARY
from explorer.engine.tree import Binary, Call, Layer, Leaf, Lit, Name, Num, Program, Unary, fold
from explorer.symbolic.derivation import STATUSES, Derivation, LayerMath, ReductionMath

_FLOAT64 = np.dtype("<f8")


class WireError(ValueError):
    pass


def dumps(message):
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")


def loads(line):
    return json.loads(line)


# ---------------------------------------------------------------- trees


def _plain_leaf(node):
    if isinstance(node, Lit):
        return ["lit", list(node.shape), [float(value) for value in node.values]]
    return ["num", float(node.value), node.text] if isinstance(node, Num) else ["name", node.id]


def _plain_operation(node, operands):
    if isinstance(node, Unary):
        return ["unary", node.op, *operands]
    if isinstance(node, Binary):
        return ["binary", node.op, *operands]
    if isinstance(node, Call):
        return ["call", node.fn, *operands]
    raise WireError(f"not a tree node: {type(node).__name__}")


def tree_to_plain(node):
    return fold(node, _plain_leaf, _plain_operation)


def _expect(condition, what):
    if not condition:
        raise WireError(f"malformed {what}")


def tree_from_plain(plain):
    """The tree again, accepting only the node kinds, operators and functions of the whitelist."""
    _expect(isinstance(plain, list) and plain and isinstance(plain[0], str), "node")
    kind, *rest = plain
    if kind == "num":
        _expect(len(rest) == 2 and isinstance(rest[0], float) and isinstance(rest[1], str), "number")
        return Num(rest[0], rest[1])
    if kind == "name":
        _expect(len(rest) == 1 and isinstance(rest[0], str), "name")
        return Name(rest[0])
    if kind == "unary":
        _expect(len(rest) == 2 and rest[0] in UNARY, "unary operator")
        return Unary(rest[0], tree_from_plain(rest[1]))
    if kind == "binary":
        _expect(len(rest) == 3 and rest[0] in BINARY, "binary operator")
        return Binary(rest[0], tree_from_plain(rest[1]), tree_from_plain(rest[2]))
    if kind == "call":
        _expect(len(rest) == 2 and isinstance(rest[0], str) and rest[0] in CALLS, "call")
        return Call(rest[0], tree_from_plain(rest[1]))
    if kind == "lit":
        _expect(len(rest) == 2, "list")
        shape, values = _shape_and_values(*rest)
        return Lit(values, shape)
    raise WireError(f"unknown node kind {kind!r}")


def _shape_and_values(shape, values):
    """A leaf's or a list's shape and float values, checked: whole sizes, floats, as many as the shape holds."""
    _expect(isinstance(shape, list) and all(isinstance(n, int) and n > 0 for n in shape), "shape")
    _expect(isinstance(values, list) and all(isinstance(v, float) for v in values), "values")
    _expect(len(values) == int(np.prod(shape, dtype=np.int64)), "values")
    return tuple(shape), tuple(values)


def program_to_plain(program):
    """The layers as [name, line, tree], then each declared leaf as ["leaf", name, line, shape, values]."""
    layers = [[layer.name, layer.line, tree_to_plain(layer.expr)] for layer in program.layers]
    leaves = [["leaf", leaf.name, leaf.line, list(leaf.shape), list(leaf.values)] for leaf in program.leaves]
    return layers + leaves


def program_from_plain(plain):
    _expect(isinstance(plain, list) and plain, "program")
    layers, leaves = [], []
    for item in plain:
        _expect(isinstance(item, list) and len(item) in (3, 5), "layer")
        if len(item) == 5:
            _expect(item[0] == "leaf", "leaf")
            _, name, line, shape, values = item
            _expect(isinstance(name, str) and name.isidentifier() and isinstance(line, int), "leaf")
            leaves.append(Leaf(name, *_shape_and_values(shape, values)[::-1], line))
            continue
        name, line, expr = item
        _expect(isinstance(name, str) and name.isidentifier() and isinstance(line, int), "layer")
        layers.append(Layer(name, tree_from_plain(expr), line))
    _expect(layers, "program")
    return Program(tuple(layers), tuple(leaves))


# ---------------------------------------------------------------- arrays


def array_to_plain(values):
    array = np.asarray(values, dtype=_FLOAT64)  # not ascontiguousarray: it makes a number 1-d; tobytes is C order
    return {"shape": list(array.shape), "float64": base64.b64encode(array.tobytes()).decode("ascii")}


def array_from_plain(plain):
    """A read-only float64 array: a derivation may be cached and shared by every session."""
    _expect(isinstance(plain, dict) and isinstance(plain.get("float64"), str), "array")
    shape = plain.get("shape")
    _expect(isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape), "array shape")
    data = base64.b64decode(plain["float64"], validate=True)
    _expect(len(data) == _FLOAT64.itemsize * int(np.prod(shape, dtype=np.int64)), "array size")
    return np.frombuffer(data, dtype=_FLOAT64).reshape(shape)


# ---------------------------------------------------------------- derivations


def derivation_to_plain(derivation):
    return {
        "status": derivation.status,
        "message": derivation.message,
        "layers": [[m.name, m.formula, list(m.local), m.chain, m.derivative] for m in derivation.layers],
        "reductions": {
            name: [r.latex, array_to_plain(r.values)] for name, r in derivation.reductions.items()
        },
    }


def derivation_from_plain(plain):
    _expect(isinstance(plain, dict) and plain.get("status") in STATUSES, "derivation")
    _expect(isinstance(plain.get("message"), str), "derivation message")
    layers = tuple(
        LayerMath(name, formula, tuple(local), chain, derivative)
        for name, formula, local, chain, derivative in plain["layers"]
    )
    reductions = {
        name: ReductionMath(name, latex, array_from_plain(values))
        for name, (latex, values) in plain["reductions"].items()
    }
    return Derivation(plain["status"], plain["message"], layers, reductions)
