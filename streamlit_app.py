"""Autograd graph explorer: type x and layer formulas, see PyTorch's backward pass.

The picture frame: it lays the page out and hands each section its inputs; everything computed lives in
explorer/ (explorer.page draws, explorer.serving caches and admits, below them the views and the engine).
Sections that are not always needed are lazy: a closed tab or expander runs nothing and sends nothing.
"""

import sys
import weakref

import streamlit as st

# A process's first page waits seconds for PyTorch's import. Meanwhile the browser fetches and compiles the two
# chart libraries (plotly.js, Graphviz's WebAssembly), which it would otherwise begin only when the first real
# chart arrives: a line saying why, and an empty chart of each kind, until the imports are done. From the
# server's spawn to the drawn page, 6.44 -> 5.28 s against the floor app's 2.6 s (bench/ANALYSIS.md).
STARTING = st.empty() if "torch" not in sys.modules else None
if STARTING is not None:
    with STARTING.container():
        st.caption("Starting the server: PyTorch is loading.")
        st.graphviz_chart("digraph { }")
        st.plotly_chart({"data": [{"type": "scatter", "x": [], "y": []}], "layout": {"height": 40}})

import torch  # noqa: E402

from explorer.page import (  # noqa: E402
    checks,
    common,
    editor,
    jacobian_view,
    pass_view,
    second_view,
    session,
    train_view,
    values,
)
from explorer.serving import facade  # noqa: E402

# Sessions are threads of one process on a small machine: one torch thread each beats two fighting
# over two cores (measured 3-30x slower under contention).
torch.set_num_threads(1)
if STARTING is not None:
    STARTING.empty()
facade.start()  # once per process: the collector's freeze, the memory threads, the warm sympy workers


def page():
    presenting = st.query_params.get("present") == "true"
    st.set_page_config(
        page_title="Autograd graph explorer",
        page_icon=common.PAGE_ICON,
        layout="wide",
        initial_sidebar_state="collapsed" if presenting else "auto",
    )
    session.init_state()
    view = session.view_options()
    link = session.link_area()

    if not view.present:  # a projector needs the room: the browser's tab still names the page
        st.title("Autograd graph explorer")
        st.caption("Type an input tensor x and a chain of layers. See the graph PyTorch builds, and x.grad three ways.")

    controls, graph_area = common.main_columns(view)
    with controls:
        x_text, layers_text = editor.editor(view)
        result = editor.compute(x_text, layers_text)
        if result is not None:
            selection = session.selection(result)
            pass_view.choose_view(result, selection, view.present)
            step_and_graph(weakref.ref(result), selection, view, graph_area, link)
            if view.present and view.shows("plot"):  # a projector: the plot under the step, beside the graph
                pass_view.tangent(result, selection, present=True)

    if result is not None:
        below = ("grads" if view.shows("grads") else "forward",) if view.present else ("plot", "grads")
        for column, section in common.row(view, below):
            with column:
                if section == "plot":
                    pass_view.tangent(result, selection)
                else:
                    values.values(result, selection, view)
        if view.shows("chain"):
            with common.lazy_section("The chain rule, worked out", "chain") as chain:
                if chain.open:
                    checks.chain_rule(result, facade.derivation(result, session.session_id()), selection)
        if view.shows("jacobian"):
            with common.lazy_section(jacobian_view.JACOBIAN_TITLE, "jacobian") as jacobian:
                if jacobian.open:
                    jacobian_view.jacobian(result, selection)
        if view.shows("accumulate"):
            with common.lazy_section(jacobian_view.ACCUMULATE_TITLE, "accumulate") as accumulate:
                if accumulate.open:
                    jacobian_view.backward_twice(result, selection)
        if view.shows("verify"):
            with common.lazy_section("Check: autograd = symbolic = finite difference", "verify") as check:
                if check.open:
                    checks.verification(result, facade.derivation(result, session.session_id()))
        if view.shows("second"):
            with common.lazy_section("Second derivatives: the Hessian and the graph of backward", "second") as second:
                if second.open:
                    second_view.second_derivatives(result, selection)
        if view.shows("train"):
            with common.lazy_section("Train: gradient descent with torch.optim", "train") as training:
                if training.open:
                    train_view.train(result, x_text, layers_text, selection)
        if view.shows("export"):
            with common.lazy_section("Export: PyTorch script, Jupyter notebook, graph", "export") as export:
                if export.open:
                    checks.exports(result, selection)

    if result is None:  # else the fragment drew it
        session.share_link(view, link)


@st.fragment
def step_and_graph(explored, selection, view, graph_area, link):
    """The step slider with its step, and the graph with its toggles, in the graph's column: moving one of them
    reruns this alone, with a Selection of its own, and the sidebar's link. `explored` is a weak reference:
    a fragment's arguments live until the next full run, and the result's admission reservation with them."""
    result = explored()
    if result is None:  # no longer cached: the page computes it again
        st.rerun(scope="app")
    with facade.turn():  # in the full run, the page's own turn
        if session.fragment_rerun():  # the full run's selection is the one it was called with
            selection = session.selection(result)
        if view.shows("steps"):
            pass_view.step_through(result, selection)
        if graph_area is not None:
            with graph_area:
                pass_view.autograd_graph(result, selection, view.present)
    session.share_link(view, link)  # a step or a toggle is in the link too


# Small reruns run one at a time, in arrival order: with one GIL, sessions computing at once all finish late.
with facade.turn():
    page()
facade.warm_up()  # once per process, after the first page is out: torch.func's first call, off the visitor's path
