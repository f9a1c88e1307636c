"""The engine's one way in: explore(x_text, layers_text, vector=None) -> Exploration.

In two steps for callers that cache and schedule: prepare() parses (bounded,
cheap) and gives the input's canonical key and its work estimate; run() does
the work. The key is the same for every spelling of one input (spaces, line
endings, 1 or 1.0), and small however large x is: a digest, not the text.

A `vector` text is the seed of one more way of starting backward, z.backward(gradient=v)
(language.ALL_REDUCTIONS' "vector"): read by x's rules, shaped exactly like the output, and part of
the key. Without one, an exploration has the three ways it always had and no "vector" anywhere.
"""

import hashlib
from dataclasses import dataclass

import torch

from explorer.engine.backward import run_reduction
from explorer.engine.cost import Cost, exploration_cost
from explorer.engine.errors import FormulaError
from explorer.engine.forward import leaf_tensors
from explorer.engine.language import ALL_REDUCTIONS, INPUT_NAME
from explorer.engine.parse import parse_layers, renamed
from explorer.engine.parse_x import parse_x
from explorer.engine.printing import tensor_repr
from explorer.engine.shapes import check_work, infer
from explorer.engine.tree import Program, is_elementwise, to_text


@dataclass(frozen=True)
class Prepared:
    """A parsed input, before any work: what it is, what it will cost, and its key."""

    program: Program
    x: torch.Tensor  # float32, as parsed
    work: int  # element-operations (a matmul counts m·n·k; shapes.infer): the cost measure of limits.MAX_WORK
    key: tuple  # (canonical layers text, x's shape, digest of x's values[, "vector", digest of v])
    cost: Cost  # what running it costs: admission control and turns both read this (explorer.engine.cost)
    vector: torch.Tensor | None = None  # the seed v, float32 and shaped like the output; None: not given


def canonical_layers(program):
    """The layers as the parser understood them: spacing and comments gone, line numbers kept (errors cite them).
    Leaves are written with their float32 values, so two spellings of one value share a key."""
    lines = [(leaf.line, f"{leaf.line}: {leaf.name} = {leaf.text}") for leaf in program.leaves]
    lines += [(layer.line, f"{layer.line}: {layer.name} = {to_text(layer.expr)}") for layer in program.layers]
    return "\n".join(text for _, text in sorted(lines))


def _digest(tensor):
    return hashlib.blake2b(tensor.numpy().tobytes(), digest_size=16).digest()


def parse_vector(text, program, x_shape):
    """The seed v of z.backward(gradient=v): a number or nested list by x's rules (its limits, its messages),
    of exactly the output's shape (a number for a scalar output). FormulaError (field "vector") otherwise."""
    try:
        vector = parse_x(text)
    except FormulaError as error:
        raise FormulaError(renamed(error.message, "vector"), field="vector", line=error.line, col=error.col) from None
    output = program.output.name
    shape = infer(program, x_shape)[0][output]
    if tuple(vector.shape) != tuple(shape):
        number = "" if shape else " (one number)"
        raise FormulaError(f"shape {tuple(vector.shape)} but the output {output} has shape {tuple(shape)}{number}",
                           field="vector")
    return vector


def prepare(x_text, layers_text, vector=None):
    """Parse the fields and size the work; raises FormulaError, like explore, for any bad input."""
    program = parse_layers(layers_text)
    x = parse_x(x_text)
    work = check_work(program, tuple(x.shape))
    key = (canonical_layers(program), tuple(x.shape), _digest(x))
    if vector is not None:
        vector = parse_vector(vector, program, tuple(x.shape))
        key += ("vector", _digest(vector))
    ways = sum(1 for rule in ALL_REDUCTIONS.values() if vector is not None or not rule.given)  # backward passes
    cost = exploration_cost(x.numel() + sum(leaf.size for leaf in program.leaves), work, program, ways)
    return Prepared(program, x, work, key, cost, vector)


@dataclass(frozen=True)
class Exploration:
    key: tuple  # Prepared.key: views of this result are cached under it
    work: int  # Prepared.work: what computing more views of it costs
    x: torch.Tensor  # float32, as parsed
    program: Program
    layers: dict  # layer name -> forward value (detached)
    layer_reprs: dict  # layer name -> as torch prints it, grad_fn included
    reductions: dict  # "sum" / "mean" / "ones_like" (and "vector" when one is given) -> backward.Reduction
    vector: torch.Tensor | None  # Prepared.vector: the seed of reductions["vector"], or None
    warnings: tuple  # plain sentences about inf and nan
    leaves: dict  # every tensor that requires grad, by name, x first: its values as parsed (no grad)
    cost: Cost  # Prepared.cost: what computing more views of it costs

    @property
    def output(self):
        return self.layers[self.program.output.name]

    @property
    def grads(self):
        """x.grad for each way of starting backward, shaped like x."""
        return {name: reduction.grad for name, reduction in self.reductions.items()}

    @property
    def leaf_grads(self):
        """reduction -> leaf name (x first) -> its .grad, zeros where the output does not reach the leaf."""
        return {name: reduction.leaf_grads for name, reduction in self.reductions.items()}

    @property
    def dot(self):
        """torchviz's DOT source of the output's graph."""
        return self.reductions["ones_like"].dot

    @property
    def scalar_output(self):
        return self.output.numel() == 1


def _first_bad(tensor):
    """Index of the first inf or nan, as a tuple, or None."""
    bad = (~torch.isfinite(tensor)).nonzero()
    return None if len(bad) == 0 else tuple(bad[0].tolist())


def _non_finite_warnings(program, layers, reductions):
    found = []
    for layer in program.layers:
        where = _first_bad(layers[layer.name])
        if where is not None:
            # An elementwise layer's element i comes from x's element i: name that. Anything else (a scalar, a
            # layer of the leaves: w = -3 with z = sqrt(w)) is named by the layer itself, never "x[]".
            shaped_like_x = tuple(layers[layer.name].shape) == tuple(reductions["sum"].grad.shape)
            of_x = is_elementwise(program) and where and shaped_like_x
            at = f"x{list(where)}" if of_x else (f"{layer.name}{list(where)}" if where else layer.name)
            found.append(f"layer {layer.name} (line {layer.line}) produced inf or nan, first at {at}")
            break
    for name, reduction in reductions.items():
        for leaf, grad in reduction.leaf_grads.items():
            if _first_bad(grad) is not None:
                found.append(f"{leaf}.grad under {name} holds inf or nan")
    return tuple(found)


def explore(x_text, layers_text, vector=None):
    """Parse both fields, run the forward pass, and backward in all three ways, and a fourth,
    z.backward(gradient=v), when a `vector` text gives v.

    Raises FormulaError (a ValueError) for any bad input, before doing the
    work the input would cost.
    """
    return run(prepare(x_text, layers_text, vector))


def run(prepared):
    """The exploration of a prepared input: the forward pass, and backward in every way it has."""
    program, x_values, vector = prepared.program, prepared.x, prepared.vector
    reductions, forward = {}, None
    for name, rule in ALL_REDUCTIONS.items():  # each on its own forward pass, so x.grad never accumulates
        if rule.given and vector is None:
            continue
        reductions[name], layers = run_reduction(program, x_values, name, vector)
        forward = layers if forward is None else forward  # every pass computes the same values: keep one
    names = program.names
    layers = {name: forward[name].detach().clone() for name in names}
    return Exploration(
        key=prepared.key,
        work=prepared.work,
        x=x_values,
        program=program,
        layers=layers,
        layer_reprs={name: tensor_repr(forward[name]) for name in names},
        reductions=reductions,
        vector=vector,
        warnings=_non_finite_warnings(program, layers, reductions),
        leaves={INPUT_NAME: x_values, **leaf_tensors(program)},
        cost=prepared.cost,
    )
