"""Reporting: which partners are behind on licence reporting, by how much, since when."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, ui
from dashboard import data_access as da
from queries.reporting import late_report_trend, report_status, reporting_backlog

filters = ui.page_filters()
st.title("Licence reporting")
st.caption(
    f"Backlog at {filters.as_of}, most overdue first; reports for periods from "
    f"{filters.date_from} to {filters.range_end}."
)

backlog = da.load(reporting_backlog, filters)
cards = st.columns(3)
cards[0].metric("Partners behind", ui.number(backlog.height), border=True)
cards[1].metric("Missing reports", ui.number(backlog["missing_reports"].sum()), border=True)
cards[2].metric(
    "Unreported installations", ui.number(backlog["unreported_installations"].sum()), border=True
)
ui.table(
    backlog,
    "reporting-backlog",
    empty="Every partner in scope is up to date with its licence reports.",
)

trend = da.load(late_report_trend, filters)
if trend.is_empty():
    st.info("No licence reports fall in this date range — widen it.")
else:
    st.plotly_chart(charts.late_reports(trend))

st.subheader("Discrepancies: reported vs actual installations")
reports = da.load(report_status, filters)
ui.table(
    reports.filter(pl.col("discrepancy").is_not_null() & (pl.col("discrepancy") != 0)),
    "report-discrepancies",
    empty="Every submitted report matches the installations.",
)
