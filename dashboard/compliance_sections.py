"""The licence-compliance sections (DESIGN §4b) the Compliance page and the partner detail
page share: each reads its metrics for the filters given and draws a chart and a table with
its download, so a section looks and downloads the same on both pages."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, labels, language, ui
from dashboard import data_access as da
from dashboard.language import _
from data.settings import ComplianceRules
from queries.activations import activation_denials, denial_rate, denials_over_time
from queries.citizenship import citizenship_caps
from queries.coa import coa_after_sunset
from queries.filters import Filters
from queries.key_pipeline import key_pipeline, stuck_keys
from queries.misuse import duplicate_device_keys, duplicate_devices, reused_keys
from queries.partner_risk import partner_risk
from queries.returns import return_window, returns_in_range


def rules() -> ComplianceRules:
    return da.settings().compliance_rules()


def _partner_risk(filters: Filters) -> pl.DataFrame:
    """The flags with the configured rules and report due day, as the Reporting page uses."""
    return da.load(partner_risk, filters, rules(), da.settings().report_due_day)


def risk(filters: Filters) -> pl.DataFrame:
    """Partners with flags, most first; selecting a row opens the partner."""
    flagged = _partner_risk(filters)
    ui.partner_table(
        flagged,
        "partner-risk",
        empty=_("No partner in view raises a compliance flag."),
    )
    return flagged


def pipeline(filters: Filters) -> None:
    stages = da.load(key_pipeline, filters)
    left, right = st.columns(2)
    left.plotly_chart(charts.key_pipeline(stages, language.current()))
    with right:
        ui.table(stages, "key-pipeline", empty="")


def stuck(filters: Filters) -> None:
    limits = rules()
    st.caption(
        _(
            "Consumed for more than {consumed} days, bound for more than {bound}, reported "
            "without Microsoft's answer for more than {reported}."
        ).format(
            consumed=limits.stuck_consumed_days,
            bound=limits.stuck_bound_days,
            reported=limits.stuck_reported_days,
        )
    )
    waiting = da.load(stuck_keys, filters, limits)
    if not waiting.is_empty():
        st.plotly_chart(charts.stuck_keys(waiting, language.current()))
    ui.partner_table(waiting, "stuck-keys", empty=_("No key is stuck at the as-of date."))


def denials(filters: Filters) -> None:
    rate = da.load(denial_rate, filters).row(0, named=True)
    cards = st.columns(3)
    cards[0].metric(_("Answered"), ui.number(rate["acknowledged"]), border=True)
    cards[1].metric(_("Denied"), ui.number(rate["denied"]), border=True)
    cards[2].metric(_("Denial rate"), ui.percent(rate["denial_rate"], decimals=1), border=True)
    trend = da.load(denials_over_time, filters)
    if not trend.is_empty():
        st.plotly_chart(charts.denials_over_time(trend, language.current()))
    ui.partner_table(
        da.load(activation_denials, filters),
        "activation-denials",
        empty=_("Microsoft denied no activation in this date range."),
    )


def misuse(filters: Filters, *, evidence: bool) -> None:
    """Shared devices (and, with `evidence`, the keys in view bound to them) and reused keys."""
    ui.table(
        da.load(duplicate_devices, filters),
        "duplicate-devices",
        empty=_("No device is bound to two keys."),
    )
    if evidence:
        ui.table(da.load(duplicate_device_keys, filters), "duplicate-device-keys", empty="")
    ui.table(
        da.load(reused_keys, filters),
        "reused-keys",
        empty=_("No key was installed successfully more than once."),
    )


def caps(filters: Filters) -> None:
    months = da.load(citizenship_caps, filters, rules())
    if not months.is_empty():
        st.plotly_chart(charts.citizenship_caps(months, language.current()))
    ui.partner_table(
        months, "citizenship-caps", empty=_("No citizenship licences were allocated to a TPR.")
    )


def returns(filters: Filters) -> None:
    limits = rules()
    window = da.load(return_window, filters, limits)
    back = da.load(returns_in_range, filters)
    cards = st.columns(3)
    for column, status, title in zip(
        cards, ("closing", "expired"), (_("Value closing"), _("Value expired")), strict=False
    ):
        value = window.filter(pl.col("status") == status)["value"].sum()
        column.metric(title, ui.number(float(value), decimals=2), border=True)
    lost = back["value_without_credit"].sum()
    cards[2].metric(_("Returned without credit"), ui.number(float(lost), decimals=2), border=True)
    st.caption(
        _(
            "Unused keys {closing} to {credit} days old are closing; older ones have lost their "
            "return credit."
        ).format(closing=limits.return_closing_days, credit=limits.return_credit_days)
    )
    if not window.is_empty():
        st.plotly_chart(charts.return_window(window, language.current()))
    ui.partner_table(window, "return-window", empty=_("No unused key is near its return deadline."))
    ui.table(back, "returns-in-range", empty=_("No key was returned in this date range."))


def coa(filters: Filters) -> None:
    ui.partner_table(
        da.load(coa_after_sunset, filters, rules()),
        "coa-after-sunset",
        empty=_("No COA licence was installed after the RRP sunset in this date range."),
    )


def partner(filters: Filters) -> None:
    """One partner's flags and the rows that raised them (the filters name the partner)."""
    flagged = _partner_risk(filters)
    if flagged.is_empty():
        st.success(_("No compliance flag for this partner in this date range."))
        return
    row = flagged.row(0, named=True)
    flags = ", ".join(_(labels.RISK_FLAGS[flag]) for flag in row["reasons"].split(";"))
    st.warning(_("Flags: {flags}.").format(flags=flags))
    ui.table(flagged, "partner-risk", empty="")
    if row["stuck_keys"]:
        stuck(filters)
    if row["denials"]:
        denials(filters)
    if row["duplicate_device"] or row["key_reused"]:
        misuse(filters, evidence=True)
    if row["over_cap"]:
        caps(filters)
    if row["coa_after_sunset"]:
        coa(filters)
    if row["behind_on_reporting"] or row["report_discrepancy"]:
        st.caption(_("The licence reports below show the reporting flags' rows."))
