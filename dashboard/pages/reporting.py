"""Reporting: which partners are behind on licence reporting, by how much, since when."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, language, ui
from dashboard import data_access as da
from dashboard.language import _
from queries.reporting import (
    late_report_trend,
    most_urgent_first,
    report_status,
    reporting_backlog,
)

filters = ui.page_filters()
due_day = da.settings().report_due_day
st.title(_("Licence reporting"))
st.caption(
    _(
        "Backlog at {as_of}, most unreported installations first, then most days overdue; "
        "reports for periods from {start} to {end}. Every TPR owes a report for each month it "
        "installed; a month without a report on file counts as due on day {due_day} of the "
        "next month. Own sites owe none."
    ).format(
        as_of=ui.date(filters.as_of),
        start=ui.date(filters.date_from),
        end=ui.date(filters.range_end),
        due_day=due_day,
    )
)

backlog = da.load(reporting_backlog, filters, due_day)
cards = st.columns(3)
cards[0].metric(_("Partners behind"), ui.number(backlog.height), border=True)
cards[1].metric(_("Missing reports"), ui.number(int(backlog["missing_reports"].sum())), border=True)
cards[2].metric(
    _("Unreported installations"),
    ui.number(int(backlog["unreported_installations"].sum())),
    border=True,
)
ui.table(
    most_urgent_first(backlog),
    "reporting-backlog",
    empty=_("Every partner in scope is up to date with its licence reports."),
    export=backlog,
)

trend = da.load(late_report_trend, filters, due_day)
if trend.is_empty():
    st.info(_("No licence reports fall in this date range — widen it."))
else:
    st.plotly_chart(charts.late_reports(trend, language.current()))

st.subheader(_("Discrepancies: reported vs actual installations"))
reports = da.load(report_status, filters, due_day)
ui.table(
    reports.filter(pl.col("discrepancy").is_not_null() & (pl.col("discrepancy") != 0)),
    "report-discrepancies",
    empty=_("Every submitted report matches the installations."),
)
