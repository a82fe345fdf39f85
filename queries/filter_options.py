"""What a viewer may choose for each filter, and the one check that every door runs.

The sidebar offers exactly these options; a URL and a command line naming anything else are
refused by `refuse_unknown` with the filter's own sentence (queries/filters.py), the same in
the dashboard and the CLI.  Values outside the viewer's scope read like values that do not
exist, so the scope cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import sqlalchemy as sa

from data.schema import SEGMENTS
from queries.filters import VOCABULARY, FilterError, Filters, Options
from queries.partners import account_manager_options, partner_options, product_options

SCHEMA = {"param": pl.String, "value": pl.String, "label": pl.String}

Choices = Callable[[sa.Connection, Filters], list[tuple[str, str]]]


def _partners(connection: sa.Connection, filters: Filters) -> list[tuple[str, str]]:
    frame = partner_options(connection, filters)
    return [
        (str(i), f"{name} · #{i}")
        for i, name in frame.select("partner_id", "partner_name").iter_rows()
    ]


def _partner_attribute(column: str) -> Choices:
    def choices(connection: sa.Connection, filters: Filters) -> list[tuple[str, str]]:
        values = partner_options(connection, filters)[column].drop_nulls().unique().sort()
        return [(value, value) for value in values.to_list() if value]

    return choices


def _managers(connection: sa.Connection, filters: Filters) -> list[tuple[str, str]]:
    frame = account_manager_options(connection, filters)
    return [(str(i), name) for i, name in frame.iter_rows()]


def _products(connection: sa.Connection, _filters: Filters) -> list[tuple[str, str]]:
    frame = product_options(connection)
    return [(code, code) for code in frame["product_code"].to_list()]


def _segments(_connection: sa.Connection, _filters: Filters) -> list[tuple[str, str]]:
    return [(segment, segment) for segment in SEGMENTS]


SOURCES: dict[Options, Choices] = {
    "partners": _partners,
    "account_managers": _managers,
    "regions": _partner_attribute("region"),
    "countries": _partner_attribute("country"),
    "products": _products,
    "segments": _segments,
}


def filter_options(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per value the viewer may choose for a filter: `param`, `value` as the URL
    writes it and `label` as the sidebar shows it, in the order the sidebar offers them.

    Only the viewer's scope narrows the choices, not the other filters chosen.
    """
    rows = [
        (spec.param, value, label)
        for spec in VOCABULARY
        if spec.options is not None
        for value, label in SOURCES[spec.options](connection, filters)
    ]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def labels(options: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Option labels by parameter and value, for captions and widgets."""
    result: dict[str, dict[str, str]] = {}
    for param, value, label in options.iter_rows():
        result.setdefault(param, {})[value] = label
    return result


def refuse_unknown(filters: Filters, options: pl.DataFrame) -> None:
    """Raise FilterError with the filter's sentence for the first value that is not among the
    viewer's options; the sidebar, the URL and the CLI all call this."""
    known = labels(options)
    for spec in VOCABULARY:
        if spec.options is None:
            continue
        for value in filters.values(spec):
            if str(value) not in known.get(spec.param, {}):
                raise FilterError(spec.refuse(value))


def check_filters(connection: sa.Connection, filters: Filters) -> None:
    """`refuse_unknown` against options read from the database now (the CLI's way)."""
    refuse_unknown(filters, filter_options(connection, filters))
