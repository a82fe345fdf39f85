"""The `mar-insight` command line: a door of its own beside the dashboard, using only `data/`,
`queries/` and `notify/` (whose digest chart shares the dashboard's figure code)."""

import logging

import streamlit.logger

# Importing the shared figure code makes Streamlit set up its caches; outside a server it warns
# on every command that it keeps them in memory, which is just what a command wants.
streamlit.logger.get_logger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
