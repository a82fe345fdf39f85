"""The Streamlit dashboard and the `mar-insight` command line."""
