"""What every section of the page shares: failing safely, escaping text, folded sections, the layout helpers,
and the page's constant look (its icon, the projector's CSS)."""

import functools
import logging
import re
import urllib.parse
from dataclasses import dataclass

import streamlit as st

from explorer.serving.admission import ServerBusy

URL = "query-params"  # every keyed widget lives in the URL, so a link is the whole view


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


def markdown_text(text):
    """Text shown literally inside Markdown: every character Markdown or KaTeX acts on is escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])", r"\\\1", text)


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
[data-testid="stMain"] [data-testid="stCode"] code { font-size: 0.9rem; }  /* 14.4 px: 40 characters fit */
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


# Constant CSS, never user text: a formula wider than the chain rule's column (a 3×3 Jacobian of fractions)
# scrolls with a scrollbar that shows, not an overlay one that hides until touched. Chromium ignores the
# ::-webkit-scrollbar rules if scrollbar-width or scrollbar-color is set, so neither is.
CHAIN_CSS = """<style>
.st-key-chain .katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 4px; }
.st-key-chain .katex-display::-webkit-scrollbar { height: 10px; }
.st-key-chain .katex-display::-webkit-scrollbar-thumb { background: #9e9e9e; border-radius: 5px; }
.st-key-chain .katex-display::-webkit-scrollbar-track { background: #ececec; }
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


def download(area, label, data, file_name, mime):
    """A download button in `area` that reruns nothing. By default a download reruns the page, and a second button
    clicked during that rerun names a file the rerun has replaced, so its download never starts (a CI run saw it;
    Streamlit's docs name the race)."""
    return area.download_button(label, data, file_name, mime, on_click="ignore")


def lazy_section(label, key):
    """A folded section whose content runs only while it is open; open or closed is in the URL."""
    return st.expander(label, key=key, on_change="rerun", bind=URL)
