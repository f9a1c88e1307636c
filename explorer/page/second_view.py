"""The "Second derivatives" section: the Hessian as a heatmap, its diagonal for elementwise programs, and the graph
that backward builds when asked to keep one. It takes the rerun's result and Selection; it reads no session."""

import streamlit as st

from explorer.engine.errors import FormulaError
from explorer.page.common import drawn_safely, markdown_text
from explorer.serving import facade
from explorer.views.second import DOUBLE_BACKWARD_WORDS, hessian_figure

DIAGONAL_WORDS = ("Every layer is elementwise, so element i of x reaches only element i of the output: the Hessian "
                  "is diagonal, and its diagonal, shaped like x, is d²out/dxᵢ² for each element:")


@drawn_safely
def second_derivatives(result, selection):
    reduction = selection.reduction
    try:
        second = facade.hessian(result, reduction)
    except FormulaError as error:  # over its limits: the rest of the section and the page hold
        st.info("**No Hessian for this input:** " + markdown_text(str(error)))
    else:
        st.plotly_chart(hessian_figure(second), width="stretch", config={"displaylogo": False}, key="hessian_plot")
        st.caption("Row and column i are leaf element i, x's first, then each leaf's in order (hover for a number). "
                   "The Hessian is symmetric: the order of two derivatives does not matter.")
        if second.diagonal:
            st.markdown(DIAGONAL_WORDS)
            st.code(second.diagonal, language=None)
    st.markdown("**The graph of backward**")
    try:
        dot = facade.double_backward(result, reduction)
    except FormulaError as error:
        st.info("**No graph of backward for this input:** " + markdown_text(str(error)))
        return
    st.graphviz_chart(dot, width="content")
    st.caption(DOUBLE_BACKWARD_WORDS)
