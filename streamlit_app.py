"""Autograd graph explorer: type x and layer formulas, see PyTorch's backward pass.

Layout and wiring only; everything computed lives in explorer/. Sections that are
not always needed are lazy: a closed tab or expander runs nothing and sends nothing.
"""

import streamlit as st
import torch

from explorer.page import ui

# Sessions are threads of one process on a small machine: one torch thread each beats two fighting
# over two cores (measured 3-30x slower under contention).
torch.set_num_threads(1)


def page():
    presenting = st.query_params.get("present") == "true"
    st.set_page_config(
        page_title="Autograd graph explorer",
        page_icon=ui.PAGE_ICON,
        layout="wide",
        initial_sidebar_state="collapsed" if presenting else "auto",
    )
    ui.init_state()
    view = ui.view_options()

    if not view.present:  # a projector needs the room: the browser's tab still names the page
        st.title("Autograd graph explorer")
        st.caption("Type an input tensor x and a chain of layers. See the graph PyTorch builds, and x.grad three ways.")

    controls, graph_area = ui.main_columns(view)
    with controls:
        x_text, layers_text = ui.editor(view)
        result = ui.compute(x_text, layers_text)
        if result is not None:
            reduction, element = ui.choose_view(result, view.present)
            if view.shows("steps"):
                ui.step_through(result, reduction, element)
            if view.present and view.shows("plot"):  # a projector: the plot under the step, beside the graph
                ui.tangent(result, reduction, element, present=True)

    if result is not None:
        if graph_area is not None:
            with graph_area:
                ui.autograd_graph(result, reduction, element, view.present)
        below = ("grads" if view.shows("grads") else "forward",) if view.present else ("plot", "grads")
        for column, section in ui.row(view, below):
            with column:
                if section == "plot":
                    ui.tangent(result, reduction, element)
                else:
                    ui.values(result, reduction, view)
        if view.shows("chain"):
            with ui.lazy_section("The chain rule, worked out", "chain") as chain:
                if chain.open:
                    ui.chain_rule(result, ui.derivation_for(result), reduction, element)
        if view.shows("verify"):
            with ui.lazy_section("Check: autograd = symbolic = finite difference", "verify") as check:
                if check.open:
                    ui.verification(result, ui.derivation_for(result))
        if view.shows("export"):
            with ui.lazy_section("Export: PyTorch script, Jupyter notebook, graph", "export") as export:
                if export.open:
                    ui.exports(result)

    ui.share_link(view)


# Small reruns run one at a time, in arrival order: with one GIL, sessions computing at once all finish late.
with ui.turn():
    page()
