"""Conversions: how many former RRPs became TPR partners, how fast, and who to call next."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, labels, language, ui
from dashboard import data_access as da
from dashboard.language import _
from queries.conversions import (
    STAGES,
    conversion_funnel,
    conversion_summary,
    conversions_over_time,
    lost_partners,
    lost_reasons,
    stuck_partners,
    time_to_convert,
)

filters = ui.page_filters()
st.title(_("RRP → TPR conversions"))
st.caption(
    _("Funnel and lists at {as_of}; conversions over time from {start} to {end}.").format(
        as_of=ui.date(filters.as_of),
        start=ui.date(filters.date_from),
        end=ui.date(filters.range_end),
    )
)

summary = da.load(conversion_summary, filters).row(0, named=True)
cards = st.columns(4)
cards[0].metric(_("Former RRPs"), ui.number(summary["registered"]), border=True)
cards[1].metric(_("Converted"), ui.number(summary["converted"]), border=True)
rate = summary["conversion_rate"]
cards[2].metric(
    _("Conversion rate"),
    ui.percent(rate, decimals=1),
    border=True,
)
cards[3].metric(
    _("Median days to convert"), ui.number(summary["median_days_to_convert"]), border=True
)

funnel = da.load(conversion_funnel, filters)
if summary["registered"] == 0:
    st.info(_("No former RRPs match these filters — clear the partner or manager filter."))
    st.stop()
left, right = st.columns(2)
left.plotly_chart(charts.funnel(funnel, language.current()))
distribution = da.load(time_to_convert, filters)
if distribution.is_empty():
    right.info(_("Nobody has converted yet, so there is no time to convert to show."))
else:
    right.plotly_chart(charts.time_to_convert(distribution, language.current()))
ui.table(funnel, "conversion-funnel", empty=_("No former RRPs match these filters."))

over_time = da.load(conversions_over_time, filters, "month")
if over_time.is_empty():
    st.info(
        _(
            "No contracts signed or partners lost in this date range — widen it to see the "
            "RRP sunset in 2020 and 2021."
        )
    )
else:
    st.plotly_chart(charts.conversions_over_time(over_time, language.current()))

st.subheader(_("Who to call: former RRPs stuck before their first order"))
st.caption(
    _(
        "Stalled for one to three months first (still warm), then three to twelve months, "
        "then those still moving on their own; those silent for a year or more come last."
    )
)
stuck = da.load(stuck_partners, filters)
stage_names = [name for name, _stage in STAGES if name != "first_order"]
tabs = st.tabs(
    [
        f"{labels.value('stage', name)} ({stuck.filter(stuck['stage'] == name).height})"
        for name in stage_names
    ]
)
for tab, name in zip(tabs, stage_names, strict=True):
    with tab:
        ui.table(
            stuck.filter(stuck["stage"] == name),
            f"stuck-{name}",
            empty=_("Nobody is waiting at this stage."),
        )

st.subheader(_("Lost partners"))
left, right = st.columns([1, 2])
with left:
    ui.table(da.load(lost_reasons, filters), "lost-reasons", empty=_("No partner has been lost."))
with right:
    ui.table(da.load(lost_partners, filters), "lost-partners", empty=_("No partner has been lost."))
