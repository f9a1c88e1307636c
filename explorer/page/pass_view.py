"""The pass at one element: the chooser of the way backward starts and of the element, the autograd graph, the
step-through and the tangent plot. Each section takes the rerun's Selection; none reads the session."""

import contextlib

import streamlit as st

from explorer.engine import elements
from explorer.engine.errors import FormulaError
from explorer.engine.tree import is_elementwise
from explorer.page.common import PRESENTATION_GRAPH_INCHES, URL, drawn_safely, markdown_text
from explorer.serving import facade
from explorer.views.graph import fitted, saved_sentence, titled
from explorer.views.parabola import parabola_words, with_parabola
from explorer.views.plot import SpecFigure, tangent_figure
from explorer.views.texts import step_lines


def backward_help(z):
    """The chooser's tooltip, naming the real output `z` (o, loss), and what `gradient=` is."""
    return (f"How backward starts from the output `{z}`. **sum**: `out = {z}.sum(); out.backward()`. "
            f"**mean**: `out = {z}.mean(); out.backward()`, every gradient divided by the number of elements of "
            f"`{z}`. **ones_like**: `{z}.backward(gradient=torch.ones_like({z}))`. `gradient=` is the vector "
            f"backward starts with, d out / d `{z}` for each element of `{z}` (needed when `{z}` is not a single "
            "number): ones give the same gradients as sum. **vector**, when one is typed under the layers: "
            f"`{z}.backward(gradient=v)`.")


@drawn_safely
def choose_view(result, selection, present=False):
    """The reduction and the element that the plot, the graph and the step-through look at: one above the
    other (side by side, the narrow column cut "ones_like" off), or on one row in the projector's wider one.
    The widgets show the selection: its values were put right before they are drawn."""
    left, right = st.columns([2, 1]) if present else (contextlib.nullcontext(), contextlib.nullcontext())
    with left:
        st.segmented_control(
            "Backward from", list(result.reductions), key="reduction", required=True, bind=URL,
            help=backward_help(result.program.output.name),
        )
    of_what = "Element of x or a leaf" if result.program.leaves else "Element of x"
    with right:
        if selection.by_label:
            st.selectbox(of_what, elements.labels(result), key="element", bind=URL)
        else:
            # Text, not st.number_input: its int() raises inside Streamlit on "inf" in a link or text in a message.
            st.text_input(f"{of_what} (flat index, 0 to {elements.count(result) - 1:,})", key="element_index",
                          placeholder="0", bind=URL)
        if "element" in selection.notices:
            st.caption(markdown_text(selection.notices["element"]))


PARABOLA_HELP = ("out(v) + g·(t − v) + h/2·(t − v)²: the parabola with the curve's value, slope g and curvature "
                 "h = d²out/dv² at the point (the Hessian's diagonal entry, by a second autograd pass). Its "
                 "vertex, marked ×, is Newton's step v − g/h.")


@drawn_safely
def tangent(result, selection, present=False):
    try:
        curve = facade.curve(result, selection.element.index, selection.reduction)
    except FormulaError as error:  # the plot alone is over its limit: the rest of the page holds
        st.info("**No plot for this input:** " + markdown_text(str(error)))
        return
    figure = tangent_figure(curve, selection.reduction, present)
    h = None
    if not present and st.toggle("Osculating parabola", key="parabola", bind=URL, help=PARABOLA_HELP):
        h = facade.curvature(result, selection.element.index, selection.reduction)
        figure = SpecFigure(with_parabola(figure.to_dict(), curve, h))
    # The key names the chart for tests and the session; it does not keep the chart in the browser across edits:
    # Streamlit 1.67's element id includes the figure, so a new curve is a new chart (bench/ANALYSIS.md, browser).
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False}, key="tangent_plot")
    if h is not None:
        st.caption(markdown_text(parabola_words(curve, h)))
    if not present:
        st.caption("Drag the slider under the plot to move the point: the dashed line stays tangent.")


GRAPH_CAPTION = (
    "Each node: the layer or subexpression it computes, its torch op, its forward value, and the gradient "
    "d out / d (node) flowing into it. Blue is x and every leaf; dashed boxes are detached constants; green is "
    "the output, where backward starts; yellow nodes make a layer; grey ones make a part of a formula, or add "
    "into a leaf's .grad (AccumulateGrad). In the step-through, orange is the current step and violet the steps "
    "autograd has already visited."
)
PLAIN_GRAPH_CAPTION = "torchviz's own graph: blue is x, green is the output, grey nodes are the backward ops."
FOLDED_CAPTION = (
    "Folded: each layer is one node, its formula and its ops (`4 ops: Exp×2, Sum, Div`), with the layer's value "
    "and gradient; each leaf holds its AccumulateGrad. The step-through highlights the layer its step is in."
)
FOLD_HELP = ("Draw each layer as one node: the backward ops its formula made are folded into it, so a large "
             "graph stays readable on a projector. The step-through highlights the layer holding its step.")


SAVED_HELP = ("What backward keeps: torchviz's show_saved, the tensors each node keeps for its local derivative "
              "(orange), with their shapes and bytes. backward() frees them.")

STALE_BANNER = ("**Stale graph:** this is the last example that worked, not the input in the editor. "
                "Fix the error there to see your own.")
STALE_TITLE = "STALE: the last example that worked, not the current input"


def stale_marked(dot):
    """The graph with a red title over it: it belongs to the last example that worked, not to the input."""
    return titled(dot, STALE_TITLE, colour="#b00020")


def projector_title(result, label):
    """The projector graph's one rule, said on it: x-shaped tensors at the element, any other tensor whole. In
    two short lines: one long line would widen the fitted graph and shrink its text."""
    if is_elementwise(result.program):  # every tensor is shaped like x
        return f"values and grads at {label}"
    return f"values and grads at {label}", "(tensors not shaped like x: whole)"


# The graph's toggles, long and short: a projector's narrow graph column cut the long ones to "Plain tor…".
TOGGLE_LABELS = {False: ("Plain torchviz", "Fold layers", "Saved tensors"), True: ("Plain", "Fold", "Saved")}
PLAIN_HELP = "torchviz's own graph: the backward ops alone, without the layers, values and grads."


@drawn_safely
def autograd_graph(result, selection, present=False):
    plain_label, fold_label, saved_label = TOGGLE_LABELS[present]
    plain, folded, saved = st.columns(3)  # on one row: a projector's screen holds the graph below them whole
    plain.toggle(plain_label, key="plain_graph", bind=URL, help=PLAIN_HELP)
    keeps = saved.toggle(saved_label, key="saved", bind=URL, help=SAVED_HELP)
    folded.toggle(fold_label, key="fold", bind=URL, help=FOLD_HELP, disabled=selection.plain or keeps)
    fold = selection.fold and not selection.plain and not keeps  # the saved tensors hang on the unfolded nodes
    if selection.stale:  # a banner over the graph, and the graph's own title says it too
        st.error(STALE_BANNER)
    mark = stale_marked if selection.stale else (lambda dot: dot)
    step = selection.step_index
    if present:  # a projector: short labels at the chosen element, and the whole graph on the screen
        # The labels index x's elements; a leaf's element (w[0]) has no place in x, so its graph shows whole tensors.
        element = selection.element
        at, title = (element.flat, projector_title(result, element.label)) if element.leaf == "x" else (
            None, "values and grads")
        dot = (facade.saved_dot(result, selection.reduction, step, selection.plain, at) if keeps
               else facade.dot(result, selection.reduction, step, selection.plain, at, fold=fold))
        st.graphviz_chart(mark(fitted(dot, *PRESENTATION_GRAPH_INCHES, title=title)), width="content")
        return
    dot = (facade.saved_dot(result, selection.reduction, step, selection.plain) if keeps
           else facade.dot(result, selection.reduction, step, selection.plain, fold=fold))
    st.graphviz_chart(mark(dot), width="content")
    st.caption(PLAIN_GRAPH_CAPTION if selection.plain else FOLDED_CAPTION if fold else GRAPH_CAPTION)
    if keeps:
        st.markdown(saved_sentence(facade.saved(result, selection.reduction), result.program.output.name))


@drawn_safely
def step_through(result, selection):
    name = selection.reduction
    steps = result.reductions[name].steps
    if not steps:
        if result.program.leaves and any(bool(g.any()) for g in result.leaf_grads[name].values()):
            st.info("The output is a leaf itself: no operation to step through; its .grad is the seed.")
        elif result.grads[name].any():
            st.info("The output is x itself: no operation to step through; x.grad is the seed, 1 per element.")
        else:
            st.info("The output does not depend on x: there is no backward pass, and every gradient is 0.")
        return
    if "backward_step" in selection.notices:
        st.caption(markdown_text(selection.notices["backward_step"]))
    st.slider("Backward step (0 shows the whole pass)", 0, len(steps), key="backward_step", bind=URL)
    if selection.step == 0:
        st.caption(f"Autograd visits {len(steps)} nodes. Move the slider to follow it one node at a time.")
        return
    lines = facade.view(("step", name, selection.step, selection.element.index), result,
                        lambda: step_lines(result, name, selection.step, selection.element.index))
    st.code("\n".join(lines), language=None, wrap_lines=True)
