"""Tensors printed exactly as torch prints them, without torch's per-call tensor work.

The page prints small tensors many times per rerun (x, each layer, x.grad and each
leaf's grad under three reductions, `out`). torch's printer (torch/_tensor_str.py)
runs tensor ops over all elements on every call (masked_select, abs, min, max, one
0-d tensor per element in `_Formatter.__init__`, slicing per row): about 3.4 ms of a
~30 ms rerun of the seed example, ~125 µs per 2x3 tensor. `tensor_repr` gives the same
string, character for character, in ~12 µs, from the values as Python floats
(`tolist()`), for the tensors the app prints: plain CPU float32/float64 tensors,
default print options, not summarised. Anything else goes to `repr`, so the answer
is always torch's.

Each private function mirrors one piece of torch 2.13's _tensor_str.py, named in its
docstring; when torch changes its printer, tests/test_printing.py says so.
"""

from itertools import compress
from math import isfinite

import torch
from torch import _tensor_str
from torch.autograd import forward_ad

PREFIX = "tensor("
INDENT = len(PREFIX)
PRECISION = 4  # the 4 of the ".4e" and ".4f" formats below
LINEWIDTH = 80
# torch's defaults (precision, threshold, edgeitems, linewidth, sci_mode): the only options mirrored here.
DEFAULT_OPTIONS = (PRECISION, 1000, 3, LINEWIDTH, None)
THRESHOLD = DEFAULT_OPTIONS[1]
FLOAT_DTYPES = (torch.float32, torch.float64)


def tensor_repr(tensor):
    """repr(tensor), computed on Python floats when the tensor is one the fast path mirrors exactly."""
    if not _mirrored(tensor):
        return repr(tensor)
    return _with_suffixes(PREFIX + _contents(tensor), _suffixes(tensor))


def _print_options_are_defaults():
    options = _tensor_str.PRINT_OPTS
    return (options.precision, options.threshold, options.edgeitems, options.linewidth, options.sci_mode) == (
        DEFAULT_OPTIONS
    )


def _mirrored(tensor):
    """Whether torch's printer would take the one path mirrored here: a plain, dense CPU float tensor,
    not summarised, no device suffix, no tangent (no forward-AD level open), no functorch wrapper,
    no torch function or dispatch mode (torch prints with modes off; tolist would go through them),
    no lazy negation or zero-tensor bit, default print options. Cheap checks first."""
    return (
        type(tensor) is torch.Tensor
        and tensor.dtype in FLOAT_DTYPES
        and tensor.is_cpu
        and tensor.layout == torch.strided
        and tensor.numel() <= THRESHOLD
        and _print_options_are_defaults()
        and torch._C._get_default_device() == "cpu"
        and forward_ad._current_level < 0
        and not torch._C._is_torch_function_mode_enabled()
        and torch._C._len_torch_dispatch_stack() == 0
        and not tensor.is_nested
        and not tensor.is_neg()
        and not tensor._is_zerotensor()
        and not torch._C._functorch.is_functorch_wrapped_tensor(tensor)
        and not torch._is_functional_tensor(tensor)
    )


def _contents(tensor):
    """Mirrors _tensor_str for an unsummarised float tensor: every value printed one way (chosen once for
    the tensor), right-aligned to one width, laid out in nested brackets."""
    if tensor.numel() == 0:
        return "[]"
    values = _flat(tensor.tolist(), tensor.dim())  # tolist needs no detach; it copies no tensor
    counted = [value != 0 and isfinite(value) for value in values]  # torch's nonzero_finite_vals
    int_mode, sci_mode = _modes(list(compress(values, counted)))
    texts = _texts(values, int_mode, sci_mode)
    width = _width(compress(texts, counted))
    padded = [text.rjust(width) for text in texts]  # torch's (max_width - len) * " " + text
    return _nested(padded, tuple(tensor.shape), INDENT, width)


def _flat(values, dim):
    """tolist()'s nested lists as one flat list, in order (a 0-d tensor's float as a list of one)."""
    if dim == 0:
        return [values]
    for _ in range(dim - 1):
        values = [value for row in values for value in row]
    return values


def _modes(nonzero_finite):
    """Mirrors _Formatter.__init__'s two decisions, taken on the nonzero finite values only: int_mode
    when all are whole; scientific when their largest/smallest magnitude ratio exceeds 1000, or the
    largest exceeds 1e8, or the smallest is under 1e-4. No such value: int_mode, not scientific."""
    if not nonzero_finite:
        return True, False
    smallest, largest = min(map(abs, nonzero_finite)), max(map(abs, nonzero_finite))
    int_mode = all(map(float.is_integer, nonzero_finite))
    sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
    return int_mode, sci_mode


def _texts(values, int_mode, sci_mode):
    """Mirrors _Formatter.format before padding: '1.0000e-05', '3.' (the point says float; not on nan
    or inf), or '0.5000'."""
    if sci_mode:
        return [f"{value:.4e}" for value in values]
    if int_mode:
        return [f"{value:.0f}." if isfinite(value) else f"{value:.0f}" for value in values]
    return [f"{value:.4f}" for value in values]


def _width(counted_texts):
    """Mirrors _Formatter's max_width: the longest text of a nonzero finite value, at least 1. nan, inf
    and zeros do not count, so they may overflow it (torch's "+ 1" for the int-mode point is the point
    in the text here)."""
    return max(map(len, counted_texts), default=1)


def _vector(texts, indent, width):
    """Mirrors _vector_str: as many elements per line as fit in the line width after the indent,
    counted with the common width (not each element's), continuation lines indented past '['."""
    elements_per_line = max(1, (LINEWIDTH - indent) // (width + 2))
    if len(texts) <= elements_per_line:
        return "[" + ", ".join(texts) + "]"
    lines = [", ".join(texts[i : i + elements_per_line]) for i in range(0, len(texts), elements_per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(texts, shape, indent, width):
    """Mirrors _tensor_str_with_formatter on the flat texts: rows of a d-dim tensor are separated by a
    comma, d-1 newlines and an indent one deeper than their bracket."""
    if not shape:
        return texts[0]
    if len(shape) == 1:
        return _vector(texts, indent, width)
    step = len(texts) // shape[0]
    rows = [_nested(texts[i : i + step], shape[1:], indent + 1, width) for i in range(0, len(texts), step)]
    return "[" + ("," + "\n" * (len(shape) - 1) + " " * (indent + 1)).join(rows) + "]"


def _grad_suffix(tensor):
    """Mirrors the end of _str_intern: grad_fn=<Name> for a non-leaf, else requires_grad=True if set."""
    try:
        grad_fn = tensor.grad_fn
    except RuntimeError:  # torch prints this for a no-grad view modified in place (pytorch#99968)
        return "grad_fn=<Invalid>"
    if grad_fn is not None:
        name = type(grad_fn).__name__
        if name == "CppFunction":
            name = grad_fn.name().rsplit("::", 1)[-1]
        return f"grad_fn=<{name}>"
    return "requires_grad=True" if tensor.requires_grad else None


def _suffixes(tensor):
    """Mirrors _str_intern's suffixes for a dense CPU tensor: an empty one's size unless 1-D, the dtype
    unless it is the default, then the autograd suffix."""
    suffixes = []
    if tensor.numel() == 0 and tensor.dim() != 1:
        suffixes.append(f"size={tuple(tensor.shape)}")
    if tensor.dtype != torch.get_default_dtype():
        suffixes.append(f"dtype={tensor.dtype}")
    grad_suffix = _grad_suffix(tensor)
    if grad_suffix is not None:
        suffixes.append(grad_suffix)
    return suffixes


def _with_suffixes(text, suffixes):
    """Mirrors _add_suffixes: each suffix after ', ' on the last line, or on a new indented line when it
    would pass the line width."""
    parts = [text]
    last_line_length = len(text) - text.rfind("\n") + 1  # torch's count, +1 and all
    for suffix in suffixes:
        if last_line_length + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * INDENT + suffix)
            last_line_length = INDENT + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_length += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
