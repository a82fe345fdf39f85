"""Audit log: who downloaded or exported which report, when, with which filters."""

from __future__ import annotations

import streamlit as st

from dashboard import data_access as da
from dashboard import ui
from queries.audit import audit_entries

filters = ui.page_filters()
st.title("Audit log")
if not ui.viewer().sees_audit_log:
    st.error("Only management and administrators can see the audit log.")
    st.stop()
st.caption(
    f"Every CSV download and export from {filters.date_from} to {filters.date_to}, newest first."
)
ui.table(
    da.load(audit_entries, filters),
    "audit-log",
    empty="Nobody has downloaded or exported anything in this date range.",
)
