"""The checks every typed text passes first, whatever field it fills: its characters and its length.

Only printable ASCII, tabs and newlines; a look-alike (a Unicode minus, a times sign) or a control character is
named in the error, with where it stands. Then the field's length limit, before any other work.
"""

import re
import unicodedata

from explorer.engine.errors import FormulaError

_BAD_CHARACTER = re.compile(r"[^\t\n\x20-\x7e]")  # ASCII, printable, plus tab and newline
_CONTROL_NAMES = {
    "\r": "CARRIAGE RETURN: end lines with LF or CRLF, not a lone CR",
    "\x00": "NULL",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
}
_LOOK_ALIKES = {"\u2212": "'-'", "\u2013": "'-'", "\u00d7": "'*'", "\u00b7": "'*'", "\u22c5": "'*'",
                "\u00f7": "'/'", "\u00a0": "a plain space", "\u2018": "no quotes", "\u2019": "no quotes"}


def normalise(text, field):
    """CRLF line ends become LF; anything but a str is a caller's bug, not user input."""
    if not isinstance(text, str):
        raise TypeError(f"{field} text must be a str, not {type(text).__name__}")
    return text.replace("\r\n", "\n")


def _describe(char):
    if char in _CONTROL_NAMES:
        return _CONTROL_NAMES[char]
    name = unicodedata.name(char, "control character" if ord(char) < 160 else "unnamed character")
    hint = _LOOK_ALIKES.get(char)
    if hint is None and name.startswith("SUPERSCRIPT"):
        hint = "** (as in x**2)"
    if hint is None:
        plain = unicodedata.normalize("NFKC", char)
        hint = repr(plain) if plain.isascii() and plain.isprintable() and plain.strip() else None
    return f"{name}; write {hint} instead" if hint else name


def check_characters(text, field):
    """ASCII only: look-alikes (full-width x, Cyrillic x, superscript 2, minus sign) are refused by name."""
    bad = _BAD_CHARACTER.search(text)  # one C-speed pass: x may be a megabyte
    if bad is None:
        return
    offset, char = bad.start(), bad.group()
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    raise FormulaError(
        f"character U+{ord(char):04X} ({_describe(char)}) is not allowed: formulas are plain ASCII",
        field=field,
        line=line,
        col=col,
    )


def check_length(text, most, field, what):
    if len(text) > most:
        raise FormulaError(f"{what} is {len(text):,} characters; the limit is {most:,}", field=field)
