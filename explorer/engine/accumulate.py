"""Calling backward twice, run for real: .grad accumulates, a freed graph refuses, zeroing in between resets.

Three runs, each on fresh leaves (x and every declared leaf) and its own forward pass, starting backward the
way `way` (a row of language.ALL_REDUCTIONS) does:
- retained: backward(retain_graph=True), then backward again with no zeroing: each .grad is the sum of both
  passes, twice once's (torch adds into .grad; it never overwrites it);
- freed: backward() then backward() again: torch freed the tensors the graph saved for backward after the first
  pass, and the second raises its own RuntimeError, whose text is kept as torch wrote it. A graph that saved
  nothing (y = x + 2, or a sum: their local derivatives are ones) has nothing to free, so torch does not refuse
  and .grad accumulates as in the first run: `error` is then "" (3*x saves its 3, and refuses);
- zeroed: backward(retain_graph=True), then .grad.zero_() on every leaf (what optimizer.zero_grad() does, in
  place), then backward again: the grads of one pass.
"""

from dataclasses import dataclass

import torch

from explorer.engine.forward import leaf_tensors, run_forward
from explorer.engine.language import ALL_REDUCTIONS, INPUT_NAME


@dataclass(frozen=True)
class Twice:
    way: str  # how backward starts: "sum", "mean", "ones_like" or "vector"
    once: dict  # leaf name (x first) -> .grad after the first backward (zeros where the output does not reach)
    retained: dict  # leaf name -> .grad after two backward calls with retain_graph=True and no zeroing
    freed: dict  # leaf name -> .grad after backward() then backward() again, where torch let it (see `error`)
    error: str  # torch's RuntimeError text for the second backward without retain_graph; "" when it ran
    zeroed: dict  # leaf name -> .grad after backward, .grad.zero_() on every leaf, and backward again


def _grads(leaves):
    return {name: torch.zeros_like(leaf.detach()) if leaf.grad is None else leaf.grad.detach().clone()
            for name, leaf in leaves.items()}


def _fresh(program, x_values, way, vector):
    """Fresh leaves that require grad, the root backward starts from, and its gradient= seed."""
    x = x_values.clone().requires_grad_(True)
    leaves = {INPUT_NAME: x, **leaf_tensors(program, requires_grad=True)}
    z = run_forward(program, x, leaves={n: leaf for n, leaf in leaves.items() if n != INPUT_NAME})[
        program.output.name]
    rule = ALL_REDUCTIONS[way]
    root = rule.out(z)
    return leaves, root, rule.seed(root, vector)


def backward_twice(program, x_values, way, vector=None):
    """The three runs above for `program` at x = `x_values` (float32), backward started the way `way` does
    (`vector`, shaped like the output, for "vector"). An output that reaches no leaf gives zeros throughout and
    no error: there is no backward pass to repeat."""
    leaves, root, seed = _fresh(program, x_values, way, vector)
    if not root.requires_grad:
        zeros = _grads(leaves)
        return Twice(way, zeros, zeros, zeros, "", zeros)
    root.backward(gradient=seed, retain_graph=True)
    once = _grads(leaves)
    root.backward(gradient=seed)
    retained = _grads(leaves)

    leaves, root, seed = _fresh(program, x_values, way, vector)
    root.backward(gradient=seed)
    try:
        root.backward(gradient=seed)
        error = ""
    except RuntimeError as refused:
        error = " ".join(str(refused).split())
    freed = _grads(leaves)

    leaves, root, seed = _fresh(program, x_values, way, vector)
    root.backward(gradient=seed, retain_graph=True)
    for leaf in leaves.values():
        if leaf.grad is not None:
            leaf.grad.zero_()
    root.backward(gradient=seed)
    return Twice(way, once, retained, freed, error, _grads(leaves))
