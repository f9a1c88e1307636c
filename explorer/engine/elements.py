"""The elements a view can look at: every element of x, then of each declared leaf, in one numbering.

For a program of x alone the numbering is x's flat index, as it always was;
declared leaves follow x, in order of declaration. Labels read like the
user's Python: `x[0, 1]`, `w[1]`, and `b` for a scalar.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Element:
    """One element of the one numbering: which leaf, where in it, and how the user's Python writes it."""

    index: int  # in the one numbering: x's elements first, then each leaf's
    leaf: str  # "x", "w"
    flat: int  # flat index within that leaf
    label: str  # "x[0, 1]", "w[1]", "b"


def label(name, shape, flat_index):
    if not shape:
        return name
    index = np.unravel_index(flat_index, shape)
    return f"{name}[" + ", ".join(str(int(i)) for i in index) + "]"


def _sizes(exploration):
    return [(name, tuple(values.shape), values.numel()) for name, values in exploration.leaves.items()]


def count(exploration):
    """Elements in all, x's and every leaf's."""
    return sum(size for _, _, size in _sizes(exploration))


def locate(exploration, index):
    """(leaf name, flat index within that leaf) for an element of the one numbering; out of range is x's first."""
    for name, _, size in _sizes(exploration):
        if index < size:
            return name, index
        index -= size
    return "x", 0


def labels(exploration):
    return [label(name, shape, i) for name, shape, size in _sizes(exploration) for i in range(size)]


def element(exploration, index):
    """The Element at `index` of the one numbering (out of range: x's first)."""
    name, flat = locate(exploration, index)
    return Element(index, name, flat, label(name, tuple(exploration.leaves[name].shape), flat))


def element_label(exploration, index):
    name, flat = locate(exploration, index)
    return label(name, tuple(exploration.leaves[name].shape), flat)


def grad_at(exploration, reduction, index):
    """That element's gradient under `reduction`: x.grad's or the leaf's."""
    name, flat = locate(exploration, index)
    return float(exploration.leaf_grads[reduction][name].flatten()[flat])


def value_at(exploration, index):
    name, flat = locate(exploration, index)
    return float(exploration.leaves[name].flatten()[flat])
