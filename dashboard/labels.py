"""Every word the screen shows for a name or code the data holds, in one place.

The query layer and the exports speak in codes (`contract_signed`, `on_time`, `education`);
people read labels.  Tables, cards and charts take their column headers, legend names and
enumeration values from here, so a stage reads "Contract signed" in the funnel, the tabs and
the partner's history alike.  Exports keep the raw codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import polars as pl

from dashboard import language
from i18n import Language
from i18n.catalogs import N_, translations
from queries.key_stages import ACTIVATION_CODES, UNKNOWN_CODE

STAGES = {
    "registered": N_("Registered RRP"),
    "contacted": N_("Contacted"),
    "applied": N_("Applied"),
    "contract_signed": N_("Contract signed"),
    "first_order": N_("First order"),
}
REPORT_STATUSES = {
    "missing": N_("Missing"),
    "late": N_("Late"),
    "on_time": N_("On time"),
    "open": N_("Not due yet"),
}
SEGMENTS = {
    "education": N_("Education"),
    "authority": N_("Public authority"),
    "nonprofit": N_("Non-profit"),
}
PARTNER_KINDS = {"tpr": N_("TPR"), "own_site": N_("Own site")}
#: The periods of a grain, as the grain switch and the chart axes name them.
GRAINS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month")}
FAMILIES = {"windows": N_("Windows"), "office": N_("Office")}
ROLES = {
    "management": N_("Management"),
    "account_manager": N_("Account manager"),
    "admin": N_("Administrator"),
}

#: Licence compliance (DESIGN §4b): key stages, cap and return-window statuses, risk flags.
KEY_STAGES = {
    "mar_stock": N_("MAR stock"),
    "allocated": N_("Allocated"),
    "consumed": N_("Consumed"),
    "bound": N_("Bound"),
    "reported": N_("Reported"),
    "activated": N_("Activated"),
    "denied": N_("Denied"),
    "returned": N_("Returned"),
}
COMPLIANCE_STATUSES = {
    "over_cap": N_("Over cap"),
    "office_above_windows": N_("More Office than Windows"),
    "near_cap": N_("Near cap"),
    "ok": N_("OK"),
    "closing": N_("Closing"),
    "expired": N_("Expired"),
}
RISK_FLAGS = {
    "denials": N_("Denials"),
    "duplicate_device": N_("Duplicate device"),
    "key_reused": N_("Key reused"),
    "over_cap": N_("Over cap"),
    "stuck_keys": N_("Stuck keys"),
    "behind_on_reporting": N_("Behind on reporting"),
    "report_discrepancy": N_("Report discrepancy"),
    "coa_after_sunset": N_("COA after sunset"),
}

#: The enumeration each column holds, by column name.
VALUES: dict[str, Mapping[str, str]] = {
    "stage": {**STAGES, **KEY_STAGES},
    "last_stage": STAGES,
    "status": {**REPORT_STATUSES, **COMPLIANCE_STATUSES},
    "segment": SEGMENTS,
    "kind": PARTNER_KINDS,
    "family": FAMILIES,
    "role": ROLES,
    "grain": GRAINS,
    # Microsoft's answers are stored with their English meaning; they read translated.
    "meaning": {meaning: meaning for meaning in (*ACTIVATION_CODES.values(), UNKNOWN_CODE)},
}

#: Column headers (and chart series) where "Snake case" of the name would read wrongly.
COLUMNS = {
    "mar_stock": N_("MAR stock"),
    "partner_stock": N_("Partner stock"),
    "consumed_28d": N_("Consumed (28 days)"),
    "consumption_per_day": N_("Consumed per day"),
    "partners_consumption_per_day": N_("Partners consumed per day"),
    "low_cover": N_("Low cover"),
    "partner_id": N_("Partner #"),
    "product_code": N_("Product"),
    "product_name": N_("Product name"),
    "oldest_due": N_("Oldest due"),
    "reached_on": N_("Reached on"),
    "previous_installations": N_("Previous period"),
    "change": N_("Change vs previous"),
    "contracts_signed": N_("Contracts signed"),
    "lost": N_("Lost"),
    "on_time": N_("On time"),
    "late": N_("Late"),
    "missing": N_("Missing"),
    "days_at_stage": N_("Days at stage"),
    "waiting": N_("Waiting"),
    "partial": N_("Note"),
    "stockout_date": N_("Stock-out date"),
    "due_on": N_("Due on"),
    "submitted_on": N_("Submitted on"),
    "row_count": N_("Rows"),
    "actual_installations": N_("Actual installations"),
    "at": N_("At"),
    "attempts": N_("Attempts"),
    "country": N_("Country"),
    "cumulative": N_("Cumulative"),
    "days_of_cover": N_("Days of cover"),
    "days_overdue": N_("Days overdue"),
    "discrepancy": N_("Discrepancy"),
    "failed": N_("Failed"),
    "failure_rate": N_("Failure rate"),
    "filters": N_("Filters"),
    "installations": N_("Installations"),
    "keys_allocated": N_("Keys allocated"),
    "keys_consumed": N_("Keys consumed"),
    "keys_in_stock": N_("Keys in stock"),
    "keys_returned": N_("Keys returned"),
    "last_stage": N_("Last stage"),
    "late_reports": N_("Late reports"),
    "lost_on": N_("Lost on"),
    "milestone": N_("Milestone"),
    "missing_reports": N_("Missing reports"),
    "partner_name": N_("Partner"),
    "partners": N_("Partners"),
    "period": N_("Period"),
    "product": N_("Product"),
    "reason": N_("Reason"),
    "region": N_("Region"),
    "report": N_("Report"),
    "reported_installations": N_("Reported installations"),
    "share": N_("Share"),
    "share_of_registered": N_("Share of registered"),
    "since": N_("Since"),
    "site": N_("Site"),
    "stage": N_("Stage"),
    "status": N_("Status"),
    "stock_on_hand": N_("Stock on hand"),
    "unreported_installations": N_("Unreported installations"),
    "who": N_("Who"),
    "other_partners": N_("Other partners"),
    "cap": N_("Cap"),
    "code": N_("Code"),
    "coa_after_sunset": N_("COA after sunset"),
    "device": N_("Device"),
    "dwell_keys": N_("Keys moved on"),
    "dwell_median_days": N_("Median days in stage"),
    "first_bound": N_("First bound"),
    "first_installed": N_("First installed"),
    "flags": N_("Flags"),
    "installing_partners": N_("Installing partners"),
    "key_id": N_("Key #"),
    "last_bound": N_("Last bound"),
    "last_installed": N_("Last installed"),
    "max_age_days": N_("Largest age (days)"),
    "meaning": N_("Meaning"),
    "min_days_left": N_("Fewest days left"),
    "office_units": N_("Office units"),
    "oldest_fulfilled": N_("Oldest fulfilled"),
    "oldest_since": N_("Oldest since"),
    "product_key_id": N_("Product key ID"),
    "reasons": N_("Reasons"),
    "value": N_("Value"),
    "value_without_credit": N_("Value without credit"),
    "windows_units": N_("Windows units"),
    "with_credit": N_("With credit"),
    "without_credit": N_("Without credit"),
}
#: Chart series whose legend name differs from their column header.
SERIES = {"installations": N_("Successful")}
#: Partner-stock columns of a view narrowed to some partners: they are not the company's.
IN_VIEW_COLUMNS = {
    "partner_stock": N_("Partner stock (partners in view)"),
    "partners_consumption_per_day": N_("Consumed per day (partners in view)"),
}
YES_NO = (N_("yes"), N_("no"))
#: How a yes/no column reads in a table: the text for yes, and for no.
FLAGS = {"partial": (N_("partial"), ""), "low_cover": (N_("low"), "")}

FILTER_NAMES = {
    "am": N_("account manager"),
    "partner": N_("partner"),
    "region": N_("region"),
    "country": N_("country"),
    "product": N_("product"),
    "segment": N_("segment"),
    "as_of": N_("as of"),
}


def _(message: str, lang: Language | None = None) -> str:
    """`message` in `lang`, or in the viewer's language when none is given (charts pass
    theirs, so that the mail can draw them without a Streamlit session)."""
    return translations(lang).gettext(message) if lang else language._(message)


def column(name: str, lang: Language | None = None) -> str:
    """The header of a column or the name of a chart series."""
    if name in COLUMNS:
        return _(COLUMNS[name], lang)
    return _(name.replace("_", " ").capitalize(), lang)


def series(name: str, lang: Language | None = None) -> str:
    """The legend name of a chart series: a frame column's label, other names as they are
    (a partner or product is named by the data)."""
    if name in SERIES:
        return _(SERIES[name], lang)
    if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+|[a-z]+", name):
        return column(name, lang)
    return name


def value(column_name: str, code: str, lang: Language | None = None) -> str:
    """The label of one enumeration value, or the value itself when it is not a code."""
    label = VALUES.get(column_name, {}).get(code)
    return code if label is None else _(label, lang)


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a table shows it: enumeration codes replaced by their labels, yes/no
    columns written as words (a checkbox looks clickable, and these cannot be changed) and
    an audit entry's filters as a sentence instead of JSON."""
    codes = [
        pl.col(c).replace({code: _(label) for code, label in VALUES[c].items()})
        for c in frame.columns
        if c in VALUES
    ]
    flags = [
        pl.when(pl.col(name))
        .then(pl.lit(_word(FLAGS.get(name, YES_NO)[0])))
        .otherwise(pl.lit(_word(FLAGS.get(name, YES_NO)[1])))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.Boolean
    ]
    described = []
    if frame.schema.get("reasons") == pl.String:
        described.append(reasons(pl.col("reasons")))
    if frame.schema.get("filters") == pl.String:
        described.append(pl.col("filters").map_elements(filters_text, return_dtype=pl.String))
    return frame.with_columns(*codes, *flags, *described)


def reasons(joined: pl.Expr) -> pl.Expr:
    """Partner-risk reasons (flag codes joined by `;`) as words joined by commas."""
    words = {flag: _(label) for flag, label in RISK_FLAGS.items()}
    return joined.str.split(";").list.eval(pl.element().replace(words)).list.join(", ")


def _word(message: str) -> str:
    """A message translated; an empty one stays empty (gettext("") is the catalog header)."""
    return _(message) if message else ""


def filters_text(stored: str | None) -> str:
    """An audit entry's filters (stored as JSON URL parameters) as a reader says them:
    "2025-12-03 to 2026-12-02 · partner 3, 7 · product O24HB"."""
    try:
        params = json.loads(stored or "{}")
    except ValueError:
        return stored or ""
    if not isinstance(params, dict):
        return str(stored)
    parts = []
    if params.get("from") or params.get("to"):
        parts.append(
            _("{start} to {end}").format(
                start=_joined(params.get("from")), end=_joined(params.get("to"))
            )
        )
    for name, values in params.items():
        if name in ("from", "to") or not values:
            continue
        shown = [value(name, v) for v in (values if isinstance(values, list) else [values])]
        named = _(FILTER_NAMES[name]) if name in FILTER_NAMES else name
        parts.append(f"{named} {', '.join(map(str, shown))}")
    return " · ".join(parts) or _("no filters")


def _joined(values: object) -> str:
    if isinstance(values, list):
        return ", ".join(map(str, values)) or "…"
    return str(values or "…")
