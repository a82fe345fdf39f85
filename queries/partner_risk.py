"""Partner risk: which partners need a call today, and why (DESIGN §4b).

No hidden score: each flag is another §4b metric (or the reporting rules of §4) read for the
same view, so the page can show the rows that raised it.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
import sqlalchemy as sa

from data.schema import partners
from data.settings import DEFAULT_REPORT_DUE_DAY, ComplianceRules
from queries.activations import partner_denial_rates
from queries.citizenship import BREACHES, citizenship_caps
from queries.coa import coa_after_sunset
from queries.filters import Filters
from queries.key_pipeline import stuck_keys
from queries.misuse import duplicate_device_keys, reused_keys
from queries.reporting import report_status, reporting_backlog
from queries.run import fetch
from queries.scope import partner_conditions

#: The flags in the order of DESIGN §4b: the order of `reasons`.
RISK_FLAGS = (
    "denials",
    "duplicate_device",
    "key_reused",
    "over_cap",
    "stuck_keys",
    "behind_on_reporting",
    "report_discrepancy",
    "coa_after_sunset",
)
#: A submitted report is off when |reported - actual| exceeds both of these.
DISCREPANCY_MIN_UNITS = 5
DISCREPANCY_MIN_PERCENT = 10


def significant_discrepancy(reports: pl.DataFrame) -> pl.DataFrame:
    """The submitted reports of a `report_status` frame whose discrepancy is more than
    max(5, 10 % of the actual installations) either way."""
    off = pl.col("discrepancy").abs()
    return reports.filter(
        pl.col("discrepancy").is_not_null(),
        off > DISCREPANCY_MIN_UNITS,
        off * 100 > pl.col("actual_installations") * DISCREPANCY_MIN_PERCENT,
    )


def flagged_partners(
    connection: sa.Connection, filters: Filters, rules: ComplianceRules, due_day: int
) -> dict[str, set[int]]:
    """For each flag, the partners in view it applies to; `due_day` is the reporting pages'
    (`MAR_REPORT_DUE_DAY`), so a partner is behind here exactly when it is there."""
    rates = partner_denial_rates(connection, filters)
    caps = citizenship_caps(connection, filters, rules)
    found: dict[str, Iterable[int | None]] = {
        "denials": rates.filter(pl.col("denied") > 0, pl.col("denial_rate") >= rules.denial_rate)[
            "partner_id"
        ],
        "duplicate_device": duplicate_device_keys(connection, filters)["partner_id"],
        "key_reused": reused_keys(connection, filters)["partner_id"],
        "over_cap": caps.filter(pl.col("status").is_in(BREACHES))["partner_id"],
        "stuck_keys": stuck_keys(connection, filters, rules)["partner_id"],
        "behind_on_reporting": reporting_backlog(connection, filters, due_day)["partner_id"],
        "report_discrepancy": significant_discrepancy(report_status(connection, filters, due_day))[
            "partner_id"
        ],
        "coa_after_sunset": coa_after_sunset(connection, filters, rules)["partner_id"],
    }
    return {flag: {p for p in found[flag] if p is not None} for flag in RISK_FLAGS}


def partner_risk(
    connection: sa.Connection,
    filters: Filters,
    rules: ComplianceRules | None = None,
    due_day: int = DEFAULT_REPORT_DUE_DAY,
) -> pl.DataFrame:
    """One row per partner in view with at least one flag, most flags first, then partner id.

    Flags, in this order: `denials` (denial rate in the range ≥ `denial_rate` [0.05] with at
    least one denial), `duplicate_device` (one of its keys shares a device at the as-of
    date), `key_reused` (one of its keys has two or more successful installations by then),
    `over_cap` (a month over its citizenship cap or with more Office than Windows units in
    the range), `stuck_keys` (a stuck key at the as-of date), `behind_on_reporting` (in the
    reporting backlog, a month without a report row due on day `due_day` of the next),
    `report_discrepancy` (a submitted report of a period in the range off by more than
    max(5, 10 % of actual)), `coa_after_sunset` (any in the range).  `flags` counts them,
    `reasons` names them joined by `;`, and one true/false column per flag says which.
    """
    flagged = flagged_partners(connection, filters, rules or ComplianceRules(), due_day)
    names = fetch(
        connection,
        sa.select(partners.c.id, partners.c.name).where(*partner_conditions(filters)),
        {"partner_id": pl.Int64, "partner_name": pl.String},
    )
    frame = names.with_columns(
        pl.col("partner_id").is_in(list(flagged[flag])).alias(flag) for flag in RISK_FLAGS
    )
    reasons = pl.concat_str(
        [pl.when(pl.col(flag)).then(pl.lit(flag)) for flag in RISK_FLAGS],
        separator=";",
        ignore_nulls=True,
    )
    return (
        frame.with_columns(
            flags=pl.sum_horizontal(pl.col(flag).cast(pl.Int64) for flag in RISK_FLAGS),
            reasons=reasons,
        )
        .filter(pl.col("flags") > 0)
        .sort(["flags", "partner_id"], descending=[True, False])
        .select("partner_id", "partner_name", "flags", "reasons", *RISK_FLAGS)
    )
