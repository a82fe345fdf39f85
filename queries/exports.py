"""The reports of DESIGN §6 and their CSV form, shared by the page downloads and
`mar-insight export` so both write the same bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa

from data.settings import DEFAULT_MILESTONES, DEFAULT_REPORT_DUE_DAY, ComplianceRules
from i18n import Language
from i18n.formats import decimal_sign
from queries.activations import activation_denials
from queries.citizenship import citizenship_caps
from queries.conversions import conversion_funnel
from queries.filters import Filters
from queries.key_pipeline import key_pipeline, stuck_keys
from queries.misuse import duplicate_devices
from queries.partner_risk import partner_risk
from queries.reporting import reporting_backlog
from queries.returns import return_window
from queries.sql import Grain
from queries.stock import DEFAULT_COVER_WARNING_DAYS, stock_on_hand
from queries.throughput import milestones, throughput
from queries.volumes import partner_volumes

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    """Settings some reports need beyond the filters."""

    grain: Grain = "day"
    milestones: tuple[int, ...] = DEFAULT_MILESTONES
    cover_warning_days: int = DEFAULT_COVER_WARNING_DAYS
    report_due_day: int = DEFAULT_REPORT_DUE_DAY
    rules: ComplianceRules = dataclasses.field(default_factory=ComplianceRules)


ReportBuilder = Callable[[sa.Connection, Filters, ReportOptions], pl.DataFrame]

REPORTS: dict[str, ReportBuilder] = {
    "partner-volumes": lambda c, f, o: partner_volumes(c, f),
    "conversion-funnel": lambda c, f, o: conversion_funnel(c, f),
    "stock": lambda c, f, o: stock_on_hand(c, f, o.cover_warning_days),
    "throughput": lambda c, f, o: throughput(c, f, o.grain),
    "milestones": lambda c, f, o: milestones(c, f, o.milestones),
    "reporting-backlog": lambda c, f, o: reporting_backlog(c, f, o.report_due_day),
    "key-pipeline": lambda c, f, o: key_pipeline(c, f),
    "stuck-keys": lambda c, f, o: stuck_keys(c, f, o.rules),
    "activation-denials": lambda c, f, o: activation_denials(c, f),
    "duplicate-devices": lambda c, f, o: duplicate_devices(c, f),
    "citizenship-caps": lambda c, f, o: citizenship_caps(c, f, o.rules),
    "return-window": lambda c, f, o: return_window(c, f, o.rules),
    "partner-risk": lambda c, f, o: partner_risk(c, f, o.rules, o.report_due_day),
}


def build_report(
    connection: sa.Connection,
    name: str,
    filters: Filters,
    options: ReportOptions | None = None,
) -> pl.DataFrame:
    """The frame behind report `name`, exactly as the page shows it."""
    return REPORTS[name](connection, filters, options or ReportOptions())


def defuse_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with `'`; numbers stay."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(_defused(name) for name in texts)


def _defused(name: str) -> pl.Expr:
    column = pl.col(name)
    risky = pl.any_horizontal(*(column.str.starts_with(p) for p in FORMULA_PREFIXES))
    return pl.when(risky).then(pl.lit("'") + column).otherwise(column).alias(name)


def to_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes: header row, ISO dates and timestamps, empty cells for missing values."""
    return (
        defuse_formulas(frame)
        .write_csv(datetime_format="%Y-%m-%dT%H:%M:%S", date_format="%Y-%m-%d")
        .encode("utf-8")
    )


#: Byte-order mark: without it Excel reads UTF-8 as the local code page ("MÃ¼nchen").
BOM = "\ufeff"


def to_excel_csv(frame: pl.DataFrame, language: Language) -> bytes:
    """CSV bytes that Excel set to `language` opens in columns with the right numbers.

    Where the decimal sign is a comma (de, fr), Excel splits on semicolons and reads
    `1234,5`; elsewhere it is the machine CSV's comma and point. Numbers carry their full
    precision and no grouping (Excel would read `1.234` as a date or a thousandth), dates stay
    ISO (Excel reads them as dates in every language and shows them in its own), and the file
    starts with a byte-order mark so that Excel reads UTF-8. The machine CSV (`to_csv`) is
    what scripts read; this is for people.
    """
    comma = decimal_sign(language) == ","
    text = defuse_formulas(frame).write_csv(
        separator=";" if comma else ",",
        decimal_comma=comma,
        datetime_format="%Y-%m-%dT%H:%M:%S",
        date_format="%Y-%m-%d",
    )
    return (BOM + text).encode("utf-8")


def audited_report(report: str, excel: Language | None = None) -> str:
    """The report as the audit log names it: an Excel file is the same data in another form,
    so it keeps the report's name and says which form was taken."""
    return f"{report} (Excel, {excel})" if excel else report


def file_name(report: str, filters: Filters, excel: Language | None = None) -> str:
    """A download name that carries the report, the date range, every other active filter
    and, for a spreadsheet file, its language, so a file found later says what it holds."""
    suffix = f"_excel-{excel}" if excel else ""
    return f"mar-insight_{report}_{filters.file_part()}{suffix}.csv"
