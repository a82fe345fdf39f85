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

STAGES = {
    "registered": "Registered RRP",
    "contacted": "Contacted",
    "applied": "Applied",
    "contract_signed": "Contract signed",
    "first_order": "First order",
}
REPORT_STATUSES = {
    "missing": "Missing",
    "late": "Late",
    "on_time": "On time",
    "open": "Not due yet",
}
SEGMENTS = {
    "education": "Education",
    "authority": "Public authority",
    "nonprofit": "Non-profit",
}
PARTNER_KINDS = {"tpr": "TPR", "own_site": "Own site"}
FAMILIES = {"windows": "Windows", "office": "Office"}
ROLES = {
    "management": "Management",
    "account_manager": "Account manager",
    "admin": "Administrator",
}

#: Licence compliance (DESIGN §4b): key stages, cap and return-window statuses, risk flags.
KEY_STAGES = {
    "mar_stock": "MAR stock",
    "allocated": "Allocated",
    "consumed": "Consumed",
    "bound": "Bound",
    "reported": "Reported",
    "activated": "Activated",
    "denied": "Denied",
    "returned": "Returned",
}
COMPLIANCE_STATUSES = {
    "over_cap": "Over cap",
    "office_above_windows": "More Office than Windows",
    "near_cap": "Near cap",
    "ok": "OK",
    "closing": "Closing",
    "expired": "Expired",
}
RISK_FLAGS = {
    "denials": "Denials",
    "duplicate_device": "Duplicate device",
    "key_reused": "Key reused",
    "over_cap": "Over cap",
    "stuck_keys": "Stuck keys",
    "behind_on_reporting": "Behind on reporting",
    "report_discrepancy": "Report discrepancy",
    "coa_after_sunset": "COA after sunset",
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
}

#: Column headers (and chart series) where "Snake case" of the name would read wrongly.
COLUMNS = {
    "mar_stock": "MAR stock",
    "partner_stock": "Partner stock",
    "consumed_28d": "Consumed (28 days)",
    "consumption_per_day": "Consumed per day",
    "partners_consumption_per_day": "Partners consumed per day",
    "low_cover": "Low cover",
    "partner_id": "Partner #",
    "product_code": "Product",
    "product_name": "Product name",
    "oldest_due": "Oldest due",
    "reached_on": "Reached on",
    "previous_installations": "Previous period",
    "change": "Change vs previous",
    "contracts_signed": "Contracts signed",
    "lost": "Lost",
    "on_time": "On time",
    "late": "Late",
    "missing": "Missing",
    "days_at_stage": "Days at stage",
    "waiting": "Waiting",
    "partial": "Note",
    "stockout_date": "Stock-out date",
    "due_on": "Due on",
    "submitted_on": "Submitted on",
    "row_count": "Rows",
}
#: Chart series whose legend name differs from their column header.
SERIES = {"installations": "Successful"}
#: Partner-stock columns of a view narrowed to some partners: they are not the company's.
IN_VIEW_COLUMNS = {
    "partner_stock": "Partner stock (partners in view)",
    "partners_consumption_per_day": "Consumed per day (partners in view)",
}
#: How a yes/no column reads in a table: the text for yes, and for no.
FLAGS = {"partial": ("partial", ""), "low_cover": ("low", "")}

FILTER_NAMES = {
    "am": "account manager",
    "partner": "partner",
    "region": "region",
    "country": "country",
    "product": "product",
    "segment": "segment",
    "as_of": "as of",
}


def column(name: str) -> str:
    """The header of a column or the name of a chart series."""
    return COLUMNS.get(name) or name.replace("_", " ").capitalize()


def series(name: str) -> str:
    """The legend name of a chart series: a frame column's label, other names as they are
    (a partner or product is named by the data)."""
    if name in SERIES:
        return SERIES[name]
    return column(name) if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+|[a-z]+", name) else name


def value(column_name: str, code: str) -> str:
    """The label of one enumeration value, or the value itself when it is not a code."""
    return VALUES.get(column_name, {}).get(code, code)


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a table shows it: enumeration codes replaced by their labels, yes/no
    columns written as words (a checkbox looks clickable, and these cannot be changed) and
    an audit entry's filters as a sentence instead of JSON."""
    codes = [pl.col(c).replace(VALUES[c]) for c in frame.columns if c in VALUES]
    flags = [
        pl.when(pl.col(name))
        .then(pl.lit(FLAGS.get(name, ("yes", "no"))[0]))
        .otherwise(pl.lit(FLAGS.get(name, ("yes", "no"))[1]))
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
    return joined.str.split(";").list.eval(pl.element().replace(RISK_FLAGS)).list.join(", ")


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
        parts.append(f"{_joined(params.get('from'))} to {_joined(params.get('to'))}")
    for name, values in params.items():
        if name in ("from", "to") or not values:
            continue
        shown = [value(name, v) for v in (values if isinstance(values, list) else [values])]
        parts.append(f"{FILTER_NAMES.get(name, name)} {', '.join(map(str, shown))}")
    return " · ".join(parts) or "no filters"


def _joined(values: object) -> str:
    if isinstance(values, list):
        return ", ".join(map(str, values)) or "…"
    return str(values or "…")
