"""The real page under Streamlit's AppTest, opened as a link would open it: shared by the page tests."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")  # AppTest resolves relative paths oddly


def open_link(timeout=60, **query):
    """The page after its first run, with `query` in its URL before that run, as a shared link sets it."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()
