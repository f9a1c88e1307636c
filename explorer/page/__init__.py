"""The page: the only layer that imports Streamlit. Each section takes its inputs as parameters."""
