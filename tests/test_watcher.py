"""The server `make run` starts walks no modules after a rerun: as shipped, and under Community Cloud's settings.

With a file watcher on, every script run ends with Streamlit's LocalSourcesWatcher.update_watched_modules on
the event-loop thread, a walk over all of sys.modules (~2,760 with torch, sympy and plotly): it was 48% of the
server's GIL samples in a burst. .streamlit/config.toml turns the watcher off. These tests start the server as
`make run` does (`streamlit run streamlit_app.py` from the repo root, only where to listen on the command line),
through tests/apps/count_walks.py, which counts the watchers made and the walks run; they count, not time.
"""

import sys

import pytest

from bench.protocol import FINISHED, Session
from tests.harness import CLOUD_ENV, ROOT, free_port, listen_flags, running

pytestmark = pytest.mark.e2e  # real `streamlit run` servers

COUNTER = ROOT / "tests" / "apps" / "count_walks.py"
RERUNS = 5


def counted_server(tmp_path, env):
    """`make run`'s server under the counter; yields (url, counts()), counts() -> {"watcher": n, "walk": n}."""
    port = free_port()
    counts_file = tmp_path / "walks.txt"
    command = [sys.executable, str(COUNTER), "run", "streamlit_app.py", *listen_flags(port)]

    def counts():
        lines = counts_file.read_text().split() if counts_file.exists() else []
        return {"watcher": lines.count("watcher"), "walk": lines.count("walk")}

    return running(command, port, env={**env, "COUNT_WALKS_FILE": str(counts_file)}, seconds=120), counts


def finished(run):
    """The script ran to its end, after which the watcher would walk. (What the page drew is other tests' concern.)"""
    return run.status == FINISHED.FINISHED_SUCCESSFULLY


def rerun(session, reruns):
    """`reruns` reruns, each run to its end: the walk follows every run that ends, whatever asked for it."""
    for _ in range(reruns):
        assert finished(session.rerun())


@pytest.mark.parametrize("env", [{}, CLOUD_ENV], ids=["as-shipped", "community-cloud"])
def test_no_module_walk_after_any_rerun(tmp_path, env):
    server, counts = counted_server(tmp_path, env)
    with server as (url, _):
        session = Session(url)
        try:
            assert finished(session.rerun())  # the first load
            rerun(session, RERUNS)
        finally:
            session.close()
        seen = counts()
    print(f"{'cloud' if env else 'shipped'}: {RERUNS + 1} runs, {seen}")
    assert seen == {"watcher": 0, "walk": 0}


@pytest.mark.xfail(strict=True, reason="Streamlit 1.67: WebSocketSessionManager resumes a stored session with "
                   "register_file_watchers(), whatever server.fileWatcherType says; measured 1 watcher, 5 walks")
def test_no_module_walk_after_a_reconnect(tmp_path):
    """A page whose websocket drops and comes back within disconnectedSessionTTL resumes its session."""
    server, counts = counted_server(tmp_path, {})
    with server as (url, _):
        first = Session(url)
        assert finished(first.rerun())
        first.close()
        resumed = Session(url, resume=first)
        try:
            rerun(resumed, RERUNS)
        finally:
            resumed.close()
        assert resumed.session_id == first.session_id  # the same session, resumed
        seen = counts()
    print(f"resumed: {RERUNS} runs, {seen}")
    assert seen == {"watcher": 0, "walk": 0}
