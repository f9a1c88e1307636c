"""Autograd graph explorer: type x and layer formulas, see PyTorch's backward pass.

Layout and wiring only; everything computed lives in explorer/.
"""

import streamlit as st
import torch

from explorer import ui

# Sessions are threads of one process on a small machine: one torch thread each beats two fighting
# over two cores (measured 3-30x slower under contention).
torch.set_num_threads(1)

presenting = st.query_params.get("present") == "true"
st.set_page_config(
    page_title="Autograd graph explorer",
    page_icon="∂",
    layout="wide",
    initial_sidebar_state="collapsed" if presenting else "auto",
)
ui.init_state()
view = ui.view_options()

st.title("Autograd graph explorer")
st.caption("Type an input tensor x and a chain of layers. See the graph PyTorch builds, and x.grad three ways.")

edit_column, graph_column = st.columns([2, 3])
with edit_column:
    with st.expander("Edit x and layers", expanded=view.shows("editor") and not view.present):
        x_text, layers_text = ui.editor()
    result = ui.compute(x_text, layers_text)

if result is not None:
    if view.shows("forward"):
        with edit_column:
            ui.forward_values(result)
    if view.shows("grads"):
        ui.gradients(result)
    reduction, element = ui.choose_view(result)
    if view.shows("graph"):
        with graph_column:
            ui.autograd_graph(result, reduction, view.present)
    plot_column, step_column = st.columns(2)
    if view.shows("plot"):
        with plot_column:
            ui.tangent(result, reduction, element, view.present)
    if view.shows("steps"):
        with step_column:
            ui.step_through(result, reduction, element)
    if view.shows("chain") or view.shows("verify"):
        derivation = ui.derivation_for(result)
    if view.shows("chain"):
        chain_column, grads_column = st.columns([3, 2])
        with chain_column:
            ui.chain_rule(result, derivation, reduction, element)
        with grads_column:
            ui.layer_gradients(result, reduction)
    if view.shows("verify"):
        ui.verification(result, derivation)
    if view.shows("export"):
        ui.exports(*st.session_state["last_good"], result)
