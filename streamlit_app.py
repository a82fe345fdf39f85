"""The Streamlit entrypoint: `streamlit run streamlit_app.py` (what `mar-insight serve` runs).

It sits outside `dashboard/` on purpose: Streamlit treats a `pages/` folder beside the main
script as stand-alone pages it may run without the entrypoint, which would skip sign-in and
routing.  Here every page runs through `dashboard.app.main`.
"""

from dashboard.app import main

main()
