"""Compliance: which keys are stuck, denied or bound twice, which TPRs break their caps,
which unused keys lose their return credit, and so which partners need a call today."""

from __future__ import annotations

import streamlit as st

from dashboard import compliance_sections as sections
from dashboard import ui
from dashboard.language import _

filters = ui.page_filters()
st.title(_("Licence compliance"))
st.caption(
    _(
        "Positions at {as_of}; flows from {start} to {end}. Select a row to open its partner."
    ).format(
        as_of=ui.date(filters.as_of),
        start=ui.date(filters.date_from),
        end=ui.date(filters.range_end),
    )
)

st.subheader(_("Partners to call"))
sections.risk(filters)
st.subheader(_("Key pipeline"))
sections.pipeline(filters)
st.subheader(_("Stuck keys"))
sections.stuck(filters)
st.subheader(_("Activation denials"))
sections.denials(filters)
st.subheader(_("Duplicate devices and reused keys"))
sections.misuse(filters, evidence=False)
st.subheader(_("Citizenship caps"))
sections.caps(filters)
st.subheader(_("Return window"))
sections.returns(filters)
st.subheader(_("COA licences after the RRP sunset"))
sections.coa(filters)
