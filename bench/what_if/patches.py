"""The fixes suggested in BENCHMARKS.md, applied from outside explorer/ so their effect can be measured.

Imported once per server process by app.py. BENCH_WHAT_IF names the fixes, comma-separated:
- "freeze": gc.freeze() once the modules are imported. Streamlit runs gc.collect(2) after
  every script run (runner.postScriptGC); with torch, sympy, plotly and Streamlit loaded
  that walks a few hundred thousand objects and holds the GIL. Frozen objects are skipped.
The other suggested fix is configuration: STREAMLIT_RUNNER_POST_SCRIPT_GC=false in the
server's environment, the same as `[runner] postScriptGC = false` in .streamlit/config.toml.
"""

import gc
import os
from pathlib import Path

import explorer.ui  # noqa: F401  (torch, sympy, plotly, nbformat and Streamlit's elements)

APP_SCRIPT = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
WHAT_IF = {name.strip() for name in os.environ.get("BENCH_WHAT_IF", "").split(",") if name.strip()}

if "freeze" in WHAT_IF:
    gc.collect()
    gc.freeze()
