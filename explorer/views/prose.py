"""The notebook's words, written from the tree: its formulas in LaTeX, and what each way of starting backward
means for this program (a scalar output, a matmul, leaves), in sentences the page's own say the same way."""



from explorer.engine.language import ATOM_PRECEDENCE, CALLS, CONSTANTS, INPUT_NAME, REDUCTIONS, UNARY, name_latex
from explorer.engine.tree import (
    Binary,
    Call,
    Lit,
    Name,
    Num,
    bracketed,
    fold,
    is_elementwise,
    names_used,
    operator_row,
)

# ---------------------------------------------------------------- LaTeX from the tree


def _latex_number(text):
    """A number as written; 1e-05 as 1 \\times 10^{-5}, which needs brackets only as a power's base."""
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text, ATOM_PRECEDENCE
    return rf"{mantissa} \times 10^{{{int(exponent)}}}", UNARY["-"].precedence


def _juxtaposed(node):
    """`3x` for a number times a name or a call (or a power of one), rather than a dot."""
    if not (isinstance(node, Binary) and node.op == "*" and isinstance(node.left, Num)):
        return False
    right = node.right.left if isinstance(node.right, Binary) and node.right.op == "**" else node.right
    return isinstance(right, Name | Call)


def _latex_leaf(node):
    if isinstance(node, Num):
        return _latex_number(node.text)
    if isinstance(node, Lit):
        return r"\texttt{" + node.text + "}", ATOM_PRECEDENCE
    return (CONSTANTS[node.id].latex if node.id in CONSTANTS else name_latex(node.id)), ATOM_PRECEDENCE


def _latex_apply(node, operands):
    if isinstance(node, Call):
        return rf"{CALLS[node.fn].latex}{{\left({operands[0][0]}\right)}}", ATOM_PRECEDENCE
    row = operator_row(node)
    texts = bracketed(operands, row, lambda text: rf"\left({text}\right)", latex=True)
    template = "{0} {1}" if _juxtaposed(node) else row.latex
    return template.format(*texts), row.latex_precedence or row.precedence


def latex(node):
    """A tree as LaTeX, with brackets where the precedence needs them (as tree.to_text puts them)."""
    return fold(node, _latex_leaf, _latex_apply)[0]


def latex_layer(layer):
    return f"{name_latex(layer.name)} = {latex(layer.expr)}"


def _aligned(lines):
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"


# ---------------------------------------------------------------- the notebook's words


def intro(program):
    layers = [latex_layer(layer).replace(" = ", " &= ", 1) for layer in program.layers]
    if program.leaves:
        leaves = ", ".join(f"${name_latex(leaf.name)}$" for leaf in program.leaves)
        inputs, grads = f"the input $x$ and the leaves {leaves}", "every leaf's `.grad`"
    else:
        inputs, grads = "the input $x$", "`x.grad`"
    return (
        "# Backpropagation with PyTorch's autograd\n\n"
        f"Exported from the autograd graph explorer. The layers below are built on {inputs}; "
        f"then `backward()` runs three ways, each on fresh leaves, and prints {grads}.\n\n" + _aligned(layers)
    )


X_WORDS = (
    "## 1. Create a tensor\n\n"
    "`requires_grad=True` tells autograd to record every operation on `x`, "
    "so that `backward()` can send gradients back to it."
)


def _total_derivative(layer):
    """d layer / dx as the sum, over what the layer reads, of (local derivative) times (its d/dx)."""
    name = name_latex(layer.name)
    terms = []
    for used in names_used(layer.expr):
        if used == INPUT_NAME:
            terms.append(rf"\frac{{\partial {name}}}{{\partial x}}")
        elif used not in CONSTANTS:
            other = name_latex(used)
            terms.append(rf"\frac{{\partial {name}}}{{\partial {other}}}\,\frac{{d{other}}}{{dx}}")
    return rf"\frac{{d{name}}}{{dx}} &= " + (" + ".join(terms) or "0")


def chain_rule_words(program, output):
    if not is_elementwise(program):
        return (
            "## The chain rule\n\n"
            "Each layer is a function of the values before it, and the local derivatives multiply along every "
            "path back to a leaf, adding where paths meet (a leaf used twice receives the sum of both). With `@`, "
            "`sum` or `mean` an element of a layer depends on many elements before it: for $h = W x$, "
            r"$\frac{\partial \mathrm{out}}{\partial W} = \frac{\partial \mathrm{out}}{\partial h}\,x^{T}$ and "
            r"$\frac{\partial \mathrm{out}}{\partial x} = W^{T}\frac{\partial \mathrm{out}}{\partial h}$. "
            "`detach` cuts a path: no gradient flows through it."
        )
    return (
        "## The chain rule\n\n"
        "Each layer is a function of the values before it. If $v$ reads $u$ and $u$ reads $x$, then "
        r"$\frac{dv}{dx} = \frac{\partial v}{\partial u}\,\frac{du}{dx}$: the local derivatives multiply. "
        "Where a layer reads several values, the products along each path add up. For this example:\n\n"
        + _aligned([_total_derivative(layer) for layer in program.layers])
        + "\n\nEvery operation is elementwise, so element $i$ of each layer depends only on $x_i$. "
        "Autograd's graph holds one node per operation, each knowing its local derivative; `backward()` "
        f"starts from $\\frac{{\\partial \\mathrm{{out}}}}{{\\partial {name_latex(output)}_i}}$ "
        "and multiplies its way back to $x$."
    )


def reduction_words(name, output, count, reads_x, elementwise=True, leaves=False):
    """What backward from `out` means, in words true for this program: `count` is the output's number of
    elements (not x's), and an element of the output depends on x's element alone only when `elementwise`."""
    z = name_latex(output)
    grads = "every leaf's `.grad`" if leaves else "`x.grad`"
    if count == 1:  # a scalar output: sum, mean and ones_like all start backward with 1
        words = {
            "sum": rf"`{output}` is a single number, so $\mathrm{{out}} = {z}$ and "
            rf"$\frac{{\partial \mathrm{{out}}}}{{\partial {z}}} = 1$: {grads} holds the derivative of `{output}` "
            "itself.",
            "mean": rf"`{output}` is a single number: its mean is itself, so "
            rf"$\frac{{\partial \mathrm{{out}}}}{{\partial {z}}} = 1$ and {grads} is the same as for `sum`.",
            "ones_like": f"`{output}` is a single number, so `torch.ones_like({output})` is 1: the same start as "
            f"`sum`, so {grads} is the same.",
        }[name]
    else:
        holds = (rf"`x.grad` holds $\frac{{d{z}_i}}{{dx_i}}$, since ${z}_i$ depends on $x_i$ alone." if elementwise
                 else rf"{grads} holds $\sum_i \frac{{\partial {z}_i}}{{\partial x_j}}$ for each element $x_j$ "
                 "(and likewise for each leaf): an element of the output depends on many inputs, and their "
                 "contributions add.")
        words = {
            "sum": rf"$\mathrm{{out}} = \sum_i {z}_i$ over the {count} elements of `{output}`, so "
            rf"$\frac{{\partial \mathrm{{out}}}}{{\partial {z}_i}} = 1$ and {holds}",
            "mean": rf"$\mathrm{{out}} = \frac{{1}}{{{count}}}\sum_i {z}_i$ over the {count} elements of "
            rf"`{output}`, so $\frac{{\partial \mathrm{{out}}}}{{\partial {z}_i}} = \frac{{1}}{{{count}}}$: "
            f"{grads} is the gradient of `sum` divided by {count}.",
            "ones_like": "Without arguments `backward()` needs a single number. For a tensor, `gradient` gives "
            rf"$\frac{{\partial \mathrm{{out}}}}{{\partial {z}_i}}$ for every element: ones, the same as `sum`.",
        }[name]
    if not reads_x:
        words += f"\n\n`{output}` does not depend on `x`, so nothing flows back: `x.grad` stays `None`, that is zero."
    code = backward_code(name, output).replace("\n", "; ")
    return f"## Backward with `{code}`\n\n{words}"


def backward_code(name, output):
    """language.REDUCTIONS' snippet, reading the output layer by its (script) name."""
    return REDUCTIONS[name].code.format(z=output)
