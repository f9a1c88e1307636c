"""The real page with admission control that lets no large request wait: one runs, any other is refused.

tests/test_admission_protocol.py serves it, so that refusals happen whenever two large
requests overlap, without depending on how long the queue takes to drain.
"""

import runpy
from pathlib import Path

from explorer.serving.admission import ADMISSION

ADMISSION.max_queue = 0
runpy.run_path(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), run_name="__main__")
