"""Views: pure functions from an exploration and a selection to DOT, a figure, text or files. No Streamlit."""
