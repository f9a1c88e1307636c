"""The page's state in the session and the link: checked once when a run begins, resolved into one Selection
per rerun, and written back into a link at its end. The only module that reads st.session_state for values the
sections use: every section takes what it needs as parameters."""

import dataclasses

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.page import presets, state
from explorer.page.common import MAX_LINK_CHARS, PRESENTATION_CSS, URL, View, markdown_text


def session_id():
    context = get_script_run_ctx()
    return None if context is None else context.session_id


def load_preset():
    """The chosen example's x and layers. A message can name any title: init_state says so, this does nothing."""
    title = _session_value("preset")
    preset = presets.BY_TITLE.get(title) if isinstance(title, str) else None
    if preset is None:
        return
    st.session_state["x"] = preset.x
    st.session_state["layers"] = preset.layers
    st.session_state["backward_step"] = 0
    for key in ("lr", "steps", "optimizer"):  # the Train section's settings the example comes with
        st.session_state[key] = getattr(preset, key) or state.FIELDS[key].default
    st.session_state["train_step"] = 0


NOTICES_KEY = "state_notices"  # notices kept across the rerun that a fixed link takes
STALE = "showing_last_good"  # set by the editor: this rerun shows the last example that worked, not the input


def _session_value(key):
    """A session value, or state.UNREADABLE if Streamlit cannot read back what a message sent for it."""
    try:
        return st.session_state.get(key)
    except Exception:  # a widget's deserializer, meeting a value of the wrong type
        return state.UNREADABLE


def _current(key):
    """The value the page is about to use for `key`: its session value, else the link's (a widget's first run)."""
    value = _session_value(key)
    return st.query_params.get(key) if value is None else value


def _outside_values():
    """The values the page is about to use, and the keys whose value is the link's."""
    values = {key: _current(key) for key in state.FIELDS}
    from_link = {key for key in values if _session_value(key) is None and key in st.query_params}
    return {key: value for key, value in values.items() if value is not None}, from_link


def _dropped_from_link(key):
    """Take a bad value out of the link; False if Streamlit owns that parameter now (a bound widget's)."""
    try:
        del st.query_params[key]
    except StreamlitAPIException:
        return False
    return True


def init_state():
    """Check every value a link or a message set before any widget reads it, then fill in the first example.

    Streamlit seeds a bound widget from the link the run began with, so a bad value in the link is
    taken out of it and the run begins again; a bad value in the session is replaced in place.
    """
    values, from_link = _outside_values()
    clean, rejected = state.validated(values)
    relink = False
    for key in rejected:
        if key == "hide" and key in from_link:  # keep the sections it names rightly
            st.query_params["hide"] = clean["hide"]
        elif key in from_link and _dropped_from_link(key):
            relink = relink or key != "hide"  # nothing seeds from `hide`: view_options reads the fixed link
        else:
            st.session_state[key] = state.FIELDS[key].default
    notices = [*st.session_state.pop(NOTICES_KEY, []), *rejected.values()]
    if relink:
        st.session_state[NOTICES_KEY] = notices
        st.rerun()
    for notice in notices:
        st.warning(markdown_text(notice))
    # The editor compares these before its widgets read the link. A link naming only an example gets its formulas.
    # The way backward starts is seeded here too, not by its widget's default: a widget given a default and a
    # session value (a bad link's reduction, replaced above) makes Streamlit warn that its state was set twice.
    example = presets.BY_TITLE.get(clean.get("preset"), presets.DEFAULT)
    first = {"preset": example.title, "x": example.x, "layers": example.layers, "reduction": "sum"}
    for key in ("preset", "x", "layers", "reduction"):
        st.session_state.setdefault(key, clean.get(key, first[key]))
    for key in ("lr", "steps", "optimizer"):  # and the Train settings the example comes with
        st.session_state.setdefault(key, clean.get(key, getattr(example, key) or state.FIELDS[key].default))


def view_options():
    """Presentation mode and the sections a link hides; an unknown section name gets a one-line notice."""
    hidden = state.parse_hidden(st.query_params.get("hide"))
    with st.sidebar:
        present = st.toggle("Presentation mode", key="present", bind=URL, help="Large type for a projector.")
        st.caption(
            "Add `hide=` to a link to hide sections, comma-separated: " + ", ".join(state.SECTIONS) + "."
        )
    if present:
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)
    return View(bool(present), hidden)


def link_area():
    """The sidebar's place for the link: one element, which the step's fragment fills on its own reruns too
    (Streamlit keeps a fragment's place in an outside container only if its full run wrote there)."""
    return st.sidebar.empty()


def fragment_rerun():
    """True while a fragment reruns alone: the rest of the page stays as the last full run drew it."""
    context = get_script_run_ctx()
    return bool(context is not None and context.fragment_ids_this_run)


def share_link(view, area):
    """The sidebar's link to this view, into `area`. Drawn by the step's fragment, before the sections below it,
    it reads what they are about to use: the session's values (the browser sent them when the run began), and a
    link's for a widget its first run has not drawn yet (Streamlit seeds a bound widget from the link)."""
    values = {key: _current(key) for key in state.SHARED_KEYS}
    with area.container():
        st.markdown("**Link to this view**")
        typed = sum(len(str(values.get(key) or "")) for key in ("x", "layers", "vector"))
        texts = "x, the layers and the vector" if values.get("vector") else "x and the layers"
        link = state.share_link(st.context.url, values, view.hidden) if typed <= MAX_LINK_CHARS else ""
        if link and len(link) <= MAX_LINK_CHARS:
            st.code(link, language=None, wrap_lines=True)
        else:
            st.caption(f"{texts} are {typed:,} characters: too long for a link; use a smaller x.")


def selection(result):
    """The one Selection of this rerun (explorer.page.state.select), from the values the page is about to use.
    A value that names nothing is put right in the session before its widget reads it: a slider given a value
    past its end raises, and a selectbox shows its first option."""
    chosen = state.select(result, {key: _current(key) for key in state.SELECTION_KEYS})
    chosen = dataclasses.replace(chosen, stale=bool(st.session_state.get(STALE)))
    if chosen.by_label and chosen.element.label != st.session_state.get("element"):
        st.session_state["element"] = chosen.element.label
    if "backward_step" in chosen.notices:
        st.session_state["backward_step"] = chosen.step
    if _session_value("reduction") not in (None, chosen.reduction):  # "vector", once the vector is cleared
        st.session_state["reduction"] = chosen.reduction
    return chosen


def vector_text():
    """The typed seed vector of z.backward(gradient=v), checked as its field allows; "" when there is none."""
    value = _current("vector")
    try:
        return state.checked("vector", value) if value is not None else ""
    except state.Rejected:
        return ""
