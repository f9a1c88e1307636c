"""The page's sections. This module draws; the engine modules compute.

User text reaches the page only as code blocks (st.code), or escaped through
`markdown_text`, because alerts and labels render Markdown and LaTeX.
"""

import functools
import gc
import logging
import re
import shutil
from dataclasses import dataclass

import nbformat
import numpy as np
import pandas
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitAPIException

from . import presets, state
from .cache import BytesBoundedCache
from .errors import FormulaError
from .exploration import explore
from .export import export_notebook, export_script, svg_export
from .graph import annotated_dot
from .language import REDUCTIONS
from .plot import element_label, tangent_curve, tangent_figure
from .symbolic import symbolic_derivation
from .tree import to_text
from .verify import verify
from .walkthrough import describe

# The libraries' ~260k long-lived objects (torch, sympy, plotly, Streamlit) move out of the collector's
# scans once, here, so a full collection no longer costs ~120 ms while every session waits.
gc.collect()
gc.freeze()

URL = "query-params"  # every keyed widget lives in the URL, so a link is the whole view
MAX_ELEMENT_CHOICES = 64


def drawn_safely(draw=None, *, fallback=None):
    """A section that fails shows a short error and the rest of the page goes on: never a traceback.

    A section whose answer the page needs names the answer to go on with: @drawn_safely(fallback=...).
    """
    if draw is None:
        return functools.partial(drawn_safely, fallback=fallback)

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        except Exception:  # Streamlit's rerun and stop signals are BaseExceptions and pass through
            logging.getLogger(__name__).exception("section %s failed", draw.__name__)
            st.error(f"This part of the page ({draw.__name__.replace('_', ' ')}) failed for this input.")
            return fallback

    return wrapper


EXPLORATION_CACHE_BYTES = 200_000_000  # a result at the limits holds ~120 MB of tensors


@st.cache_resource
def _explorations():
    return BytesBoundedCache(EXPLORATION_CACHE_BYTES, lambda result: result.nbytes)


def cached_explore(x_text, layers_text):
    """Explorations are immutable, so every session shares one per input text, within a byte budget."""
    return _explorations().get((x_text, layers_text), lambda: explore(x_text, layers_text))


@st.cache_resource(max_entries=256, show_spinner=False)
def cached_figure(x_text, layers_text, flat_index, reduction):
    return tangent_figure(tangent_curve(cached_explore(x_text, layers_text), flat_index, reduction), reduction)


def markdown_text(text):
    """Text shown literally inside Markdown: every character Markdown or KaTeX acts on is escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])", r"\\\1", text)


# ---------------------------------------------------------------- state and view

# Constant CSS, never user text: larger type for projectors.
# Scoped to text elements: a page-wide font size would also reach the graph's SVG labels and clip them.
PRESENTATION_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p,
[data-testid="stMain"] input, [data-testid="stMain"] textarea { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stCode"] code { font-size: 1.15rem; }
[data-testid="stMain"] h1 { font-size: 3rem; }
[data-testid="stMain"] h3 { font-size: 2rem; }
</style>"""


MAX_LINK_CHARS = 16_000  # browsers and proxies cut long URLs; Streamlit ignores query strings over 512 KiB


@dataclass(frozen=True)
class View:
    present: bool  # projector mode: large type, editors folded away
    hidden: frozenset  # sections a link asked to hide

    def shows(self, section):
        return section not in self.hidden


def view_options():
    """The sidebar: presentation mode and the link that reproduces this view."""
    hidden = state.parse_hidden(st.query_params.get("hide"))
    with st.sidebar:
        present = st.toggle("Presentation mode", key="present", bind=URL, help="Large type for a projector.")
        st.caption(
            "Add `hide=` to a link to hide sections, comma-separated: " + ", ".join(state.SECTIONS) + "."
        )
        values = {key: st.session_state.get(key) for key in state.SHARED_KEYS}
        st.markdown("**Link to this view**")
        typed = sum(len(str(values.get(key) or "")) for key in ("x", "layers"))
        link = state.share_link(st.context.url, values, hidden) if typed <= MAX_LINK_CHARS else ""
        if link and len(link) <= MAX_LINK_CHARS:
            st.code(link, language=None, wrap_lines=True)
        else:
            st.caption(f"x and the layers are {typed:,} characters: too long for a link; use a smaller x.")
    if present:
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)
    return View(bool(present), hidden)



def load_preset():
    """The chosen example's x and layers. A message can name any title: init_state says so, this does nothing."""
    title = _session_value("preset")
    preset = presets.BY_TITLE.get(title) if isinstance(title, str) else None
    if preset is None:
        return
    st.session_state["x"] = preset.x
    st.session_state["layers"] = preset.layers
    st.session_state["backward_step"] = 0


NOTICES_KEY = "state_notices"  # notices kept across the rerun that a fixed link takes


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
        if key in from_link and _dropped_from_link(key):
            relink = relink or key != "hide"  # nothing seeds from `hide`: view_options reads the fixed link
        else:
            st.session_state[key] = state.FIELDS[key].default
    notices = [*st.session_state.pop(NOTICES_KEY, []), *rejected.values()]
    if relink:
        st.session_state[NOTICES_KEY] = notices
        st.rerun()
    for notice in notices:
        st.warning(markdown_text(notice))
    for key in ("preset", "x", "layers"):  # the editor compares them before its widgets read the link
        st.session_state.setdefault(key, clean.get(key, state.FIELDS[key].default))


# ---------------------------------------------------------------- editor


@drawn_safely(fallback=(presets.DEFAULT.x, presets.DEFAULT.layers))
def editor():
    """Preset, x and layers; returns the two texts."""
    # Options are the titles themselves: a bound widget writes its shown label into the URL.
    title = st.selectbox("Example", presets.BY_TITLE, key="preset", on_change=load_preset, bind=URL)
    preset = presets.BY_TITLE.get(title) if isinstance(title, str) else None
    if preset and st.session_state["x"] == preset.x and st.session_state["layers"] == preset.layers:
        st.caption(preset.note)
    x_text = st.text_input("x (a number or nested list)", key="x", bind=URL)
    layers_text = st.text_area(
        "Layers, one per line; the last is the output (Ctrl+Enter applies)", key="layers", height=140, bind=URL
    )
    return x_text, layers_text


def compute(x_text, layers_text):
    """The exploration for the texts, or the last good one marked stale; errors are shown, never raised."""
    try:
        result = cached_explore(x_text, layers_text)
    except FormulaError as error:
        st.error("**Can't run this:** " + markdown_text(str(error)))
        return _last_good()
    except Exception:  # a bug of ours, not the user's: say so, without a traceback
        logging.getLogger(__name__).exception("explore failed")
        st.error("The explorer failed on this input (our bug, not yours).")
        return _last_good()
    st.session_state["last_good"] = (x_text, layers_text)
    for warning in result.warnings:
        st.warning(markdown_text(warning))
    return result


def _last_good():
    last = st.session_state.get("last_good")
    if last is None:
        return None
    st.warning("Showing the last example that worked, until the input is fixed.")
    return cached_explore(*last)


# ---------------------------------------------------------------- values


MAX_LITERAL_ELEMENTS = 64  # beyond this, the page prints x as torch summarises it, not as a literal


def _x_code(result):
    if result.x.numel() > MAX_LITERAL_ELEMENTS:
        return "\n".join(
            [f"x = torch.tensor(...your {result.x.numel():,} values..., requires_grad=True)", "print(x)",
             repr(result.x)]
        )
    return f"x = torch.tensor({result.x.tolist()!r}, requires_grad=True)"


@drawn_safely
def forward_values(result):
    st.subheader("Forward pass")
    lines = [_x_code(result)]
    for layer in result.program.layers:
        lines += [f"{layer.name} = {to_text(layer.expr)}", f"print({layer.name})", result.layer_reprs[layer.name]]
    st.code("\n".join(lines), language="python", wrap_lines=True)


def _reduction_code(result, name):
    reduction = result.reductions[name]
    lines = reduction.code.split("\n")
    if reduction.out_repr is not None:
        lines.insert(1, "print(out)")
        lines.insert(2, reduction.out_repr)
    return "\n".join(lines + ["print(x.grad)", repr(reduction.grad)])


@st.cache_resource(max_entries=64, show_spinner=False)
def _gradient_texts(x_text, layers_text):
    """Printing tensors costs milliseconds: once per input, not once per rerun."""
    result = cached_explore(x_text, layers_text)
    return {name: _reduction_code(result, name) for name in REDUCTIONS}


@drawn_safely
def gradients(x_text, layers_text, result):
    st.subheader("x.grad, three ways to start backward")
    texts = _gradient_texts(x_text, layers_text)
    for column, name in zip(st.columns(3), REDUCTIONS, strict=True):
        with column:
            st.markdown(f"**{name}**")
            st.code(texts[name], language="python", wrap_lines=True)
    if result.scalar_output:
        st.info("The output is a single number, so sum, mean and ones_like all give the same x.grad.")
    else:
        st.caption(
            f"mean divides every gradient by the {result.output.numel()} elements; "
            "ones_like seeds each element with 1, exactly as sum does."
        )


# ---------------------------------------------------------------- explore one element


@drawn_safely(fallback=("sum", 0))
def choose_view(result):
    """The reduction and the element that the plot, the graph and the step-through look at."""
    left, right = st.columns(2)
    with left:
        name = st.segmented_control(
            "Backward from", list(REDUCTIONS), key="reduction", default="sum", required=True, bind=URL,
            help="sum: out = z.sum(); mean: out = z.mean(); ones_like: z.backward(gradient=torch.ones_like(z))",
        )
    count, shape = result.x.numel(), tuple(result.x.shape)
    with right:
        if count <= MAX_ELEMENT_CHOICES:
            labels = [element_label(shape, i) for i in range(count)]
            index, notice = state.label_within(_current("element"), labels)
            if labels[index] != st.session_state.get("element"):
                st.session_state["element"] = labels[index]
            index, _ = state.label_within(st.selectbox("Element of x", labels, key="element", bind=URL), labels)
        else:
            # Text, not st.number_input: its int() raises inside Streamlit on "inf" in a link or text in a message.
            text = st.text_input(
                f"Element of x (flat index, 0 to {count - 1:,})", key="element_index", placeholder="0", bind=URL
            )
            index, notice = state.index_within(text, count)
        if notice:
            st.caption(markdown_text(notice))
    return (name if isinstance(name, str) and name in REDUCTIONS else "sum"), index


@drawn_safely
def tangent(x_text, layers_text, name, index, present=False):
    figure = cached_figure(x_text, layers_text, index, name)
    if present:  # a copy: the cached figure is shared by every session
        figure = go.Figure(figure).update_layout(font={"size": 18}, height=560)
    # A stable key lets the browser update the chart in place rather than build it anew on each rerun.
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False}, key="tangent_plot")
    st.caption("Drag the slider under the plot to move the point: the dashed line stays tangent.")


@drawn_safely
def autograd_graph(result, name, present=False):
    plain = st.toggle("Plain torchviz", key="plain_graph", bind=URL)
    step, _ = state.step_within(_current("backward_step") or 0, len(result.reductions[name].steps))
    dot = result.reductions[name].dot if plain else annotated_dot(result, name, step - 1 if step else None)
    st.graphviz_chart(dot, width="stretch" if present else "content")
    if not plain:
        st.caption(
            "Each node: the layer or subexpression it computes, its torch op, its forward value, and "
            "the gradient d out / d (node) flowing into it. Blue is x, green is where backward starts."
        )


@drawn_safely
def step_through(result, name, index):
    steps = result.reductions[name].steps
    if not steps:
        if result.grads[name].any():
            st.info("The output is x itself: no operation to step through; x.grad is the seed, 1 per element.")
        else:
            st.info("The output does not depend on x: there is no backward pass, and every gradient is 0.")
        return
    number, notice = state.step_within(_current("backward_step") or 0, len(steps))
    if notice:  # before the slider: a slider given a value past its end raises
        st.session_state["backward_step"] = number
        st.caption(markdown_text(notice))
    number = st.slider("Backward step (0 shows the whole pass)", 0, len(steps), key="backward_step", bind=URL)
    if number == 0:
        st.caption(f"Autograd visits {len(steps)} nodes. Move the slider to follow it one node at a time.")
        return
    view = describe(result, name, number, index)
    label = element_label(tuple(result.x.shape), index)
    lines = [f"step {view.number} of {view.total}: {view.op}  ({view.title})", f"at {label}:"]
    lines.append(f"  gradient in:  d out / d ({view.title}) = {view.incoming:.6g}")
    for edge in view.edges:
        lines.append(
            f"  to {edge.to}: local d({view.title})/d({edge.to}) = {edge.local:.6g};"
            f"  out: {view.incoming:.6g} x {edge.local:.6g} = {edge.outgoing:.6g}"
        )
    product = " x ".join(f"{f:.4g}" for f in view.factors)
    if view.is_chain:
        lines.append(f"  chain rule so far: {product} = {view.running:.6g}")
    else:
        lines.append("  (a DAG: where paths meet, autograd adds their gradients)")
    if view.number == view.total:
        lines.append(f"  x.grad at {label} = {float(result.grads[name].flatten()[index]):.6g}")
    st.code("\n".join(lines), language=None)


# ---------------------------------------------------------------- exports


@st.cache_data(max_entries=32, show_spinner=False)
def _script(x_text, layers_text):
    return export_script(x_text, layers_text)


def _notebook(x_text, layers_text):
    return nbformat.writes(nbformat.from_dict(export_notebook(x_text, layers_text)))


@drawn_safely
def exports(x_text, layers_text, result):
    """The example as a script, a notebook and a graph file, to take back to Jupyter.

    Files are made when a button is clicked (a callable as data): a large x makes a large script.
    """
    with st.expander("Export: PyTorch script, Jupyter notebook, graph"):
        columns = st.columns(4)
        columns[0].download_button(
            "Script (.py)", functools.partial(_script, x_text, layers_text), "autograd_example.py", "text/x-python"
        )
        columns[1].download_button(
            "Notebook (.ipynb)", functools.partial(_notebook, x_text, layers_text), "autograd_example.ipynb",
            "application/json",
        )
        columns[2].download_button("Graph (.dot)", result.dot, "autograd_graph.dot", "text/vnd.graphviz")
        if shutil.which("dot"):
            columns[3].download_button(
                "Graph (.svg)", functools.partial(svg_export, result.dot), "autograd_graph.svg", "image/svg+xml"
            )
        else:
            columns[3].caption("SVG needs Graphviz's dot program on the server.")
        if result.x.numel() <= MAX_LITERAL_ELEMENTS:
            st.code(_script(x_text, layers_text), language="python")
        else:
            st.caption(f"The script writes out all {result.x.numel():,} values of x: download it to read it.")


# ---------------------------------------------------------------- the chain rule, symbolically


@st.cache_data(max_entries=128, show_spinner=False)
def cached_derivation(x_text, layers_text):
    result = cached_explore(x_text, layers_text)
    return symbolic_derivation(result.program, result.x)


def derivation_for(x_text, layers_text):
    derivation = cached_derivation(x_text, layers_text)
    if derivation.status == "timeout":  # a busy worker or a slow machine now need not mean slow forever
        cached_derivation.clear(x_text, layers_text)
    return derivation


def _value_at(values, index):
    """Element `index` of nested lists shaped like x, or the one float of a scalar x (whose index is 0)."""
    return float(np.ravel(values)[index])


@drawn_safely
def chain_rule(result, derivation, name, index):
    st.subheader("The chain rule, worked out")
    if not derivation.ok:
        st.info(markdown_text(derivation.message) + ". The numbers, the graph and the check below still hold.")
        return
    for layer in derivation.layers:
        st.latex(r" \qquad ".join((layer.formula, *layer.local)))
        if layer.chain not in layer.local:  # a layer of x alone: its chain is its local derivative
            st.latex(layer.chain)
    st.markdown(f"**Backward from `{name}`**, for one element $x_i$ of x:")
    st.latex(derivation.reductions[name].latex)
    label = element_label(tuple(result.x.shape), index)
    symbolic = _value_at(derivation.reductions[name].values, index)
    autograd = float(result.grads[name].flatten()[index])
    st.markdown(
        f"At `{label}` this is **{symbolic:.6g}**. The same number, three places: the tangent's slope in the plot, "
        f"`x.grad` at `{label}` = **{autograd:.6g}**, and the last step of the step-through."
    )


@drawn_safely
def layer_gradients(result, name):
    """d out / d layer for every layer, printed as x.grad is, after retain_grad()."""
    reduction = result.reductions[name]
    st.markdown("**Gradients of the layers** (`retain_grad()` keeps them):")
    lines = [reduction.code.split("\n")[0]] if reduction.out is not None else []
    for layer, grad in reduction.layer_grads.items():
        lines += [f"print({layer}.grad)", repr(grad) if grad is not None else "None  # does not depend on x"]
    st.code("\n".join(lines), language="python", wrap_lines=True)


MAX_TABLE_ROWS = 24


@st.cache_resource(max_entries=32, show_spinner=False)
def cached_verification(x_text, layers_text, symbolic_status):
    """Keyed on the derivation's status too: a timed-out derivation may succeed on the next try."""
    derivation = cached_derivation(x_text, layers_text)
    usable = derivation if derivation.ok else None
    return verify(cached_explore(x_text, layers_text), usable, max_rows=MAX_TABLE_ROWS)


def _check_table(check, shape):
    """One reduction's check as a DataFrame: built once per input, not converted again on every rerun."""
    rows = [
        {
            "element": element_label(shape, i),
            "autograd": f"{row.autograd:.6g}",
            "symbolic": "-" if row.symbolic is None else f"{row.symbolic:.6g}",
            "finite diff.": f"{row.finite_difference:.6g}",
            "": {True: "✓", False: "✗", None: "·"}[row.ok] + (f" {row.note}" if row.note else ""),
        }
        for i, row in enumerate(check.rows)
    ]
    return pandas.DataFrame(rows)


@st.cache_resource(max_entries=32, show_spinner=False)
def _check_tables(x_text, layers_text, symbolic_status):
    shape = tuple(cached_explore(x_text, layers_text).x.shape)
    checked = cached_verification(x_text, layers_text, symbolic_status)
    return {name: _check_table(check, shape) for name, check in checked.checks.items()}


@drawn_safely
def verification(x_text, layers_text, result, derivation):
    """Prove the solution, as the notebooks do: autograd against symbolic and finite differences."""
    st.subheader("Check: autograd = symbolic = finite difference")
    checked = cached_verification(x_text, layers_text, derivation.status)
    tables = _check_tables(x_text, layers_text, derivation.status)
    st.caption(f"Agreement means {checked.tolerance}. Finite differences are central, in float64.")
    for column, (name, check) in zip(st.columns(3), checked.checks.items(), strict=True):
        with column:
            mark = {True: "✓ agree", False: "✗ DISAGREE", None: "- nothing comparable"}[check.passed]
            worst = "-" if check.max_abs_diff is None else f"{check.max_abs_diff:.2e}"
            st.markdown(f"**{name}**: {mark}, max diff {worst}")
            st.table(tables[name], hide_index=True)
            if check.elements > len(check.rows):
                st.caption(f"First {len(check.rows)} of {check.elements:,} elements; the mark covers them all.")
    if not checked.passed:
        st.error("Autograd and a reference disagree on at least one element: see the ✗ rows.")
