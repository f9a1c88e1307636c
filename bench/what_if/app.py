"""What-if: the app unchanged, run with the fixes named in BENCH_WHAT_IF applied (see patches.py)."""

import runpy

import patches  # Streamlit puts this script's folder on sys.path; imported once per process

runpy.run_path(patches.APP_SCRIPT, run_name="__main__")
