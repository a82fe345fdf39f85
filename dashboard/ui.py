"""Building blocks every page shares: the current filters, tables with CSV downloads, KPI
cards and empty states, so numbers and dates look the same everywhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal

import polars as pl
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard import data_access, labels, language, sidebar
from dashboard.charts import colour_map
from dashboard.language import _, ngettext
from data.audit import record_export
from data.logs import log
from i18n import Language, formats
from i18n.catalogs import N_, translations
from queries.access import Viewer
from queries.exports import audited_report, file_name, to_csv, to_excel_csv
from queries.filters import Filters
from queries.kpis import Kpi
from queries.partners import product_options
from queries.sql import GRAINS, Grain

_FILTERS = "mar.filters"
_VIEWER = "mar.viewer"
#: Decimals on screen where one is too few; files keep every digit (DESIGN §6).
SCREEN_DECIMALS = {"consumption_per_day": 2, "partners_consumption_per_day": 2}
PERCENT_COLUMNS = ("share", "failure_rate", "conversion_rate", "share_of_registered")
#: Fractions written out per cell (`_styled`) up to this many; a larger table keeps the
#: browser's number format rather than cost a page that long to write.
STYLED_CELLS = 20_000
COMPANY_STOCK_NOTE = N_(
    "Stock, cover and stock-out dates are the company's, whatever the partner filters: the "
    "central stock runs out for everyone on the same day."
)
PARTIAL_NOTE = N_(
    "Lighter bars and dashed lines mark partial periods: only partly inside the date range or "
    "not over yet, so they hold fewer days than a whole period."
)


def set_viewer(viewer: Viewer) -> None:
    st.session_state[_VIEWER] = viewer


def viewer() -> Viewer:
    """The viewer the entrypoint resolved for this run."""
    value: Viewer = st.session_state[_VIEWER]
    return value


def page_filters() -> Filters:
    """Draw the sidebar and return the filters it resolved, bound to the viewer's scope;
    each page calls this first.

    The sidebar is drawn by the page rather than by the entrypoint so it is part of the
    page's own run (AppTest and page switches then see the same elements as a browser).
    """
    who = viewer()
    resolved = sidebar.current_filters(who.scope_account_manager_id)
    st.session_state[_FILTERS] = resolved
    if who.scope_account_manager_id is not None:
        st.caption(
            _("You are looking at the partners of {name}, and only at them.").format(name=who.name)
        )
    shown = resolved.caption(sidebar.option_labels(), _, date)
    st.caption(_("Showing {filters}").format(filters=shown))
    return resolved


def filters() -> Filters:
    """The filters `page_filters` resolved in this run."""
    value: Filters = st.session_state[_FILTERS]
    return value


def product_colours() -> dict[str, str]:
    """One colour per product code, the same on every page and chart."""
    codes = data_access.lookup(product_options)["product_code"].to_list()
    return colour_map(codes)


def open_partner(partner_id: int) -> None:
    """Go to the partner detail page for one partner, keeping the other filters."""
    params = {name: ",".join(values) for name, values in filters().to_params().items()}
    params["partner"] = str(partner_id)
    st.switch_page("dashboard/pages/partner_detail.py", query_params=params)


def partner_table(
    frame: pl.DataFrame, report: str, *, empty: str, headers: Mapping[str, str] | None = None
) -> None:
    """A `table` whose rows lead to their partner's detail page (a row without a partner,
    such as MAR stock, stays)."""
    selected = table(frame, report, empty=empty, headers=headers, selectable=True)
    if selected and frame["partner_id"][selected[0]] is not None:
        open_partner(int(frame["partner_id"][selected[0]]))


def _column_config(
    frame: pl.DataFrame, headers: Mapping[str, str], *, styled: bool
) -> dict[str, object]:
    """Headers and formats per column; `styled`: the fractions come written by `_styled`, so
    their columns take no format (a column format would win over the written text)."""
    config: dict[str, object] = {}
    for name, dtype in frame.schema.items():
        label = _(headers[name]) if name in headers else labels.column(name)
        if styled and dtype.is_float():
            config[name] = st.column_config.NumberColumn(label)
        # Without `_styled` (a table too large to write out), fractions take Streamlit's
        # browser-locale formats: right whenever the language is the browser's.
        elif name in PERCENT_COLUMNS:
            config[name] = st.column_config.NumberColumn(label, format="percent", step=0.001)
        elif dtype.is_integer():
            config[name] = st.column_config.NumberColumn(
                label, format=formats.table_integer_format(language.current())
            )
        elif dtype.is_float():
            decimals = SCREEN_DECIMALS.get(name, 1)
            config[name] = st.column_config.NumberColumn(
                label, format="localized", step=10**-decimals
            )
        elif dtype == pl.Date:
            config[name] = st.column_config.DateColumn(
                label, format=formats.DAY[language.current()].moment
            )
        elif name in ("product_name", "partner_name"):
            config[name] = st.column_config.TextColumn(label, width="large")
        else:
            config[name] = st.column_config.Column(label)
    return config


def table(
    frame: pl.DataFrame,
    report: str,
    *,
    empty: str,
    headers: Mapping[str, str] | None = None,
    key: str | None = None,
    selectable: bool = False,
    export: pl.DataFrame | None = None,
) -> list[int]:
    """Show a table and a CSV download of it; return selected row indexes.

    `report` names the download (a DESIGN §6 report name where one exists, so the bytes equal
    `mar-insight export REPORT`); `empty` is the sentence shown when there is nothing to show.
    The table shows labels for codes (see `labels`); the download keeps the codes, and is
    `export` when the page orders or narrows the rows differently from the report.
    """
    if frame.is_empty():
        st.info(empty)
        return []
    shown = labels.readable(frame)
    styled = _styled(shown, language.current())
    options: dict[str, Any] = {
        "hide_index": True,
        "placeholder": "—",
        "column_config": _column_config(shown, headers or {}, styled=styled is not None),
        "key": key or f"table-{report}",
    }
    exported = frame if export is None else export
    # Arrow goes to the browser as it is; a Polars frame would pass through pandas first.
    data = styled if styled is not None else shown.to_arrow(compat_level=pl.CompatLevel.oldest())
    if not selectable:
        st.dataframe(data, **options)
        download(exported, report)
        return []
    event = st.dataframe(data, on_select="rerun", selection_mode="single-row", **options)
    download(exported, report)
    return list(event.selection.rows)


def _styled(frame: pl.DataFrame, lang: Language) -> Styler | None:
    """The frame with its fractions and percentages written as `lang` writes them, or None
    when it has none or is too large to write out.

    Streamlit's column formats know no decimal comma (printf has a point; "localized"
    follows the browser, not the language chosen), but it shows a Styler's text in the
    cell while sorting by the number underneath, so `1,5` sorts below `10,0`.
    """
    fractional = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if not fractional or frame.height * len(fractional) > STYLED_CELLS:
        return None
    writers: dict[str, Callable[[float], str]] = {
        name: (
            functools.partial(_percent_cell, lang)
            if name in PERCENT_COLUMNS
            else functools.partial(_decimal_cell, lang, SCREEN_DECIMALS.get(name, 1))
        )
        for name in fractional
    }
    pandas_frame = frame.to_pandas(use_pyarrow_extension_array=True)
    return pandas_frame.style.format(writers, na_rep=formats.MISSING)


def _percent_cell(lang: Language, value: float) -> str:
    return formats.percent(value, lang)


def _decimal_cell(lang: Language, decimals: int, value: float) -> str:
    return formats.number(value, lang, decimals=decimals)


def download(frame: pl.DataFrame, report: str) -> None:
    """Two download buttons for `frame`: the machine CSV, built by the same writer as the CLI
    export, and beside it a CSV for Excel in the viewer's language; both are audited.

    The audit row is written by the file's data callable, not by the click: Streamlit builds
    a deferred file whenever the client asks for it, click or not, so only the callable sees
    every file that leaves.  A click therefore needs no rerun (`on_click="ignore"`).
    """
    lang = language.current()
    rows = ngettext("{count} row", "{count} rows", frame.height).format(
        count=formats.number(frame.height, lang)
    )
    machine, excel = st.columns(2, gap="small")
    machine.download_button(
        _("Download CSV ({rows})").format(rows=rows),
        data=audited_file(lambda: to_csv(frame), audited_report(report), frame.height),
        file_name=file_name(report, filters()),
        mime="text/csv",
        key=f"download-{report}",
        icon=":material/download:",
        on_click="ignore",
    )
    excel.download_button(
        _("CSV for Excel"),
        data=audited_file(
            lambda: to_excel_csv(frame, lang), audited_report(report, lang), frame.height
        ),
        file_name=file_name(report, filters(), excel=lang),
        mime="text/csv",
        key=f"download-excel-{report}",
        icon=":material/table_view:",
        on_click="ignore",
    )


def audited_file(build: Callable[[], bytes], report: str, rows: int) -> Callable[[], bytes]:
    """A download's data callable that writes its audit row before it hands the bytes over.

    Streamlit calls it in a worker thread without this run's context, so the viewer, the
    filters and the primary engine are taken now, while the page runs.  When the audit row
    cannot be written the file is not served: the error goes to the log and up to Streamlit,
    which tells the viewer that the file could not be generated.
    """
    engine = data_access.primary_engine()
    who = viewer().email
    params = filters().to_params()

    def audited() -> bytes:
        body = build()
        try:
            with engine.begin() as connection:
                record_export(connection, who=who, report=report, filters=params, row_count=rows)
        except Exception:
            log.exception("download %s by %s refused: its audit row was not written", report, who)
            raise
        log.info("download %s by %s: %d rows, filters %s", report, who, rows, params)
        return body

    return audited


def number(value: float | None, *, decimals: int = 0) -> str:
    """A figure as the viewer's language writes it, or an em dash when there is none."""
    return formats.number(value, language.current(), decimals=decimals)


def percent(value: float | None, *, decimals: int = 1) -> str:
    """A share (0.125) as the viewer's language writes a percentage."""
    return formats.percent(value, language.current(), decimals=decimals)


def date(value: dt.date | None) -> str:
    """A day as the viewer's language writes it."""
    return formats.date(value, language.current())


DeltaColour = Literal["normal", "inverse", "off"]
#: The card colour that makes a rise green when up is good news, red when it is bad.
_GOOD_NEWS: dict[str, DeltaColour] = {"up": "normal", "down": "inverse", "neither": "off"}


@dataclasses.dataclass(frozen=True)
class Delta:
    """How a KPI card states its change: the text, its colour and its arrow."""

    text: str | None
    colour: DeltaColour
    arrow: Literal["auto", "off"]


def kpi_delta(
    figure: Kpi, value: float | None, previous: float | None, lang: Language = "en"
) -> Delta:
    """The change against the previous period as the card shows it.

    A change that rounds to zero at the card's precision is no change: neutral, without an
    arrow.  Other changes carry their sign ("+172", "-2"), and the colour says whether that
    direction is good for this KPI (more partners behind on reporting is bad; for keys in
    stock neither direction is good or bad by itself).
    """
    if value is None or previous is None:
        return Delta(None, "off", "off")
    scale = 100 if figure.percent else 1
    change = round((value - previous) * scale, figure.decimals)
    if change == 0:
        return Delta(translations(lang).gettext("no change"), "off", "off")
    text = (
        formats.points(change / scale, lang, decimals=figure.decimals)
        if figure.percent
        else formats.number(change, lang, decimals=figure.decimals, signed=True)
    )
    return Delta(text, _GOOD_NEWS[figure.better], "auto")


def kpi(figure: Kpi, value: float | None, previous: float | None) -> None:
    """A KPI card with its change against the previous period."""
    delta = kpi_delta(figure, value, previous, language.current())
    shown = (
        formats.percent(value, language.current(), decimals=figure.decimals)
        if figure.percent
        else formats.number(value, language.current(), decimals=figure.decimals)
    )
    st.metric(
        _(figure.label),
        shown,
        delta=delta.text,
        delta_color=delta.colour,
        delta_arrow=delta.arrow,
        help=_(figure.description),
        border=True,
    )


def milestone_caption(
    projection: Mapping[str, object], narrowed: bool, lang: Language = "en"
) -> str | None:
    """The next milestone in words, or None when no date can be projected.

    Milestones are the company's; in a view narrowed to some partners the figures are those
    partners' installations, and the sentence says so rather than pass them off as the
    company's progress.
    """
    if projection.get("projected_on") is None:
        return None
    sentence = (
        N_(
            "Next milestone {milestone} for the partners in view (not the company's): "
            "{remaining} to go at {rate} per day (last 28 days) → projected for **{day}**."
        )
        if narrowed
        else N_(
            "Next milestone {milestone} for the company: {remaining} to go at {rate} per day "
            "(last 28 days) → projected for **{day}**."
        )
    )
    return (
        translations(lang)
        .gettext(sentence)
        .format(
            milestone=formats.number(_float(projection["milestone"]), lang),
            remaining=formats.number(_float(projection["remaining"]), lang),
            rate=formats.number(_float(projection["rate_per_day"]), lang, decimals=1),
            day=formats.date(projection["projected_on"], lang),  # type: ignore[arg-type]
        )
    )


def _float(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def grain_switch() -> Grain:
    """Day / week / month, kept in the URL as `grain` so a shared link keeps the periods.

    The URL is written here rather than through `bind="query-params"`: a bound widget puts its
    option's *label* in the URL, and the label changes with the language, so `?grain=day`
    would stop working in every language but one.  The sidebar has already refused a bad value.
    """
    lang = language.current()  # bound now: the option labels must not change between runs
    in_url = st.query_params.get("grain")
    grain: Grain = st.segmented_control(
        _("Periods"),
        GRAINS,
        default=in_url if in_url in GRAINS else "week",
        key="grain",
        required=True,
        format_func=lambda grain: labels.value("grain", grain, lang),
        on_change=_grain_to_url,
    )
    return grain


def _grain_to_url() -> None:
    st.query_params["grain"] = st.session_state["grain"]
