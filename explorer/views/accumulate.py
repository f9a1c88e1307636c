"""Calling backward twice, as code that runs as shown after a fresh forward pass: each run's calls, then every
.grad as torch prints it, as comments (the numbers come from explorer.engine.accumulate, which ran them)."""

from explorer.engine.printing import tensor_repr
from explorer.views.export import code_names
from explorer.views.texts import backward_lines, printed_comments


def _retaining(line):
    """`out.backward()` -> `out.backward(retain_graph=True)`; `z.backward(gradient=v)` likewise."""
    head = line[:-1]
    return head + ("retain_graph=True)" if head.endswith("(") else ", retain_graph=True)")


def _grads(result, grads):
    names = code_names(result.program)
    lines = []
    for leaf, grad in grads.items():
        code = names.get(leaf, leaf)
        lines += [f"print({code}.grad)", *printed_comments(tensor_repr(grad))]
    return lines


def twice_codes(result, twice):
    """The three runs of explorer.engine.accumulate.Twice as three code texts: (retained, freed, zeroed)."""
    *start, call = backward_lines(result, twice.way)  # out = z.sum() / v = ..., then the backward call
    names = code_names(result.program)
    reached = [leaf for leaf in twice.once if leaf not in result.reductions[twice.way].unreached]
    retained = [*start, _retaining(call), *_grads(result, twice.once), call, "# every .grad has doubled:",
                *_grads(result, twice.retained)]
    if twice.error:
        freed = [*start, call, call, f"# RuntimeError: {twice.error}"]
    else:
        freed = [*start, call, call, "# no error: this graph saved no tensor for backward, so nothing was freed;",
                 "# .grad still adds up:", *_grads(result, twice.freed)]
    zeroed = [*start, _retaining(call), *(f"{names.get(leaf, leaf)}.grad.zero_()" for leaf in reached), call,
              "# the same as one backward pass:", *_grads(result, twice.zeroed)]
    return "\n".join(retained), "\n".join(freed), "\n".join(zeroed)
