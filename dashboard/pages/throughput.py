"""Throughput: how fast we install, how often it fails, and where."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, language, ui
from dashboard import data_access as da
from dashboard.language import _
from queries.scope import partners_narrowed
from queries.throughput import installation_breakdown, milestones, next_milestone, throughput

filters = ui.page_filters()
config = da.settings()
st.title(_("Installation throughput"))
lang = language.current()
grain = ui.grain_switch()
series = da.load(throughput, filters, grain)
if series.is_empty():
    st.info(_("No installations for these filters — widen the date range or clear filters."))
    st.stop()
total, failed = int(series["installations"].sum()), int(series["failed"].sum())
cards = st.columns(3)
cards[0].metric(_("Installations"), ui.number(total), border=True)
cards[1].metric(_("Failed attempts"), ui.number(failed), border=True)
cards[2].metric(_("Failure rate"), ui.percent(failed / (total + failed), decimals=2), border=True)
if series["partial"].any():
    st.caption(_(ui.PARTIAL_NOTE))
st.plotly_chart(charts.installations_over_time(series, grain, lang))
st.plotly_chart(charts.failure_rate(series, grain, lang))
ui.table(series, "throughput", empty=_("No installations for these filters."))

st.subheader(_("By product and site"))
left, right = st.columns(2)
by_product = da.load(installation_breakdown, filters, "product")
by_site = da.load(installation_breakdown, filters, "site")
left.plotly_chart(charts.breakdown_bar(by_product, "product", ui.product_colours(), lang=lang))
right.plotly_chart(charts.breakdown_bar(by_site, "site", lang=lang))
with left:
    ui.table(by_product, "throughput-by-product", empty=_("No installations."))
with right:
    ui.table(by_site, "throughput-by-site", empty=_("No installations."))

st.subheader(_("Milestones"))
reached = da.load(milestones, filters, config.milestones)
projection = da.load(next_milestone, filters, config.milestones)
narrowed = partners_narrowed(filters)
st.plotly_chart(charts.cumulative_with_milestones(series, reached, projection, narrowed, lang))
caption = ui.milestone_caption(projection.row(0, named=True), narrowed, lang)
if caption:
    st.caption(caption)
ui.table(reached, "milestones", empty=_("No milestones are configured."))
