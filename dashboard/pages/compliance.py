"""Compliance: which keys are stuck, denied or bound twice, which TPRs break their caps,
which unused keys lose their return credit, and so which partners need a call today."""

from __future__ import annotations

import streamlit as st

from dashboard import compliance_sections as sections
from dashboard import ui

filters = ui.page_filters()
st.title("Licence compliance")
st.caption(
    f"Positions at {filters.as_of}; flows from {filters.date_from} to {filters.range_end}. "
    "Select a row to open its partner."
)

st.subheader("Partners to call")
sections.risk(filters)
st.subheader("Key pipeline")
sections.pipeline(filters)
st.subheader("Stuck keys")
sections.stuck(filters)
st.subheader("Activation denials")
sections.denials(filters)
st.subheader("Duplicate devices and reused keys")
sections.misuse(filters, evidence=False)
st.subheader("Citizenship caps")
sections.caps(filters)
st.subheader("Return window")
sections.returns(filters)
st.subheader("COA licences after the RRP sunset")
sections.coa(filters)
