"""The page's state as it travels in a link: one typed description of every value, and its checks.

A link (the URL) or a websocket message can set any of these values to anything:
`validated` checks them all against `FIELDS` before a widget or a section reads
them, and a bad value becomes the default, with a short notice, never an
exception. Three ranges depend on the result (the element's label, its flat
index, the backward step): the `*_within` helpers check those where the result
is known, with the same checks and the same kind of notice.

The widgets themselves are bound to the URL (Streamlit's bind="query-params"),
so Streamlit reads and writes their values; this module also names them and
handles the two things binding doesn't: the `hide` list and building a link.
"""

import math
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from explorer.engine import elements, limits
from explorer.engine.elements import Element
from explorer.engine.language import ALL_REDUCTIONS
from explorer.engine.training import OPTIMIZERS
from explorer.page import presets

# Sections a link can hide, TensorFlow-Playground style: ?hide=editor,steps
SECTIONS = ("editor", "forward", "grads", "graph", "plot", "steps", "chain", "verify", "second", "train", "export",
            "jacobian", "accumulate")


# The tabs of printed tensors, and the section whose hiding removes each.
VALUE_TABS = {"x.grad": "grads", "Forward pass": "forward", "Layer gradients": "grads"}


@dataclass(frozen=True)
class Field:
    """One value a link can set: what it means, its default, and what it may hold."""

    kind: type  # str, int or bool
    default: object
    choices: tuple = ()  # when given, the only values allowed
    most: int = 0  # ints: the largest allowed (the least is 0); strs: the most characters (0: any length)
    text: bool = False  # an int that its widget holds as text (a text input)
    listed: bool = False  # a comma-separated list of `choices`
    positive: bool = False  # a text holding a finite number above 0 (a learning rate)


FIELDS = {
    "preset": Field(str, presets.DEFAULT.title, choices=tuple(presets.BY_TITLE)),
    # x and the layers are parsed by the engine, which bounds their length and content with its own messages.
    "x": Field(str, presets.DEFAULT.x),
    "layers": Field(str, presets.DEFAULT.layers),
    # "vector" is allowed in a link; select() falls back to "sum" when the page has no vector to start from.
    "reduction": Field(str, "sum", choices=tuple(ALL_REDUCTIONS)),
    "element": Field(str, "", most=64),  # a label such as "x[0, 2]"; "" means the first element
    # A text input, not a number input: Streamlit's number input raises on a text or an infinite value.
    "element_index": Field(int, "0", most=limits.MAX_X_ELEMENTS - 1, text=True),
    "plain_graph": Field(bool, False),
    "fold": Field(bool, False),  # each layer's subexpressions folded into one node (explorer.views.fold)
    # A graph has at most a node per formula node, plus the reduction and x's AccumulateGrad.
    "backward_step": Field(int, 0, most=limits.MAX_TOTAL_NODES + 2),
    "present": Field(bool, False),
    "values": Field(str, next(iter(VALUE_TABS)), choices=tuple(VALUE_TABS)),
    "chain": Field(bool, False),
    "verify": Field(bool, False),
    "export": Field(bool, False),
    "second": Field(bool, False),  # the folded "Second derivatives" section
    "parabola": Field(bool, False),  # the osculating parabola on the plot
    "train": Field(bool, False),  # the folded "Train" section, and its settings
    "lr": Field(str, "0.1", most=32, positive=True),
    "steps": Field(int, "20", most=limits.MAX_TRAIN_STEPS, text=True),
    "optimizer": Field(str, "sgd", choices=tuple(OPTIMIZERS)),
    "log_loss": Field(bool, False),
    "train_step": Field(int, 0, most=limits.MAX_TRAIN_STEPS),
    "hide": Field(str, "", choices=SECTIONS, most=200, listed=True),
    # The seed of z.backward(gradient=v): parsed by the engine with x's rules, bounded and checked there.
    "vector": Field(str, ""),
    "jacobian": Field(bool, False),
    "accumulate": Field(bool, False),
    "saved": Field(bool, False),
}

# Widget keys whose values a link carries, in the order they appear in it.
SHARED_KEYS = ("preset", "x", "layers", "reduction", "element", "element_index", "plain_graph", "backward_step",
               "present", "values", "chain", "verify", "export",
               "second", "parabola", "train", "lr", "steps", "optimizer", "log_loss", "train_step", "fold",
               "vector", "jacobian", "accumulate", "saved")

SHOWN_CHARS = 40  # of a rejected value, in its notice
MAX_DIGITS = 20  # in a whole number's text: int() of a longer one costs time, and means nothing here
UNREADABLE = object()  # stands for a value that Streamlit could not read back; no field allows it


class Rejected(ValueError):
    """A value its field does not allow; the message ends a notice."""


def shown(value):
    """A short picture of a value from outside, for a notice: never the whole of a huge text or number."""
    if value is UNREADABLE:
        text = "(unreadable)"
    elif isinstance(value, str):
        text = repr(value[: SHOWN_CHARS + 1])
    elif isinstance(value, int) and value.bit_length() > 64:  # repr of a 10**5000 raises
        text = f"(a {value.bit_length():,}-bit number)"
    elif isinstance(value, (int, float, type(None))):
        text = repr(value)
    else:
        text = f"(a {type(value).__name__})"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def whole_number(value, most):
    """An int in 0..most from an int or a decimal text: never a bool, a float or a text of a thousand digits."""
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS:
            value = int(digits)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Rejected(f"is not a whole number from 0 to {most:,}")
    if not 0 <= value <= most:
        raise Rejected(f"is outside 0 to {most:,}")
    return value


def positive_number(text):
    """`text` if it reads as a finite number above 0 (float's own reading: "0.1", "1e-3"); else Rejected."""
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise Rejected("is not a finite number above 0")
    return text


def _flag(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Rejected("is not true or false")


def _text(value, field):
    if not isinstance(value, str):
        raise Rejected("is not a text")
    if field.most and len(value) > field.most:
        raise Rejected(f"is longer than {field.most} characters")
    if field.listed:  # the known names are kept; validated() notes the others
        names = [name.strip() for name in value.split(",")]
        return ",".join(name for name in field.choices if name in names)
    if field.choices and value not in field.choices:
        raise Rejected("is not one of the choices")
    return value


def checked(key, value):
    """`value` as the page holds it, if FIELDS[key] allows it; else Rejected."""
    field = FIELDS[key]
    if field.kind is bool:
        return _flag(value)
    if field.kind is int and field.text:
        if not isinstance(value, str):  # its text input would fail to send anything else back to the page
            raise Rejected("is not a text")
        return str(whole_number(value, field.most))
    if field.kind is int:
        return whole_number(value, field.most)
    if field.positive:
        return positive_number(_text(value, field))
    return _text(value, field)


def validated(values):
    """Every value from outside, checked: (clean values, notices). A bad value becomes its default.

    `values` maps keys of FIELDS (others are ignored) to what a link or a message set. The clean
    values are in the form the page holds them (an int held as text stays text); `notices` maps
    each rejected key to one short line saying what was wrong and what is used instead.
    """
    clean, notices = {}, {}
    for key, value in values.items():
        if key not in FIELDS:
            continue
        try:
            clean[key] = checked(key, value)
        except Rejected as rejected:
            clean[key] = FIELDS[key].default
            notices[key] = f"{key} {shown(value)} {rejected}: using {shown(FIELDS[key].default)}."
            continue
        if FIELDS[key].listed and len(clean[key]) != len(value.strip()):
            unknown = [name.strip() for name in value.split(",") if name.strip() not in FIELDS[key].choices]
            if any(unknown):
                notices[key] = (f"{key}: {shown(', '.join(unknown))} is not a section; the sections are "
                                + ", ".join(FIELDS[key].choices) + ".")
    return clean, notices


# ---------------------------------------------------------------- ranges known once the result is


def index_within(value, count):
    """The flat index `value` names in an x of `count` elements: (index, notice or None); 0 if it names none."""
    if value in (None, ""):  # an empty box: the first element, as its placeholder says
        return 0, None
    try:
        return whole_number(value, count - 1), None
    except Rejected as rejected:
        return 0, f"Element {shown(value)} {rejected} (x has {count:,} elements): showing element 0."


def label_within(value, labels):
    """The position of the element labelled `value`; the first if it is not one. A label that names no element
    is an earlier choice for another x (after a new example, or x = 1.5): it resets quietly, with no notice."""
    if isinstance(value, str) and value in labels:
        return labels.index(value), None
    return 0, None


def step_within(value, steps):
    """The backward step `value` names among `steps`: (step, notice or None); 0, the whole pass, if none."""
    try:
        return whole_number(value, steps), None
    except Rejected as rejected:
        return 0, f"Backward step {shown(value)} {rejected} (this pass has {steps} steps): showing the whole pass."


# ---------------------------------------------------------------- the selection

MAX_ELEMENT_CHOICES = 64  # up to this many elements, a list of labels; beyond, a flat index typed as text
SELECTION_KEYS = ("reduction", "element", "element_index", "backward_step", "plain_graph", "fold")


@dataclass(frozen=True)
class Selection:
    """What every section looks at, resolved and checked once per rerun: no section reads the session."""

    reduction: str  # the way backward starts: "sum", "mean", "ones_like", or "vector" when one is given
    element: Element  # of x or a leaf, in explorer.engine.elements' one numbering
    step: int  # of the backward pass: 0 for the whole pass, else 1..len(steps)
    plain: bool  # torchviz's own graph, without the explorer's labels
    by_label: bool  # the element is chosen from a list of labels (else by its flat index, typed)
    notices: dict  # key ("element", "backward_step") -> a sentence about a value that named nothing, replaced
    stale: bool = False  # the result is the last example that worked, shown while the input has an error
    fold: bool = False  # each layer's subexpressions drawn as one node

    @property
    def step_index(self):
        """The current step as an index into the reduction's steps; None for the whole pass."""
        return self.step - 1 if self.step else None


def select(result, values):
    """The Selection for `result` from the page's current values (widget key -> value, from the session or the
    link): reduction, element or element_index, backward_step, plain_graph and fold. Never raises."""
    reduction = values.get("reduction")
    reduction = reduction if isinstance(reduction, str) and reduction in result.reductions else "sum"
    count = elements.count(result)
    by_label = count <= MAX_ELEMENT_CHOICES
    if by_label:
        index, element_notice = label_within(values.get("element"), elements.labels(result))
    else:
        index, element_notice = index_within(values.get("element_index"), count)
    step, step_notice = step_within(values.get("backward_step") or 0, len(result.reductions[reduction].steps))
    plain = values.get("plain_graph") in (True, "true")
    notices = {"element": element_notice, "backward_step": step_notice}
    return Selection(reduction, elements.element(result, index), step, plain, by_label,
                     {key: notice for key, notice in notices.items() if notice},
                     fold=values.get("fold") in (True, "true"))


# ---------------------------------------------------------------- links


def parse_hidden(value):
    """The known section names in a comma-separated `hide` value, as its field checks it; anything else is ignored."""
    try:
        return frozenset(name for name in checked("hide", value).split(",") if name)
    except Rejected:
        return frozenset()


def _url_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def share_link(page_url, values, hidden=()):
    """A link to `page_url` holding `values` (widget key -> value) and the hidden sections.

    A value at its default is left out, to keep the link short, except x and the layers: a link
    always names its own example."""
    params = [(key, _url_value(values[key])) for key in SHARED_KEYS
              if values.get(key) not in (None, "") and (key in ("x", "layers") or values[key] != FIELDS[key].default)]
    if hidden:
        params.append(("hide", ",".join(section for section in SECTIONS if section in hidden)))
    scheme, netloc, path, _, _ = urlsplit(page_url or "")
    return urlunsplit((scheme, netloc, path or "/", urlencode(params), ""))
