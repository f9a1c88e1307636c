"""The page's sections. This module draws; the engine modules compute.

User text reaches the page only as code blocks (st.code), or escaped through
`markdown_text`, because alerts and labels render Markdown and LaTeX.
"""

import contextlib
import functools
import gc
import hashlib
import logging
import re
import shutil
import urllib.parse
import weakref
from dataclasses import dataclass

import nbformat
import numpy as np
import pandas
import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.engine import elements
from explorer.engine.errors import FormulaError
from explorer.engine.exploration import prepare, run
from explorer.engine.language import REDUCTIONS
from explorer.engine.printing import tensor_repr
from explorer.engine.tree import is_elementwise
from explorer.engine.verify import verify
from explorer.page import presets, state
from explorer.serving.admission import ADMISSION, ServerBusy, check_bytes, exploration_bytes, parse_bytes
from explorer.serving.cache import cached
from explorer.serving.memory import collect_after, trim_soon
from explorer.serving.turns import TURNS, small_enough
from explorer.symbolic.client import symbolic_derivation
from explorer.views.export import dot_export, forward_code, notebook_for, script_for, svg_export
from explorer.views.graph import fitted
from explorer.views.plot import element_label, tangent_curve, tangent_figure
from explorer.views.walkthrough import describe, describe_tensors

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
        except ServerBusy as busy:  # admission control refused this section's work: say so, it is not a failure
            st.warning("**Server busy:** " + markdown_text(str(busy)))
            return fallback
        except Exception:  # Streamlit's rerun and stop signals are BaseExceptions and pass through
            logging.getLogger(__name__).exception("section %s failed", draw.__name__)
            st.error(f"This part of the page ({draw.__name__.replace('_', ' ')}) failed for this input.")
            return fallback

    return wrapper


def _session_id():
    context = get_script_run_ctx()
    return None if context is None else context.session_id


def _raw_key(x_text, layers_text):
    """The typed texts as a 16-byte digest: a 1 MB x is never a cache key."""
    raw = "\0".join((x_text, layers_text)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=16).digest()


def reserved(estimate, on_wait=None):
    """Admission control's reservation for a request of `estimate` bytes; raises ServerBusy if it refuses. Heavy
    work gives up its turn first: it may wait in the heavy queue, and it shares the CPU, so that small reruns never
    wait behind it."""
    if not ADMISSION.is_small(estimate):
        TURNS.step_aside()
    return ADMISSION.reserve(estimate, on_wait=on_wait)


def admitted(estimate, compute, on_wait=None):
    """compute() once admission control lets a request of `estimate` bytes run; raises ServerBusy if it refuses."""
    reservation = reserved(estimate, on_wait)
    try:
        return compute()
    finally:
        reservation.release()
        if not ADMISSION.is_small(estimate):
            trim_soon()


def _released_and_trimmed(reservation):
    reservation.release()
    trim_soon()


def _operations(work, elements):
    return work // max(1, elements)


def cached_explore(x_text, layers_text, on_wait=None):
    """One exploration per input, shared by every session: texts that parse alike share one entry."""

    def parse():
        return admitted(parse_bytes(x_text, layers_text), lambda: prepare(x_text, layers_text), on_wait)

    def explore_it():
        # The reservation lasts as long as the result does, not just while it is computed: a session holds
        # its result through its whole run (drawing the graph, the plot, the checks), and a result too large
        # for the cache would otherwise be held by every session at once, unaccounted.
        reservation = reserved(exploration_bytes(prepared.elements, operations), on_wait)
        try:
            result = run(prepared)
        except BaseException:
            reservation.release()
            raise
        if reservation.held:
            weakref.finalize(result, _released_and_trimmed, reservation)
        return result

    prepared = cached("inputs", _raw_key(x_text, layers_text), parse)
    operations = _operations(prepared.work, prepared.elements)  # prepared.elements: x's and every leaf's
    if not small_enough(prepared.elements, operations):
        TURNS.step_aside()  # computing and drawing it would hold up the small reruns queued behind
    return cached("explorations", prepared.key, explore_it)


def cached_curve(result, flat_index, reduction):
    """The tangent plot's curve: the part that grows with x (the figure around it is built on each rerun)."""
    return cached("views", ("curve", result.key, flat_index, reduction),
                  lambda: tangent_curve(result, flat_index, reduction))


def turn():
    """The whole rerun in a turn: small reruns run one at a time, in arrival order (explorer/turns.py)."""
    return TURNS.turn()


def markdown_text(text):
    """Text shown literally inside Markdown: every character Markdown or KaTeX acts on is escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])", r"\\\1", text)


# ---------------------------------------------------------------- state and view

# The tab's icon, a ∂, as an SVG data URL. Given "∂" itself (no emoji), Streamlit took it for an image's
# address: every rerun made the browser fetch "/∂", which is the page's HTML (2 ms of the server), not an icon.
PAGE_ICON = "data:image/svg+xml," + urllib.parse.quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><text x="32" y="50" font-size="52" '
    'font-family="serif" font-style="italic" text-anchor="middle">∂</text></svg>'
)

# Constant CSS, never user text: larger type for projectors, and no labels over the three controls beside
# the graph (the step's text names the step; the buttons and the element name themselves).
# Scoped to text elements: a page-wide font size would also reach the graph's SVG labels and clip them.
PRESENTATION_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p,
[data-testid="stMain"] input, [data-testid="stMain"] textarea { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stCode"] code { font-size: 1rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.1rem; }
[data-testid="stMain"] .katex { font-size: 1.5em; }
[data-testid="stMain"] [data-testid="stExpander"] summary p { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stTab"] p { font-size: 1.3rem; }
[data-testid="stMain"] h1 { font-size: 2.2rem; padding-top: 0; }
[data-testid="stMain"] h3 { font-size: 2rem; }
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; }
.st-key-reduction [data-testid="stWidgetLabel"], .st-key-element [data-testid="stWidgetLabel"],
.st-key-backward_step [data-testid="stWidgetLabel"] { display: none; }
</style>"""


# The graph's box in presentation mode: beside the step-through in a 1024x768 projector screen.
PRESENTATION_GRAPH_INCHES = (4.3, 6.5)

MAX_LINK_CHARS = 16_000  # browsers and proxies cut long URLs; Streamlit ignores query strings over 512 KiB


@dataclass(frozen=True)
class View:
    present: bool  # projector mode: large type, editors folded away
    hidden: frozenset  # sections a link asked to hide

    def shows(self, section):
        return section not in self.hidden


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


def share_link(view):
    """The sidebar's link to this view, drawn last so it holds every widget's value from this run."""
    values = {key: st.session_state.get(key) for key in state.SHARED_KEYS}
    with st.sidebar:
        st.markdown("**Link to this view**")
        typed = sum(len(str(values.get(key) or "")) for key in ("x", "layers"))
        link = state.share_link(st.context.url, values, view.hidden) if typed <= MAX_LINK_CHARS else ""
        if link and len(link) <= MAX_LINK_CHARS:
            st.code(link, language=None, wrap_lines=True)
        else:
            st.caption(f"x and the layers are {typed:,} characters: too long for a link; use a smaller x.")


def main_columns(view):
    """The controls beside the graph; the whole width for the controls when the graph is hidden."""
    if not view.shows("graph"):
        return st.container(), None
    # A projector's graph is fitted to the screen's height (a chain is tall and narrow), so the step's text
    # gets half the width.
    return st.columns([1, 1] if view.present else [2, 3])


def row(view, sections):
    """A column for each section of `sections` the view shows, side by side: hidden ones leave no gap."""
    shown = [section for section in sections if view.shows(section)]
    return zip(st.columns(len(shown)) if shown else [], shown, strict=True)


def lazy_section(label, key):
    """A folded section whose content runs only while it is open; open or closed is in the URL."""
    return st.expander(label, key=key, on_change="rerun", bind=URL)


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
    example = presets.BY_TITLE.get(clean.get("preset"), presets.DEFAULT)
    first = {"preset": example.title, "x": example.x, "layers": example.layers}
    for key in ("preset", "x", "layers"):
        st.session_state.setdefault(key, clean.get(key, first[key]))


# ---------------------------------------------------------------- editor


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
    return x_text, layers_text


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

    collect_after(x_text, layers_text)  # the last reruns' megabyte texts wait for a full collection
    try:
        result = cached_explore(x_text, layers_text, on_wait=queued)
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
    for warning in result.warnings:
        st.warning(markdown_text(warning))
    return result


def _last_good():
    last = st.session_state.get("last_good")
    if last is None:
        return None
    try:
        result = cached_explore(*last)
    except (FormulaError, ServerBusy):
        return None
    st.warning("Showing the last example that worked, until the input is fixed.")
    return result


# ---------------------------------------------------------------- values


MAX_LITERAL_ELEMENTS = 64  # beyond this, the page prints x as torch summarises it, not as a literal


def _printed(tensor_repr):
    """What print() shows, as comments: the block stays runnable, and torch's layout is kept."""
    return ["# " + line for line in tensor_repr.split("\n")]


def _forward_text(result):
    """The forward pass as code that runs as shown (torch's names, as the export writes them), each value
    printed under its line. x beyond MAX_LITERAL_ELEMENTS is not written out: the exported script has it."""
    imports, steps = forward_code(result.program, result.x)
    lines = [imports, ""]
    for name, code_name, code in steps:
        if name == "x" and result.x.numel() > MAX_LITERAL_ELEMENTS:
            code = [f"# x holds {result.x.numel():,} values: the exported script (Export, below) writes them out"]
            lines += code + _printed(tensor_repr(result.x))
            continue
        if name in result.layer_reprs:
            printed = result.layer_reprs[name]
        else:  # x or a declared leaf, as torch prints a tensor that requires grad
            printed = tensor_repr(result.leaves[name].clone().requires_grad_(True))
        lines += [*code, f"print({code_name})", *_printed(printed)]
    return "\n".join(lines)


def values(result, reduction, view):
    """The printed tensors, one tab at a time: only the open tab is computed and sent."""
    labels = [label for label, section in state.VALUE_TABS.items() if view.shows(section)]
    tabs = st.tabs(labels, key="values", on_change="rerun", bind=URL)
    for label, tab in zip(labels, tabs, strict=True):
        if tab.open:
            with tab:
                {"x.grad": gradients, "Forward pass": forward_values, "Layer gradients": layer_gradients}[label](
                    result, reduction
                )


@drawn_safely
def forward_values(result, reduction=None):
    text = cached("views", ("forward_text", result.key), lambda: _forward_text(result))
    # No wrap_lines: a soft wrap may fall inside a number (after the '-' of "e-01"); a long line scrolls.
    st.code(text, language="python")


def _reduction_code(result, name):
    reduction = result.reductions[name]
    lines = reduction.code.split("\n")
    if reduction.out_repr is not None:
        lines.insert(1, "print(out)")
        lines.insert(2, reduction.out_repr)
    lines += ["print(x.grad)", tensor_repr(reduction.grad)]
    for leaf in result.program.leaves:  # every declared leaf's .grad, as torch prints it
        if leaf.name in reduction.unreached:
            lines += [f"print({leaf.name}.grad)",
                      f"None  # the output does not reach {leaf.name}: torch leaves .grad as None; its gradient is 0"]
        else:
            lines += [f"print({leaf.name}.grad)", tensor_repr(reduction.leaf_grads[leaf.name])]
    return "\n".join(lines)


def _gradient_texts(result):
    """Printing tensors costs milliseconds: once per input, not once per rerun."""
    return cached("views", ("gradient_texts", result.key),
                  lambda: {name: _reduction_code(result, name) for name in REDUCTIONS})


@drawn_safely
def gradients(result, reduction=None):
    texts = _gradient_texts(result)
    for name in REDUCTIONS:  # one above the other: side by side, a tensor's rows broke inside numbers
        st.code(texts[name], language="python")
    if result.scalar_output:
        grads = "every .grad" if result.program.leaves else "x.grad"
        st.info(f"The output is a single number, so sum, mean and ones_like all give the same {grads}.")
    else:
        st.caption(
            f"mean divides every gradient by the {result.output.numel()} elements; "
            "ones_like seeds each element with 1, exactly as sum does."
        )


# ---------------------------------------------------------------- explore one element


@drawn_safely(fallback=("sum", 0))
def choose_view(result, present=False):
    """The reduction and the element that the plot, the graph and the step-through look at: one above the
    other (side by side, the narrow column cut "ones_like" off), or on one row in the projector's wider one."""
    left, right = st.columns([2, 1]) if present else (contextlib.nullcontext(), contextlib.nullcontext())
    with left:
        name = st.segmented_control(
            "Backward from", list(REDUCTIONS), key="reduction", default="sum", required=True, bind=URL,
            help="sum: out = z.sum(); mean: out = z.mean(); ones_like: z.backward(gradient=torch.ones_like(z))",
        )
    count = elements.count(result)  # x's elements, then every declared leaf's
    of_what = "Element of x or a leaf" if result.program.leaves else "Element of x"
    with right:
        if count <= MAX_ELEMENT_CHOICES:
            labels = elements.labels(result)
            index, notice = state.label_within(_current("element"), labels)
            if labels[index] != st.session_state.get("element"):
                st.session_state["element"] = labels[index]
            index, _ = state.label_within(st.selectbox(of_what, labels, key="element", bind=URL), labels)
        else:
            # Text, not st.number_input: its int() raises inside Streamlit on "inf" in a link or text in a message.
            text = st.text_input(
                f"{of_what} (flat index, 0 to {count - 1:,})", key="element_index", placeholder="0", bind=URL
            )
            index, notice = state.index_within(text, count)
        if notice:
            st.caption(markdown_text(notice))
    return (name if isinstance(name, str) and name in REDUCTIONS else "sum"), index


@drawn_safely
def tangent(result, name, index, present=False):
    figure = tangent_figure(cached_curve(result, index, name), name, present)
    # A stable key lets the browser update the chart in place rather than build it anew on each rerun.
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False}, key="tangent_plot")
    if not present:
        st.caption("Drag the slider under the plot to move the point: the dashed line stays tangent.")


def shown_step(steps):
    """The step-through's current step as an index into `steps`, or None for the whole pass or a bad value.

    Read through _current: on a link's first load the value is only in the URL.
    """
    number, _ = state.step_within(_current("backward_step") or 0, len(steps))
    return number - 1 if number else None


def shown_dot(result, name, at=None):
    """The graph as the page draws it: torchviz's own, or annotated with the current step highlighted (and,
    on a projector, each node's value and gradient at the chosen element only)."""
    plain = _current("plain_graph") in (True, "true")
    step = shown_step(result.reductions[name].steps)
    return cached("views", ("dot", result.key, name, step, plain, at),
                  lambda: dot_export(result, name, step, plain, at))


GRAPH_CAPTION = (
    "Each node: the layer or subexpression it computes, its torch op, its forward value, and the gradient "
    "d out / d (node) flowing into it. Blue is x and every leaf; dashed boxes are detached constants; green is "
    "the output, where backward starts; yellow nodes make a layer; grey ones make a part of a formula, or add "
    "into a leaf's .grad (AccumulateGrad). In the step-through, orange is the current step and violet the steps "
    "autograd has already visited."
)
PLAIN_GRAPH_CAPTION = "torchviz's own graph: blue is x, green is the output, grey nodes are the backward ops."


@drawn_safely
def autograd_graph(result, name, index, present=False):
    plain = st.toggle("Plain torchviz", key="plain_graph", bind=URL)
    if present:  # a projector: short labels at the chosen element, and the whole graph on the screen
        # The labels index x's elements; a leaf's element (w[0]) has no place in x, so its graph shows whole tensors.
        leaf, flat = elements.locate(result, index)
        at, title = (flat, f"values and grads at {elements.element_label(result, index)}") if leaf == "x" else (
            None, "values and grads")
        dot = fitted(shown_dot(result, name, at=at), *PRESENTATION_GRAPH_INCHES, title=title)
        st.graphviz_chart(dot, width="content")
        return
    st.graphviz_chart(shown_dot(result, name), width="content")
    st.caption(PLAIN_GRAPH_CAPTION if plain else GRAPH_CAPTION)


def _step_lines(view, label, grad):
    """One step of the backward pass in short lines, so that it wraps between words, not inside numbers."""
    lines = [f"step {view.number} of {view.total}: {view.op}", f"  {view.heading}", f"at {label}:",
             f"  gradient in: d out / d ({view.title}) = {view.incoming:.6g}"]
    if view.accumulates:
        lines.append(f"  added into x.grad: x.grad at {label} = {grad:.6g}")
    else:
        for edge in view.edges:
            lines += [
                f"  to {edge.to}: local d({view.title})/d({edge.to}) = {edge.local:.6g}",
                f"    gradient out: {view.incoming:.6g} × {edge.local:.6g} = {edge.outgoing:.6g}",
            ]
    if view.is_chain:
        product = " × ".join(f"{f:.4g}" for f in view.factors)
        so_far = "" if view.accumulates else " so far"
        lines.append(f"  chain rule{so_far}: {product} = {view.running:.6g}")
    else:
        lines.append("  (a DAG: where paths meet, grads add)")
    return lines


@drawn_safely
def step_through(result, name, index):
    steps = result.reductions[name].steps
    if not steps:
        if result.program.leaves and any(bool(g.any()) for g in result.leaf_grads[name].values()):
            st.info("The output is a leaf itself: no operation to step through; its .grad is the seed.")
        elif result.grads[name].any():
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
    if not is_elementwise(result.program):
        st.code("\n".join(_tensor_step_lines(describe_tensors(result, name, number))), language=None, wrap_lines=True)
        return
    view = describe(result, name, number, index)
    grad = float(result.grads[name].flatten()[index])
    lines = _step_lines(view, element_label(tuple(result.x.shape), index), grad)
    st.code("\n".join(lines), language=None, wrap_lines=True)


def _tensor_step_lines(view):
    """A step of a backward pass that is not elementwise, with whole tensors: a leaf used twice shows its
    gradient arriving from each use and accumulating (+=)."""
    lines = [f"step {view.number} of {view.total}: {view.op}", f"  {view.heading}",
             f"  gradient in: d out / d ({view.title}) = {view.incoming}"]
    if view.leaf:
        for source, grad in view.arrivals:
            lines.append(f"  {view.leaf}.grad += {grad}   (from {source})")
        if len(view.arrivals) > 1:
            lines.append(f"  {view.leaf} is used {len(view.arrivals)} times: autograd adds the paths, {view.incoming}")
    for to, grad in view.edges:
        lines.append(f"  to {to}: gradient out d out / d ({to}) = {grad}")
    return lines


# ---------------------------------------------------------------- exports


def _script(result):
    return cached("exports", ("script", result.key), lambda: script_for(result.program, result.x))


def _notebook(result):
    return nbformat.writes(nbformat.from_dict(notebook_for(result.program, result.x)))


def _svg(dot):
    with TURNS.aside():  # Graphviz's dot runs in its own process
        return svg_export(dot)


@drawn_safely
def exports(result):
    """The example as a script, a notebook and a graph file, to take back to Jupyter.

    Files are made when a button is clicked (a callable as data): a large x makes a large script.
    """
    columns = st.columns(4)
    columns[0].download_button(
        "Script (.py)", functools.partial(_script, result), "autograd_example.py",
        "text/x-python",
    )
    columns[1].download_button(
        "Notebook (.ipynb)", functools.partial(_notebook, result), "autograd_example.ipynb",
        "application/json",
    )
    reduction = _current("reduction")
    dot = shown_dot(result, reduction if reduction in REDUCTIONS else "sum")  # the graph as shown
    columns[2].download_button("Graph (.dot)", dot, "autograd_graph.dot", "text/vnd.graphviz")
    if shutil.which("dot"):
        columns[3].download_button(
            "Graph (.svg)", functools.partial(_svg, dot), "autograd_graph.svg", "image/svg+xml"
        )
    else:
        columns[3].caption("SVG needs Graphviz's dot program on the server.")
    if result.x.numel() <= MAX_LITERAL_ELEMENTS:
        st.code(_script(result), language="python")
    else:
        st.caption(f"The script writes out all {result.x.numel():,} values of x: download it to read it.")


# ---------------------------------------------------------------- the chain rule, symbolically


def derivation_for(result):
    """The symbolic derivation, once per input: a timeout or a refusal is kept like an answer. Only "busy" (no
    worker came free in time) is not: it says nothing about the input. Each session runs one derivation at a time,
    and sessions take turns, so one page's traps cannot starve another's."""

    def derive():
        with TURNS.aside():  # the worker process does the work: the turn goes on to the next rerun meanwhile
            return symbolic_derivation(result.program, result.x, owner=_session_id())

    return cached("derivations", result.key, derive, keep=lambda derivation: derivation.status != "busy")


def _value_at(values, index):
    """Element `index` of nested lists shaped like x, or the one float of a scalar x (whose index is 0)."""
    return float(np.ravel(values)[index])


@drawn_safely
def chain_rule(result, derivation, name, index):
    if not derivation.ok:
        st.info(markdown_text(derivation.message) + ". The numbers, the graph and the check below still hold.")
        return
    for layer in derivation.layers:
        st.latex(r" \qquad ".join((layer.formula, *layer.local)))
        if layer.chain and layer.chain not in layer.local:  # a layer of x alone: its chain is its local derivative
            st.latex(layer.chain)
    with_leaves = not is_elementwise(result.program)
    of_what = "every element of x and the leaves" if with_leaves else "one element $x_i$ of x"
    st.markdown(f"**Backward from `{name}`**, for {of_what}:")
    st.latex(derivation.reductions[name].latex)
    label = elements.element_label(result, index)  # x's elements come first in the numbering: x[0, 1]
    symbolic = _value_at(derivation.reductions[name].values, index)
    autograd = elements.grad_at(result, name, index)
    grad = f"{elements.locate(result, index)[0]}.grad"
    st.markdown(
        f"At `{label}` this is **{symbolic:.6g}**. The same number, three places: the tangent's slope in the plot, "
        f"`{grad}` at `{label}` = **{autograd:.6g}**, and the last step of the step-through."
    )


@drawn_safely
def layer_gradients(result, name):
    """d out / d layer for every layer, printed as x.grad is, after retain_grad()."""
    reduction = result.reductions[name]
    st.markdown("**Gradients of the layers** (`retain_grad()` keeps them):")
    lines = [reduction.code.split("\n")[0]] if reduction.out is not None else []
    for layer, grad in reduction.layer_grads.items():
        unreached = "None  # depends on no leaf" if result.program.leaves else "None  # does not depend on x"
        lines += [f"print({layer}.grad)", tensor_repr(grad) if grad is not None else unreached]
    st.code("\n".join(lines), language="python")  # no wrap_lines: a soft wrap may fall inside a number


MAX_TABLE_ROWS = 24


def cached_verification(result, derivation):
    """Finite differences cost two float64 forward passes over x: admitted like the exploration itself."""
    usable = derivation if derivation.ok else None

    def check():
        count = elements.count(result)  # x's and every leaf's
        estimate = check_bytes(count, _operations(result.work, count))
        return admitted(estimate, lambda: verify(result, usable, max_rows=MAX_TABLE_ROWS))

    return cached("views", ("verification", result.key, derivation.status), check)


def _check_table(check, shape):
    """One reduction's check as a DataFrame: built once per input, not converted again on every rerun."""
    rows = [
        {
            "element": row.label or element_label(shape, i),
            "autograd": f"{row.autograd:.6g}",
            "symbolic": "-" if row.symbolic is None else f"{row.symbolic:.6g}",
            "finite diff.": f"{row.finite_difference:.6g}",
            "": {True: "✓", False: "✗", None: "·"}[row.ok] + (f" {row.note}" if row.note else ""),
        }
        for i, row in enumerate(check.rows)
    ]
    return pandas.DataFrame(rows)


def _check_tables(result, checked):
    shape = tuple(result.x.shape)
    return cached("views", ("check_tables", result.key, checked.symbolic),
                  lambda: {name: _check_table(check, shape) for name, check in checked.checks.items()})


@drawn_safely
def verification(result, derivation):
    """Prove the solution, as the notebooks do: autograd against symbolic and finite differences."""
    checked = cached_verification(result, derivation)
    tables = _check_tables(result, checked)
    st.caption(f"Agreement means {checked.tolerance}. Finite differences are central, in float64.")
    for column, (name, check) in zip(st.columns(3), checked.checks.items(), strict=True):
        with column:
            mark = {True: "✓ agree", False: "✗ DISAGREE", None: "- nothing comparable"}[check.passed]
            worst = "-" if check.max_abs_diff is None else f"{check.max_abs_diff:.2e}"
            st.markdown(f"**{name}**: {mark}, max diff {worst}")
            st.table(tables[name], hide_index=True)
            if check.total is not None:
                st.caption(f"A sample: {check.elements} evenly spaced of {check.total:,} elements of x and the "
                           "leaves, each perturbed on its own; the mark covers the sample.")
            elif check.elements > len(check.rows):
                st.caption(f"First {len(check.rows)} of {check.elements:,} elements; the mark covers them all.")
    if not checked.passed:
        st.error("Autograd and a reference disagree on at least one element: see the ✗ rows.")
