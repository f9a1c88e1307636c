"""The page's state as it travels in a link: which widgets are shared, and which sections a link hides.

The widgets themselves are bound to the URL (Streamlit's bind="query-params"),
so Streamlit reads and writes their values; this module only names them and
handles the two things binding doesn't: the `hide` list and building a link.
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

# Widget keys whose values a link carries, in the order they appear in it.
SHARED_KEYS = ("preset", "x", "layers", "reduction", "element", "element_index", "plain_graph", "backward_step",
               "present", "values", "chain", "verify", "export")

# Sections a link can hide, TensorFlow-Playground style: ?hide=editor,steps
SECTIONS = ("editor", "forward", "grads", "graph", "plot", "steps", "chain", "verify", "export")


def parse_hidden(value):
    """The known section names in a comma-separated `hide` value; anything else is ignored."""
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip() for part in value[:200].split(",") if part.strip() in SECTIONS)


def unknown_sections(value):
    """The names in a `hide` value that are not sections (at most five, each cut to 24 characters)."""
    if not isinstance(value, str):
        return ()
    parts = [part.strip() for part in value[:200].split(",")]
    return tuple(part[:24] for part in parts if part and part not in SECTIONS)[:5]


def _url_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def share_link(page_url, values, hidden=()):
    """A link to `page_url` holding `values` (widget key -> value) and the hidden sections."""
    params = [(key, _url_value(values[key])) for key in SHARED_KEYS if values.get(key) not in (None, "")]
    if hidden:
        params.append(("hide", ",".join(section for section in SECTIONS if section in hidden)))
    scheme, netloc, path, _, _ = urlsplit(page_url or "")
    return urlunsplit((scheme, netloc, path or "/", urlencode(params), ""))
