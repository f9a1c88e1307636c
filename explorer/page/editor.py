"""The editor: the example, x and the layers; and the exploration they give, or the last good one."""

import logging

import streamlit as st

from explorer.engine.errors import FormulaError
from explorer.page import presets
from explorer.page.common import URL, drawn_safely, markdown_text
from explorer.page.session import STALE, load_preset, vector_text
from explorer.serving import facade
from explorer.serving.admission import ServerBusy


@drawn_safely(fallback=(presets.DEFAULT.x, presets.DEFAULT.layers))
def editor(view):
    """Preset, x and layers; returns the two texts. Hidden by a link, it draws nothing and the link's texts rule."""
    if not view.shows("editor"):
        return st.session_state["x"], st.session_state["layers"]
    # On a projector the editor waits in the (folded) sidebar, leaving the screen to the graph and the step.
    with st.sidebar if view.present else st.expander("Edit x and layers", expanded=True):
        # Options are the titles themselves: a bound widget writes its shown label into the URL.
        title = st.selectbox("Example", presets.BY_TITLE, key="preset", on_change=load_preset, bind=URL)
        preset = presets.BY_TITLE.get(title) if isinstance(title, str) else None
        if preset and st.session_state["x"] == preset.x and st.session_state["layers"] == preset.layers:
            st.caption(preset.note)
        elif preset:
            st.button("Reset to this example", on_click=load_preset, key="reset")
        x_text = st.text_input("x (a number or nested list)", key="x", bind=URL)
        layers_text = st.text_area(
            "Layers, one per line; the last is the output (Ctrl+Enter applies)", key="layers", height=140, bind=URL
        )
        st.text_input("Backward from a vector v (optional, shaped like the output)", key="vector", bind=URL,
                      placeholder="e.g. [[1, 0, 0], [0, 0, 0]]", help=VECTOR_HELP)
    return x_text, layers_text


VECTOR_HELP = ("`z.backward(gradient=v)`: v weighs each element of the output z; every .grad becomes vᵀJ. "
               "Ones give ones_like (and sum), 1/N gives mean, a one-hot picks one row of the Jacobian J. "
               "Typed like x; once given, *Backward from* offers `vector`.")


def compute(x_text, layers_text):
    """The exploration for the texts, or the last good one marked stale; errors are shown, never raised."""
    status = None  # says "queued" while admission control holds a large example back; made when needed, since
    # most requests never wait and each element is a message to every page

    def queued(place):
        nonlocal status
        if status is None:
            status = st.empty()
        status.info(f"Queued: {place} large example{'s' if place != 1 else ''} ahead of this one. "
                    f"Small examples are not held up.")

    def clear_status():
        if status is not None:
            status.empty()

    try:
        result = _explored(x_text, layers_text, vector_text(), queued)
    except FormulaError as error:
        st.error("**Can't run this:** " + markdown_text(str(error)))
        return _last_good()
    except ServerBusy as busy:
        clear_status()
        st.error("**Server busy:** " + markdown_text(str(busy)))
        return _last_good()
    except Exception:  # a bug of ours, not the user's: say so, without a traceback
        logging.getLogger(__name__).exception("explore failed")
        st.error("The explorer failed on this input (our bug, not yours).")
        return _last_good()
    clear_status()
    st.session_state["last_good"] = (x_text, layers_text)
    st.session_state[STALE] = False
    for warning in result.warnings:
        st.warning(markdown_text(warning))
    return result


def _explored(x_text, layers_text, vector, on_wait):
    """The exploration with the typed vector's fourth pass; a bad vector is said here, and the page goes on with
    the three ways every exploration has. Errors in x or the layers are raised, as facade.explore raises them."""
    if vector.strip():
        try:
            return facade.explore(x_text, layers_text, on_wait=on_wait, vector=vector)
        except FormulaError as error:
            if error.field != "vector":
                raise
            st.error("**Can't use this vector:** " + markdown_text(str(error)) + ". Backward from sum, mean and "
                     "ones_like still works.")
    return facade.explore(x_text, layers_text, on_wait=on_wait)


def _last_good():
    last = st.session_state.get("last_good")
    if last is None:
        return None
    try:
        result = facade.explore(*last)
    except (FormulaError, ServerBusy):
        return None
    st.warning("Showing the last example that worked, until the input is fixed.")
    st.session_state[STALE] = True  # the graph says so on itself (pass_view.autograd_graph)
    return result
