"""The floor: the explorer's two inputs, echoed back. Whatever this costs is Streamlit's own round trip."""

import streamlit as st

x_text = st.text_input("x (a number or nested list)", value="[[1., 2, 3], [3, 2, 1]]", key="x")
layers_text = st.text_area("Layers", value="y = 3*x + 2\nz = 2*y**2", key="layers", height=140)
st.code(x_text, language=None)
st.code(layers_text, language=None)
