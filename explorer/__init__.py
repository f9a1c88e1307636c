"""Autograd graph explorer: the engine behind the Streamlit page, free of Streamlit.

    r = explorer.explore("[[1, 2, 3], [3, 2, 1]]", "y = 3*x + 2\\nz = 2*y**2")
    r.output, r.grads["sum"], r.grads["mean"], r.grads["ones_like"], r.dot
    explorer.export_script(x_text, layers_text), explorer.export_notebook(x_text, layers_text)
    explorer.explore(x_text, layers_text, vector="[[1, 0, -2], [0.5, 3, 0]]").grads["vector"]  # vᵀJ
    explorer.jacobian(r, "x"), explorer.jvp(r, {"x": u})  # J, shaped z.shape + x.shape; J·u by forward mode
    explorer.hessian(r, "sum"), explorer.double_backward_dot(r, "sum"), explorer.train(x_text, layers_text)
"""

import importlib

from explorer.engine.errors import FormulaError

# Loaded on first use (PEP 562), so that the sympy worker, importing explorer.symbolic.worker, does not
# pull in torch through this package's own import.
_LAZY = {
    "Exploration": ".engine.exploration",
    "explore": ".engine.exploration",
    "export_notebook": ".views.export",
    "export_script": ".views.export",
    "jacobian": ".engine.jacobian",
    "jvp": ".engine.jacobian",
    "hessian": ".engine.second_order",
    "double_backward_dot": ".engine.second_order",
    "train": ".engine.training",
}

__all__ = ["FormulaError", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
