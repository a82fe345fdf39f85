"""Partner detail: everything an account manager needs about one partner before a call."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, ui
from dashboard import data_access as da
from queries.partners import partner_options, partner_profile
from queries.reporting import report_status
from queries.stock import allocation_vs_consumption
from queries.throughput import throughput

filters = ui.page_filters()
st.title("Partner detail")
if len(filters.partner_ids) != 1:
    options = da.load(partner_options, filters.replace(partner_ids=()))
    names = dict(zip(options["partner_id"], options["partner_name"], strict=True))
    choice = st.selectbox(
        "Partner",
        list(names),
        index=None,
        format_func=lambda i: names[i],
        placeholder="Choose a partner",
    )
    if choice is None:
        st.info("Choose one partner above, or select a row on the Partners page.")
        st.stop()
    ui.open_partner(int(choice))

partner_id = filters.partner_ids[0]
profile = da.load(partner_profile, filters, partner_id).row(0, named=True)
st.header(f"{profile['partner_name']} · #{partner_id}")
st.caption(
    f"{profile['country']} · {profile['region'] or 'no region'} · size {profile['size_class']} "
    f"· account manager: {profile['account_manager'] or 'none'}"
)

keys = da.load(allocation_vs_consumption, filters)
installs = da.load(throughput, filters, "week")
reports = da.load(report_status, filters)
key_row = keys.row(0, named=True) if not keys.is_empty() else {}
cards = st.columns(5)
figures = (
    ("Installations", int(installs["installations"].sum())),
    ("Keys allocated", key_row.get("keys_allocated", 0)),
    ("Keys consumed", key_row.get("keys_consumed", 0)),
    ("Keys in stock", key_row.get("keys_in_stock", 0)),
    ("Missing reports", reports.filter(pl.col("status") == "missing").height),
)
for column, (label, value) in zip(cards, figures, strict=True):
    column.metric(label, ui.number(value), border=True)

st.subheader("Conversion history")
stages = (
    "rrp_registered_at",
    "contacted_at",
    "applied_at",
    "contract_signed_at",
    "first_order_at",
    "lost_at",
)
history = pl.DataFrame(
    {
        "stage": [s.removesuffix("_at").replace("_", " ") for s in stages],
        "reached_on": [profile[s].date() if profile[s] else None for s in stages],
    },
    schema={"stage": pl.String, "reached_on": pl.Date},
).filter(pl.col("reached_on").is_not_null())
if history.is_empty():
    st.info("This partner was never a Registered Refurbisher; it has no conversion history.")
else:
    st.dataframe(history, hide_index=True)
    if profile["lost_reason"]:
        st.warning(f"Lost: {profile['lost_reason']}")

st.subheader("Installations per week")
if installs.is_empty():
    st.info("No installations in this date range — widen it in the sidebar.")
else:
    st.plotly_chart(charts.installations_over_time(installs, "week"))

st.subheader("Licence reports")
ui.table(
    reports, f"partner-{partner_id}-reports", empty="No licence reports fall in this date range."
)

st.subheader("All figures")
summary = pl.DataFrame(
    [
        {
            "partner_id": partner_id,
            "partner_name": profile["partner_name"],
            **{label.lower().replace(" ", "_"): value for label, value in figures},
        }
    ]
)
ui.download(summary, f"partner-{partner_id}-summary")
