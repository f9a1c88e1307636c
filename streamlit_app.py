"""Autograd graph explorer: type x and layer formulas, see PyTorch's backward pass.

Layout and wiring only; everything computed lives in explorer/.
"""

import streamlit as st

from explorer import ui

st.set_page_config(page_title="Autograd graph explorer", page_icon="∂", layout="wide")
ui.init_state()

st.title("Autograd graph explorer")
st.caption("Type an input tensor x and a chain of layers. See the graph PyTorch builds, and x.grad three ways.")

edit_column, graph_column = st.columns([2, 3])
with edit_column:
    x_text, layers_text = ui.editor()
    result = ui.compute(x_text, layers_text)

if result is not None:
    if st.session_state.get("last_good") != (x_text, layers_text):
        x_text, layers_text = st.session_state["last_good"]
    with edit_column:
        ui.forward_values(result)
    ui.gradients(result)
    reduction, element = ui.choose_view(result)
    with graph_column:
        ui.autograd_graph(result, reduction)
    plot_column, step_column = st.columns(2)
    with plot_column:
        ui.tangent(x_text, layers_text, reduction, element)
    with step_column:
        ui.step_through(result, reduction, element)
