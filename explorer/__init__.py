"""Autograd graph explorer: the engine behind the Streamlit page, free of Streamlit.

    r = explorer.explore("[[1, 2, 3], [3, 2, 1]]", "y = 3*x + 2\\nz = 2*y**2")
    r.output, r.grads["sum"], r.grads["mean"], r.grads["ones_like"], r.dot
    explorer.export_script(x_text, layers_text), explorer.export_notebook(x_text, layers_text)
"""

import importlib

from .errors import FormulaError

# Loaded on first use (PEP 562), so that importing explorer.symbolic, in the sympy worker, does not
# pull in torch through this package's own import.
_LAZY = {
    "Exploration": ".exploration",
    "explore": ".exploration",
    "export_notebook": ".export",
    "export_script": ".export",
}

__all__ = ["Exploration", "FormulaError", "explore", "export_notebook", "export_script"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
