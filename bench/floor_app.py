"""The floor: a bare Streamlit app shaped like ours, with nothing behind it.

The same navigation (titles, icons, URL paths), a sidebar of ten filter widgets and one
400-row table per page, no database and no charts.  Served with the same settings beside ours,
it shows how much of a page's time is Streamlit's own, so ours is judged by the ratio to it
(issue 15) rather than by absolute times that drift on a shared machine.

    streamlit run bench/floor_app.py
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import streamlit as st

#: (URL path, title, icon) of every page of ours, the overview first (the root URL).
PAGES = (
    ("overview", "Overview", ":material/dashboard:"),
    ("partners", "Partners", ":material/groups:"),
    ("partner_detail", "Partner detail", ":material/person_search:"),
    ("conversions", "Conversions", ":material/conversion_path:"),
    ("stock", "Keys & stock", ":material/key:"),
    ("throughput", "Throughput", ":material/speed:"),
    ("reporting", "Reporting", ":material/assignment_late:"),
    ("compliance", "Compliance", ":material/gpp_maybe:"),
    ("audit", "Audit log", ":material/policy:"),
)
ROWS = 400
SEGMENTS = ("education", "authority", "nonprofit")


@st.cache_resource
def _table() -> pl.DataFrame:
    """One fixed 400-row table, built once per server like a cached result."""
    return pl.DataFrame(
        {
            "partner_id": range(1, ROWS + 1),
            "partner_name": [f"Partner {i:03d}" for i in range(1, ROWS + 1)],
            "region": [("EMEA", "Americas", "APAC")[i % 3] for i in range(ROWS)],
            "installations": [(i * 7919) % 5000 for i in range(ROWS)],
            "keys_allocated": [(i * 104729) % 6000 for i in range(ROWS)],
            "share": [((i * 31) % 100) / 100 for i in range(ROWS)],
        }
    )


def _sidebar() -> None:
    """Ten filter widgets, the kinds and order of ours."""
    sidebar = st.sidebar
    sidebar.selectbox("Demo persona", ["Management (all partners)", "Account manager: A"])
    sidebar.selectbox("Period", ["Last 30 days", "Last 90 days", "Last 365 days", "Year to date"])
    sidebar.date_input("From", dt.date(2025, 11, 26), format="YYYY-MM-DD")
    sidebar.date_input("To", dt.date(2026, 11, 25), format="YYYY-MM-DD")
    sidebar.selectbox("Account manager", ["A", "B", "C"], index=None)
    sidebar.multiselect("Partners", [f"Partner {i:03d}" for i in range(1, 41)])
    sidebar.multiselect("Region", ["EMEA", "Americas", "APAC"])
    sidebar.multiselect("Country", ["DE", "FR", "GB", "NL", "US"])
    sidebar.multiselect("Product", ["W10P", "W11P", "W11H", "OFF21"])
    sidebar.multiselect("Segment", list(SEGMENTS))


def _page(title: str) -> None:
    _sidebar()
    st.title(title)
    st.dataframe(_table(), hide_index=True)


def _drawer(title: str) -> Callable[[], None]:
    return lambda: _page(title)


def main() -> None:
    st.set_page_config(page_title="Floor", layout="wide")
    pages = [
        st.Page(_drawer(title), title=title, icon=icon, url_path=path, default=path == "overview")
        for path, title, icon in PAGES
    ]
    st.navigation(pages).run()


if __name__ == "__main__":  # how Streamlit runs the script; the benchmarks import PAGES
    main()
