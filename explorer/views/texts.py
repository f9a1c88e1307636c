"""The page's texts, built from an exploration alone: the forward pass and the gradients as code that runs as
shown, and one step of the backward pass in short lines. Pure functions: the page caches and draws them."""

from explorer.engine import elements
from explorer.engine.language import ALL_REDUCTIONS
from explorer.engine.printing import tensor_repr
from explorer.engine.tree import is_elementwise
from explorer.views.export import code_names, forward_code, vector_line
from explorer.views.walkthrough import describe, describe_tensors

MAX_LITERAL_ELEMENTS = 64  # beyond this, the page prints x as torch summarises it, not as a literal


def printed_comments(text):
    """What print() shows, as comments: the block stays runnable, and torch's layout is kept."""
    return ["# " + line for line in text.split("\n")]


def forward_text(result):
    """The forward pass as code that runs as shown (torch's names, as the export writes them), each value
    printed under its line. x beyond MAX_LITERAL_ELEMENTS is not written out: the exported script has it."""
    imports, steps = forward_code(result.program, result.x)
    lines = [imports, ""]
    for name, code_name, code in steps:
        if name == "x" and result.x.numel() > MAX_LITERAL_ELEMENTS:
            code = [f"# x holds {result.x.numel():,} values: the exported script (Export, below) writes them out"]
            lines += code + printed_comments(tensor_repr(result.x))
            continue
        if name in result.layer_reprs:
            printed = result.layer_reprs[name]
        else:  # x or a declared leaf, as torch prints a tensor that requires grad
            printed = tensor_repr(result.leaves[name].clone().requires_grad_(True))
        lines += [*code, f"print({code_name})", *printed_comments(printed)]
    return "\n".join(lines)


def backward_lines(result, name):
    """How backward starts under `name`, in the code's names (a layer called `out` is `out_` there)."""
    output = code_names(result.program)[result.program.output.name]
    lines = ALL_REDUCTIONS[name].code.format(z=output).split("\n")
    return [vector_line(result.vector), *lines] if ALL_REDUCTIONS[name].given else lines


def reduction_code(result, name):
    """How backward starts under `name`, then every .grad as torch prints it: code that runs as shown after the
    forward pass (the Forward pass tab), each printed value as comments under its print()."""
    reduction = result.reductions[name]
    names = code_names(result.program)
    lines = backward_lines(result, name)
    if reduction.out_repr is not None:
        lines[1:1] = ["print(out)", *printed_comments(reduction.out_repr)]
    lines += ["print(x.grad)", *printed_comments(tensor_repr(reduction.grad))]
    for leaf in result.program.leaves:  # every declared leaf's .grad, as torch prints it
        code = names[leaf.name]
        if leaf.name in reduction.unreached:
            lines += [f"print({code}.grad)",
                      f"# None: the output does not reach {leaf.name}; torch leaves .grad as None, its gradient is 0"]
        else:
            lines += [f"print({code}.grad)", *printed_comments(tensor_repr(reduction.leaf_grads[leaf.name]))]
    return "\n".join(lines)


def layer_gradient_code(result, name):
    """d out / d layer for every layer, as code that runs as shown after the forward pass: retain_grad() on each
    layer autograd tracks (a layer's .grad is otherwise not kept), backward as `name` starts it, then each .grad
    printed, as comments. A layer autograd does not track prints None."""
    reduction = result.reductions[name]
    names = code_names(result.program)
    tracked = [layer for layer in result.program.names if "grad_fn=" in result.layer_reprs[layer]]
    lines = ["# after the forward pass: keep each layer's gradient (only leaves keep theirs), then backward"]
    lines += [f"{names[layer]}.retain_grad()" for layer in tracked]
    lines += backward_lines(result, name)
    unreached = "# None: it depends on no leaf" if result.program.leaves else "# None: it does not depend on x"
    for layer, grad in reduction.layer_grads.items():
        shown = printed_comments(tensor_repr(grad)) if grad is not None else [unreached]
        lines += [f"print({names[layer]}.grad)", *shown]
    return "\n".join(lines)


def gradient_texts(result):
    return {name: reduction_code(result, name) for name in result.reductions}


def step_lines(result, name, number, index):
    """Step `number` (1-based) of `name`'s backward pass in short lines, so that it wraps between words, not
    inside numbers: at the chosen element for a program elementwise in x (the fast path: every node's gradient
    there is one number), else with whole tensors, since an element of a matmul's output depends on many."""
    if not is_elementwise(result.program):
        return _tensor_step_lines(describe_tensors(result, name, number))
    view = describe(result, name, number, index)
    grad = float(result.grads[name].flatten()[index])
    return _element_step_lines(view, elements.label("x", tuple(result.x.shape), index), grad)


def _element_step_lines(view, label, grad):
    # Every number is written `+ 0.0`, which turns a -0 into 0: explanations never print -0.
    lines = [f"step {view.number} of {view.total}: {view.op}", f"  {view.heading}", f"at {label}:",
             f"  gradient in: d out / d ({view.title}) = {view.incoming + 0.0:.6g}"]
    if view.accumulates:
        lines.append(f"  added into x.grad: x.grad at {label} = {grad + 0.0:.6g}")
    else:
        for edge in view.edges:
            lines += [
                f"  to {edge.to}: local d({view.title})/d({edge.to}) = {edge.local + 0.0:.6g}",
                f"    gradient out: {view.incoming + 0.0:.6g} × {edge.local + 0.0:.6g} = {edge.outgoing + 0.0:.6g}",
            ]
    if view.is_chain:
        product = " × ".join(f"{f + 0.0:.4g}" for f in view.factors)
        so_far = "" if view.accumulates else " so far"
        lines.append(f"  chain rule{so_far}: {product} = {view.running + 0.0:.6g}")
    else:
        lines.append("  (a DAG: where paths meet, grads add)")
    return lines


STEP_WIDTH = 40  # characters a step's line may take before it folds: the step-through's column, normal or projected


def _folded(indent, text):
    """A line of `a = b = c`, folded before its `=` signs when too long for the step-through's column: the words
    stay on the first line, and each continuation takes as many `= ...` as fit, so a soft wrap rarely falls
    inside a tensor."""
    if len(indent) + len(text) <= STEP_WIDTH:
        return [indent + text]
    first, *rest = text.split(" = ")
    lines, more = [indent + first], indent
    for part in rest:
        joined = f"{lines[-1]} = {part}"
        if len(lines) > 1 and len(joined) <= STEP_WIDTH:
            lines[-1] = joined
        else:
            lines.append(f"{more}= {part}")
    return lines


def _tensor_step_lines(view):
    """A step of a backward pass that is not elementwise, with whole tensors: each input's gradient by the op's
    local rule, in words and numbers; where gradients meet (a leaf's .grad +=, or a tensor used twice), each
    source named and their sum shown."""
    lines = [f"step {view.number} of {view.total}: {view.op}", f"  {view.heading}"]
    incoming = f"gradient in: d out / d ({view.title})"
    if len(view.arrivals) > 1:
        terms = " + ".join(grad for _, grad in view.arrivals)
        lines += _folded("  ", f"{incoming} = {terms} = {view.incoming}")
        lines.append(f"  {view.title} is used {len(view.arrivals)} times; where paths meet, gradients add")
    else:
        lines += _folded("  ", f"{incoming} = {view.incoming}")
    if view.leaf:
        for (_, grad), source in zip(view.arrivals, view.sources, strict=True):
            added, where = f"  {view.leaf}.grad += {grad}", f"(from {source})"
            lines += [f"{added}   {where}"] if len(added) + len(where) < STEP_WIDTH else [added, f"    {where}"]
    elif len(view.arrivals) > 1:
        for (_, grad), source in zip(view.arrivals, view.sources, strict=True):
            lines += [f"  from {source}:", f"    {grad}"]
    for edge in view.edges:
        if not edge.rule:
            lines += _folded("  ", f"to {edge.to}: gradient out d out / d ({edge.to}) = {edge.grad}")
            continue
        lines += _folded("  ", f"to {edge.to}: {edge.rule[0]}")
        for line in edge.rule[1:]:
            lines += _folded("    ", line)
    if any("⊙" in line for line in lines):
        lines.append("  (⊙ multiplies element by element)")
    return lines
