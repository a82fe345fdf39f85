"""The alert rules: which conditions hold at the as-of date, each named so that the same
condition has the same name on every run.

A rule only reports what holds now; remembering what was already sent (an alert goes out when
it starts and once when it clears) is `notify/alerts.py`'s job, with the `alert_state` table.
The rules are a registry (`RULES`): a new alert, such as a new activation denial, is one more
entry.  Rules see every partner: an alert goes to the account manager of the partner it is
about, or to management when it concerns the company (stock) or a partner without a manager.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa

from data.errors import Message
from data.settings import DEFAULT_REPORT_DUE_DAY, ComplianceRules
from i18n.catalogs import N_
from queries.activations import activation_denials
from queries.citizenship import BREACHES, citizenship_caps
from queries.conversions import stuck_conversions
from queries.filters import Filters
from queries.misuse import duplicate_device_keys
from queries.reporting import reporting_backlog
from queries.stock import DEFAULT_COVER_WARNING_DAYS, stock_on_hand

#: A citizenship breach as the over-cap alert says it, mid-sentence.
BREACH_WORDS = {
    "over_cap": N_("over cap"),
    "office_above_windows": N_("more Office than Windows"),
}
#: A denial is news for four weeks: its alert starts with the first denial of a partner and
#: code and clears when four weeks pass without another.
RECENT_DAYS = 28


@dataclasses.dataclass(frozen=True)
class AlertThresholds:
    """The settings the rules compare against."""

    cover_warning_days: int = DEFAULT_COVER_WARNING_DAYS
    stuck_conversion_days: int = 30
    report_due_day: int = DEFAULT_REPORT_DUE_DAY
    rules: ComplianceRules = dataclasses.field(default_factory=ComplianceRules)


@dataclasses.dataclass(frozen=True)
class Condition:
    """One alert condition that holds at the as-of date.

    `subject` identifies what it is about within its rule and stays the same from run to run
    while the condition holds (ids and codes, never names or figures); `partner_id` decides who
    hears of it (None: management); `page` and `params` make the dashboard link.
    """

    rule: str
    subject: str
    partner_id: int | None
    #: What holds, told in each recipient's language (`notify/alerts.py` formats the values).
    message: Message
    page: str
    params: dict[str, list[str]]


@dataclasses.dataclass(frozen=True)
class Code:
    """A stored code in an alert (a stage, a status), named in the reader's language as the
    dashboard names it; in English logs, the code itself."""

    column: str
    code: str

    def __str__(self) -> str:
        return self.code


@dataclasses.dataclass(frozen=True)
class Month:
    """A month in an alert, written as the reader's language writes months."""

    first_day: dt.date

    def __str__(self) -> str:
        return f"{self.first_day:%Y-%m}"


ConditionFinder = Callable[[sa.Connection, Filters, AlertThresholds], list[Condition]]


@dataclasses.dataclass(frozen=True)
class AlertRule:
    name: str
    description: str
    conditions: ConditionFinder


def low_stock_cover(
    connection: sa.Connection, filters: Filters, thresholds: AlertThresholds
) -> list[Condition]:
    """One condition per product whose days of cover are below the warning (company stock)."""
    stock = stock_on_hand(connection, filters, thresholds.cover_warning_days)
    return [
        Condition(
            rule="low_stock_cover",
            subject=f"product:{row['product_code']}",
            partner_id=None,
            message=Message(
                N_(
                    "{product} ({code}) has {days} days of cover ({keys} keys); stock runs out "
                    "around {day}."
                ),
                product=row["product_name"],
                code=row["product_code"],
                days=row["days_of_cover"],
                keys=row["stock_on_hand"],
                day=row["stockout_date"],
            ),
            page="stock",
            params={"product": [row["product_code"]]},
        )
        for row in stock.filter("low_cover").iter_rows(named=True)
    ]


def behind_on_reporting(
    connection: sa.Connection, filters: Filters, thresholds: AlertThresholds
) -> list[Condition]:
    """One condition per partner in the reporting backlog."""
    return [
        Condition(
            rule="behind_on_reporting",
            subject=f"partner:{row['partner_id']}",
            partner_id=row["partner_id"],
            message=Message(
                N_(
                    "{partner} (#{id}) is behind on reporting: {missing} missing report(s), the "
                    "oldest due {day} ({days} days overdue)."
                ),
                partner=row["partner_name"],
                id=str(row["partner_id"]),
                missing=row["missing_reports"],
                day=row["oldest_due"],
                days=row["days_overdue"],
            ),
            page="partner_detail",
            params={"partner": [str(row["partner_id"])]},
        )
        for row in reporting_backlog(connection, filters, thresholds.report_due_day).iter_rows(
            named=True
        )
    ]


def stuck_conversion(
    connection: sa.Connection, filters: Filters, thresholds: AlertThresholds
) -> list[Condition]:
    """One condition per former RRP waiting longer than the threshold at its stage; the stage
    is part of the subject, so moving on and getting stuck again is a new alert."""
    stuck = stuck_conversions(connection, filters, thresholds.stuck_conversion_days)
    return [
        Condition(
            rule="stuck_conversion",
            subject=f"partner:{row['partner_id']}:{row['stage']}",
            partner_id=row["partner_id"],
            message=Message(
                N_(
                    "{partner} (#{id}) has waited {days} days at the stage '{stage}' (since {day})."
                ),
                partner=row["partner_name"],
                id=str(row["partner_id"]),
                days=row["days_at_stage"],
                stage=Code("stage", row["stage"]),
                day=row["since"],
            ),
            page="conversions",
            params={"partner": [str(row["partner_id"])]},
        )
        for row in stuck.iter_rows(named=True)
    ]


def _on_compliance_page(window: Filters, partner_id: int) -> dict[str, list[str]]:
    """The Compliance page's filters for a condition: the partner and the rule's own window,
    as-of date included, so the link shows the rows that raised the alert on the day it
    started."""
    return window.replace(partner_ids=(partner_id,)).to_params()


def new_denial(connection: sa.Connection, filters: Filters, _: AlertThresholds) -> list[Condition]:
    """One condition per partner and activation code with keys denied in the last
    `RECENT_DAYS` days."""
    recent = filters.replace(date_from=filters.as_of - dt.timedelta(days=RECENT_DAYS - 1))
    return [
        Condition(
            rule="new_denial",
            subject=f"partner:{row['partner_id']}:code:{row['code']}",
            partner_id=row["partner_id"],
            message=Message(
                N_(
                    "{partner} (#{id}): {keys} key(s) denied with code {code} ({meaning}) in the "
                    "last {days} days."
                ),
                partner=row["partner_name"],
                id=str(row["partner_id"]),
                keys=row["keys"],
                code=row["code"] or Message(N_("(none)")),
                meaning=Code("meaning", row["meaning"]),
                days=RECENT_DAYS,
            ),
            page="compliance",
            params=_on_compliance_page(recent, row["partner_id"]),
        )
        for row in activation_denials(connection, recent).iter_rows(named=True)
    ]


def duplicate_device(
    connection: sa.Connection, filters: Filters, _: AlertThresholds
) -> list[Condition]:
    """One condition per device bound to two or more keys and partner holding one of them:
    each partner's manager hears of their part, with how many keys share the device."""
    keys = duplicate_device_keys(connection, filters).with_columns(
        pl.len().over("device").alias("shared")
    )
    per_partner = keys.group_by(
        "device", "partner_id", "partner_name", "shared", maintain_order=True
    ).agg(pl.len().alias("own"), pl.col("bound_on").max().alias("last_bound"))
    return [
        Condition(
            rule="duplicate_device",
            subject=f"device:{row['device']}:partner:{row['partner_id']}",
            partner_id=row["partner_id"],
            message=Message(
                N_(
                    "{partner} (#{id}): the PC {device} is bound to {shared} keys, {own} of them "
                    "this partner's (last bound {day})."
                ),
                partner=row["partner_name"],
                id=str(row["partner_id"]),
                device=row["device"],
                shared=row["shared"],
                own=row["own"],
                day=row["last_bound"],
            ),
            page="compliance",
            params=_on_compliance_page(filters, row["partner_id"]),
        )
        for row in per_partner.iter_rows(named=True)
    ]


def over_cap_month(
    connection: sa.Connection, filters: Filters, thresholds: AlertThresholds
) -> list[Condition]:
    """One condition per TPR and month (this one or the last) over its citizenship cap or
    with more Office than Windows units; whole months, so the counts are the cap's."""
    last_month = (filters.as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    months = filters.replace(date_from=last_month, date_to=filters.as_of)
    caps = citizenship_caps(connection, months, thresholds.rules)
    return [
        Condition(
            rule="over_cap_month",
            subject=f"partner:{row['partner_id']}:month:{row['month']}",
            partner_id=row["partner_id"],
            message=Message(
                N_(
                    "{partner} (#{id}) took {windows} Windows and {office} Office citizenship "
                    "units in {month} ({status}; cap {cap})."
                ),
                partner=row["partner_name"],
                id=str(row["partner_id"]),
                windows=row["windows_units"],
                office=row["office_units"],
                month=Month(row["month"]),
                status=Message(BREACH_WORDS[row["status"]]),
                cap=row["cap"],
            ),
            page="compliance",
            params=_on_compliance_page(months, row["partner_id"]),
        )
        for row in caps.filter(pl.col("status").is_in(BREACHES)).iter_rows(named=True)
    ]


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "low_stock_cover",
        "a product's days of cover fall below MAR_COVER_WARNING_DAYS",
        low_stock_cover,
    ),
    AlertRule("behind_on_reporting", "a partner has a missing licence report", behind_on_reporting),
    AlertRule(
        "stuck_conversion",
        "a former RRP waits longer than MAR_STUCK_CONVERSION_DAYS at its stage",
        stuck_conversion,
    ),
    AlertRule("new_denial", "Microsoft denied a key's activation in the last 28 days", new_denial),
    AlertRule("duplicate_device", "one PC is bound to two or more keys", duplicate_device),
    AlertRule(
        "over_cap_month",
        "a TPR took more citizenship units this month or last than its cap allows",
        over_cap_month,
    ),
)


def current_conditions(
    connection: sa.Connection, filters: Filters, thresholds: AlertThresholds
) -> list[Condition]:
    """Every condition of every rule that holds at the as-of date, rule by rule."""
    return [
        condition
        for rule in RULES
        for condition in rule.conditions(connection, filters, thresholds)
    ]
