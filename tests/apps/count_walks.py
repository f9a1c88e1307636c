"""`streamlit <argv>` in this process, after counting Streamlit's per-run module walk into a file.

tests/test_watcher.py runs this with the venv's python from the repo root, with `make run`'s argv:
`run streamlit_app.py` and where to listen. Every call of LocalSourcesWatcher.update_watched_modules
(the walk over all of sys.modules that ends each script run when a file watcher is on) and every
LocalSourcesWatcher created appends a line to the file named by COUNT_WALKS_FILE.
"""

import os
import sys

from streamlit.watcher import local_sources_watcher
from streamlit.web import cli

COUNTS = os.environ["COUNT_WALKS_FILE"]
Watcher = local_sources_watcher.LocalSourcesWatcher


def counting(name, method):
    def counted(self, *args, **kwargs):
        with open(COUNTS, "a") as out:
            out.write(name + "\n")
        return method(self, *args, **kwargs)

    return counted


Watcher.__init__ = counting("watcher", Watcher.__init__)
Watcher.update_watched_modules = counting("walk", Watcher.update_watched_modules)

if __name__ == "__main__":
    sys.exit(cli.main(args=sys.argv[1:], prog_name="streamlit"))
