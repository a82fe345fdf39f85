"""The Streamlit entrypoint: it only routes.  Filters are resolved once, then the page runs.

Every failure the viewer can do something about ends in one sentence here, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from sqlalchemy.exc import OperationalError

from dashboard import data_access
from data.errors import DATABASE_UNREACHABLE, UserError

PAGES = Path(__file__).resolve().parent / "pages"
NO_SCHEMA = (
    "The database has no MAR Insight tables yet; run 'mar-insight demo' (or 'make run', which "
    "creates the demo database) or 'mar-insight import DIR', then reload."
)


def _pages() -> list[st.Page]:
    def page(name: str, title: str, icon: str, **kwargs: bool) -> st.Page:
        return st.Page(PAGES / f"{name}.py", title=title, icon=icon, url_path=name, **kwargs)

    return [
        page("overview", "Overview", ":material/dashboard:", default=True),
        page("partners", "Partners", ":material/groups:"),
        page("partner_detail", "Partner detail", ":material/person_search:"),
        page("conversions", "Conversions", ":material/conversion_path:"),
        page("stock", "Keys & stock", ":material/key:"),
        page("throughput", "Throughput", ":material/speed:"),
        page("reporting", "Reporting", ":material/assignment_late:"),
    ]


def main() -> None:
    st.set_page_config(page_title="MAR Insight", page_icon=":material/analytics:", layout="wide")
    navigation = st.navigation(_pages())
    st.logo(str(Path(__file__).resolve().parent / "logo.svg"), size="large")
    try:
        if not data_access.schema_exists():
            st.error(NO_SCHEMA)
            return
        navigation.run()
    except OperationalError:
        st.error(DATABASE_UNREACHABLE, icon=":material/cloud_off:")
    except UserError as exc:
        st.error(str(exc))


main()
