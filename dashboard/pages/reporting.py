"""Reporting: which partners are behind on licence reporting, by how much, since when."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, ui
from dashboard import data_access as da
from queries.reporting import (
    late_report_trend,
    most_urgent_first,
    report_status,
    reporting_backlog,
)

filters = ui.page_filters()
due_day = da.settings().report_due_day
st.title("Licence reporting")
st.caption(
    f"Backlog at {filters.as_of}, most unreported installations first, then most days "
    f"overdue; reports for periods from {filters.date_from} to {filters.range_end}. Every TPR "
    f"owes a report for each month it installed; a month without a report on file counts as "
    f"due on day {due_day} of the next month. Own sites owe none."
)

backlog = da.load(reporting_backlog, filters, due_day)
cards = st.columns(3)
cards[0].metric("Partners behind", ui.number(backlog.height), border=True)
cards[1].metric("Missing reports", ui.number(int(backlog["missing_reports"].sum())), border=True)
cards[2].metric(
    "Unreported installations",
    ui.number(int(backlog["unreported_installations"].sum())),
    border=True,
)
ui.table(
    most_urgent_first(backlog),
    "reporting-backlog",
    empty="Every partner in scope is up to date with its licence reports.",
    export=backlog,
)

trend = da.load(late_report_trend, filters, due_day)
if trend.is_empty():
    st.info("No licence reports fall in this date range — widen it.")
else:
    st.plotly_chart(charts.late_reports(trend))

st.subheader("Discrepancies: reported vs actual installations")
reports = da.load(report_status, filters, due_day)
ui.table(
    reports.filter(pl.col("discrepancy").is_not_null() & (pl.col("discrepancy") != 0)),
    "report-discrepancies",
    empty="Every submitted report matches the installations.",
)
