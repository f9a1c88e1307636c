"""The folded sections that prove and take away: the chain rule with sympy, the three-way check, the exports.
Each takes the exploration and the rerun's Selection (and the derivation) as parameters."""

import functools
import shutil

import numpy as np
import streamlit as st

from explorer.engine import elements
from explorer.engine.tree import is_elementwise
from explorer.page.common import CHAIN_CSS, download, drawn_safely, markdown_text
from explorer.serving import facade
from explorer.views.texts import MAX_LITERAL_ELEMENTS


@drawn_safely
def exports(result, selection):
    """The example as a script, a notebook and a graph file, to take back to Jupyter.

    Files are made when a button is clicked (a callable as data): a large x makes a large script.
    """
    columns = st.columns(4)
    download(columns[0], "Script (.py)", functools.partial(facade.script, result), "autograd_example.py",
             "text/x-python")
    download(columns[1], "Notebook (.ipynb)", functools.partial(facade.notebook, result), "autograd_example.ipynb",
             "application/json")
    dot = facade.dot(result, selection.reduction, selection.step_index, selection.plain)  # the graph as shown
    download(columns[2], "Graph (.dot)", dot, "autograd_graph.dot", "text/vnd.graphviz")
    if shutil.which("dot"):
        download(columns[3], "Graph (.svg)", functools.partial(facade.svg, dot), "autograd_graph.svg",
                 "image/svg+xml")
    else:
        columns[3].caption("SVG needs Graphviz's dot program on the server.")
    if result.x.numel() <= MAX_LITERAL_ELEMENTS:
        st.code(facade.script(result), language="python")
    else:
        st.caption(f"The script writes out all {result.x.numel():,} values of x: download it to read it.")


def _value_at(values, index):
    """Element `index` of nested lists shaped like x, or the one float of a scalar x (whose index is 0)."""
    return float(np.ravel(values)[index])


@drawn_safely
def chain_rule(result, derivation, selection):
    if not derivation.ok:
        st.info(markdown_text(derivation.message) + ". The numbers, the graph and the check below still hold.")
        return
    st.markdown(CHAIN_CSS, unsafe_allow_html=True)
    for layer in derivation.layers:  # one below the other: side by side, ∂o/∂w ran past the right edge
        for formula in (layer.formula, *layer.local):
            st.latex(formula)
        if layer.chain and layer.chain not in layer.local:  # a layer of x alone: its chain is its local derivative
            st.latex(layer.chain)
    with_leaves = not is_elementwise(result.program)
    of_what = "every element of x and the leaves" if with_leaves else "one element $x_i$ of x"
    name, element = selection.reduction, selection.element
    if name not in derivation.reductions:  # a typed vector: its numbers are no formula of x
        st.caption("The worked sums cover sum, mean and ones_like. Backward from `vector` gives vᵀJ: each "
                   "gradient is the v-weighted sum of J's rows (see *The Jacobian*).")
        return
    st.markdown(f"**Backward from `{name}`**, for {of_what}:")
    st.latex(derivation.reductions[name].latex)
    symbolic = _value_at(derivation.reductions[name].values, element.index)
    autograd = elements.grad_at(result, name, element.index)
    st.markdown(same_number_sentence(result, name, element, symbolic, autograd))


def arrival_step(result, name, leaf):
    """The step of the step-through (1-based) at which `leaf`'s .grad receives its gradient, or None."""
    reduction = result.reductions[name]
    for number, step in enumerate(reduction.steps, 1):
        node = reduction.nodes[step.node]
        if node.op == "AccumulateGrad" and node.leaf == leaf:
            return number
    return None


def same_number_sentence(result, name, element, symbolic, autograd):
    """The symbolic value beside autograd's, and where else it shows: the plot, and the step at which the
    leaf's .grad receives it. Autograd computes in float32: printed apart, the two agree to its precision."""
    label, grad = element.label, f"{element.leaf}.grad"
    step = arrival_step(result, name, element.leaf)
    total = len(result.reductions[name].steps)
    where = (f"step {step} of {total} of the step-through, where `{grad}` receives it" if step
             else "the step-through, where no gradient reaches it")
    if f"{symbolic:.6g}" == f"{autograd:.6g}":
        agree = "The same number, three places"
    else:
        agree = (f"Autograd computes in float32, and agrees to float32 precision (they differ by "
                 f"{abs(symbolic - autograd):.2g}). Three places show it")
    return (f"At `{label}` this is **{symbolic:.6g}**. {agree}: the tangent's slope in the plot, "
            f"`{grad}` at `{label}` = **{autograd:.6g}**, and {where}.")


def _check_table(check, shape):
    """One reduction's check as a DataFrame: built once per input, not converted again on every rerun."""
    import pandas  # here, not at the top: 0.5 s of a cold start's first page, which shows no table

    rows = [
        {
            "element": row.label or elements.label("x", shape, i),
            "autograd": f"{row.autograd:.6g}",
            "symbolic": "-" if row.symbolic is None else f"{row.symbolic:.6g}",
            "finite diff.": f"{row.finite_difference:.6g}",
            "": {True: "✓", False: "✗", None: "·"}[row.ok] + (f" {row.note}" if row.note else ""),
        }
        for i, row in enumerate(check.rows)
    ]
    return pandas.DataFrame(rows)


def _check_tables(result, checked):
    shape = tuple(result.x.shape)
    return facade.view(("check_tables", checked.symbolic), result,
                       lambda: {name: _check_table(check, shape) for name, check in checked.checks.items()})


@drawn_safely
def verification(result, derivation):
    """Prove the solution, as the notebooks do: autograd against symbolic and finite differences."""
    checked = facade.verification(result, derivation)
    tables = _check_tables(result, checked)
    st.caption(f"Agreement means {checked.tolerance}. Finite differences are central, in float64.")
    # One above the other: three side by side cut the finite-difference and ✓ columns of many-digit values.
    for name, check in checked.checks.items():
        mark = {True: "✓ agree", False: "✗ DISAGREE", None: "- nothing comparable"}[check.passed]
        worst = "-" if check.max_abs_diff is None else f"{check.max_abs_diff:.2e}"
        st.markdown(f"**{name}**: {mark}, max diff {worst}")
        st.table(tables[name], hide_index=True)
        if check.total is not None:
            st.caption(f"A sample: {check.elements} evenly spaced of {check.total:,} elements of x and the "
                       "leaves, each perturbed on its own; the mark covers the sample.")
        elif check.elements > len(check.rows):
            st.caption(f"First {len(check.rows)} of {check.elements:,} elements; the mark covers them all.")
    if not checked.passed:
        st.error("Autograd and a reference disagree on at least one element: see the ✗ rows.")
