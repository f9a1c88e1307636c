"""The printed tensors, one tab at a time: x.grad three ways, the forward pass, the layers' gradients."""

import streamlit as st

from explorer.page import state
from explorer.page.common import URL, drawn_safely
from explorer.serving import facade
from explorer.views.texts import forward_text, gradient_texts, layer_gradient_code


def values(result, selection, view):
    """The printed tensors, one tab at a time: only the open tab is computed and sent."""
    labels = [label for label, section in state.VALUE_TABS.items() if view.shows(section)]
    tabs = st.tabs(labels, key="values", on_change="rerun", bind=URL)
    for label, tab in zip(labels, tabs, strict=True):
        if tab.open:
            with tab:
                {"x.grad": gradients, "Forward pass": forward_values, "Layer gradients": layer_gradients}[label](
                    result, selection.reduction
                )


@drawn_safely
def forward_values(result, reduction=None):
    text = facade.view("forward_text", result, lambda: forward_text(result))
    # No wrap_lines: a soft wrap may fall inside a number (after the '-' of "e-01"); a long line scrolls.
    st.code(text, language="python")


@drawn_safely
def gradients(result, reduction=None):
    texts = facade.view("gradient_texts", result, lambda: gradient_texts(result))
    for name in texts:  # one above the other: side by side, a tensor's rows broke inside numbers
        st.code(texts[name], language="python")
    if "vector" in texts:
        st.caption("vector: `backward(gradient=v)` leaves vᵀJ in every .grad, the v-weighted sum of the Jacobian's "
                   "rows (see *The Jacobian*).")
    if result.scalar_output:
        grads = "every .grad" if result.program.leaves else "x.grad"
        st.info(f"The output is a single number, so sum, mean and ones_like all give the same {grads}.")
    else:
        st.caption(
            f"mean divides every gradient by the {result.output.numel()} elements; "
            "ones_like seeds each element with 1, exactly as sum does."
        )


@drawn_safely
def layer_gradients(result, name):
    """d out / d layer for every layer, printed as x.grad is, after retain_grad()."""
    st.markdown("**Gradients of the layers**: after the forward pass, `retain_grad()` keeps them, then backward:")
    text = facade.view(("layer_gradients", name), result, lambda: layer_gradient_code(result, name))
    st.code(text, language="python")  # no wrap_lines: a soft wrap may fall inside a number
