"""Audit log: who downloaded or exported which report, when, with which filters."""

from __future__ import annotations

import streamlit as st

from dashboard import data_access as da
from dashboard import ui
from dashboard.language import _
from queries.audit import audit_entries

filters = ui.page_filters()
st.title(_("Audit log"))
if not ui.viewer().sees_audit_log:
    st.error(_("Only management and administrators can see the audit log."))
    st.stop()
st.caption(
    _("Every CSV download and export from {start} to {end}, newest first.").format(
        start=ui.date(filters.date_from), end=ui.date(filters.date_to)
    )
)
ui.table(
    da.load(audit_entries, filters),
    "audit-log",
    empty=_("Nobody has downloaded or exported anything in this date range."),
)
