"""Autograd graph explorer: the engine behind the Streamlit page, free of Streamlit.

    r = explorer.explore("[[1, 2, 3], [3, 2, 1]]", "y = 3*x + 2\\nz = 2*y**2")
    r.output, r.grads["sum"], r.grads["mean"], r.grads["ones_like"], r.dot
    explorer.export_script(x_text, layers_text), explorer.export_notebook(x_text, layers_text)
"""

from .errors import FormulaError
from .explore import Exploration, explore
from .export import export_notebook, export_script

__all__ = ["Exploration", "FormulaError", "explore", "export_notebook", "export_script"]
