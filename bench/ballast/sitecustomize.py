"""A server larger than the memory model assumes: bench/run.py's "budget_heavier" puts this folder first on
PYTHONPATH, and Python imports it at start-up. In the server (not its symbolic workers) it holds
EXPLORER_BENCH_BALLAST_MB of touched bytes for the process's life, as the one run of 2026-12-04 12:44 whose
server sat 53 MiB above the model at idle (cause unknown)."""

import os
import sys

if any(arg.endswith("streamlit_app.py") for arg in sys.argv):
    BALLAST = b"\x01" * int(float(os.environ.get("EXPLORER_BENCH_BALLAST_MB", "0")) * 1_000_000)
