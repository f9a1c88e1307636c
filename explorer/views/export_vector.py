"""The export under a typed vector v: backward from v, z.backward(gradient=torch.tensor(...)), and the Jacobian
of the output by every leaf, printed by torch.autograd.functional.jacobian, so the script shows both halves of
"backward is a vector-Jacobian product" with the page's numbers."""

import math

from explorer.engine import limits
from explorer.engine.shapes import infer
from explorer.views.export import (
    layer_line,
    leaf_definitions,
    notebook_file,
    notebook_for,
    reached_leaves,
    script_for,
    script_names,
    x_literal,
)

VECTOR_WORDS = (
    "#### Backward from a vector v\n"
    "`{z}.backward(gradient=v)` leaves vᵀJ in every leaf's `.grad`: the v-weighted sum of the rows of J, the "
    "Jacobian of `{z}` by that leaf. `sum` and `ones_like` are v of ones, `mean` is v of 1/N. "
    "`torch.autograd.functional.jacobian` prints each J, shaped `{z}.shape + leaf.shape`."
)


def _function_name(names):
    name = "output_of_leaves"
    while name in names.values():
        name += "_"
    return name


def vector_cells(program, x, vector):
    """The code cells: fresh leaves and forward pass, backward from v with every leaf's .grad printed, then J by
    each leaf (left out, with a comment, when one has more than limits.MAX_JACOBIAN_ENTRIES entries)."""
    names = script_names(program)
    output = names[program.output.name]
    leaves = ["x", *(names[leaf.name] for leaf in program.leaves)]
    fresh = "\n".join(["# fresh leaves: .grad starts empty", *leaf_definitions(program, x, names),
                       *(layer_line(layer, names) for layer in program.layers)])
    v = f"torch.tensor({x_literal(vector.tolist())})"
    if reached_leaves(program):
        backward = [f"{output}.backward(gradient={v})  # v"]
    else:
        backward = [f"# {output} reaches no leaf: nothing to differentiate, every .grad stays None (v = {v})"]
    for leaf in leaves:
        backward += [f'print("{leaf}.grad (vector):")', f"print({leaf}.grad)"]
    out_size = math.prod(infer(program, tuple(x.shape))[0][program.output.name])
    sizes = {"x": x.numel(), **{names[leaf.name]: leaf.size for leaf in program.leaves}}
    if any(out_size * size > limits.MAX_JACOBIAN_ENTRIES for size in sizes.values()):
        return [fresh, "\n".join(backward + [f"# the Jacobians have over {limits.MAX_JACOBIAN_ENTRIES:,} entries: "
                                            "not printed"])]
    function = _function_name(names)
    body = [f"    {layer_line(layer, names)}" for layer in program.layers] + [f"    return {output}"]
    jacobian = [f"def {function}({', '.join(leaves)}):", *body, "",
                f"jacobians = torch.autograd.functional.jacobian({function}, "
                f"({', '.join(f'{leaf}.detach()' for leaf in leaves)},))"]
    for number, leaf in enumerate(leaves):
        jacobian += [f'print("d {output} / d {leaf}:")', f"print(jacobians[{number}])"]
    return [fresh, "\n".join(backward), "\n".join(jacobian)]


def exploration_script(result):
    """The script the page exports: script_for, then, under a typed vector, vector_cells."""
    script = script_for(result.program, result.x)
    if result.vector is None:
        return script
    return script + "\n\n" + "\n\n".join(vector_cells(result.program, result.x, result.vector)) + "\n"


def exploration_notebook(result):
    """The notebook the page exports, as the .ipynb file's text: notebook_for, then the vector's cells."""
    more = []
    if result.vector is not None:
        output = script_names(result.program)[result.program.output.name]
        more = [("markdown", VECTOR_WORDS.format(z=output)),
                *(("code", cell) for cell in vector_cells(result.program, result.x, result.vector))]
    return notebook_file(notebook_for(result.program, result.x, more))
