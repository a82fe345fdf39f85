"""Charts as pure functions from a metric frame to a Plotly figure.

Colours are fixed per product and segment so the same thing has the same colour on every page.
Each figure is built once per distinct frame and arguments and shared by every session:
building figures through Plotly's validation was the largest part of a page view's server CPU
(profile in the README's speed section).  Nothing changes a figure once built; `st.plotly_chart`
only reads it.
Every chart takes the viewer's language: its numbers and dates are drawn with that language's
separators and day pattern, and its words come from that language's catalog. Charts read no
Streamlit session, so the mail draws them too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import labels
from i18n import Language
from i18n.catalogs import N_, translations
from i18n.formats import DAY, MONTH_DIGITS, DatePatterns, number, plotly_separators
from i18n.formats import date as _date

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6", "#ec4899", "#64748b")
SEGMENT_COLOURS = {"education": "#2563eb", "authority": "#f59e0b", "nonprofit": "#10b981"}
#: How a partial period (DESIGN §4) looks: a lighter bar, a dashed line, "partial" on hover.
PARTIAL_OPACITY = 0.4
SUNSET_DATES = (
    (dt.date(2020, 12, 31), N_("{day}: last RRP registration")),
    (dt.date(2021, 6, 30), N_("{day}: RRP sell-by")),
)
INSTALLATIONS_PER = {
    "day": N_("Installations per day"),
    "week": N_("Installations per week"),
    "month": N_("Installations per month"),
}
FAILURE_RATE_PER = {
    "day": N_("Failure rate per day"),
    "week": N_("Failure rate per week"),
    "month": N_("Failure rate per month"),
}
PARTNER_INSTALLATIONS_PER = {
    "day": N_("Installations per day by partner"),
    "week": N_("Installations per week by partner"),
    "month": N_("Installations per month by partner"),
}
BREAKDOWNS = {
    "product": (N_("Installations by product"), N_("Product")),
    "segment": (N_("Installations by segment"), N_("Segment")),
    "site": (N_("Installations by site"), N_("Site")),
    "partner": (N_("Installations by partner"), N_("Partner")),
}


_built_once = st.cache_resource(show_spinner=False, max_entries=256)


def colour_map(values: Sequence[str]) -> dict[str, str]:
    """A stable colour per value (products by code), independent of which values are shown."""
    return {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(sorted(values))}


def _day(lang: Language) -> str:
    """The hover text of a day on the x axis, in the language's pattern."""
    return f"%{{x|{DAY[lang].d3}}}"


def _layout(
    figure: go.Figure,
    lang: Language,
    title: str,
    x: str,
    y: str,
    dates: DatePatterns | None = None,
) -> go.Figure:
    """Title, axes and the language's separators; `dates`: the x axis holds days or months
    and its ticks are written in that pattern (Plotly knows only English month names)."""
    figure.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        hovermode="x unified",
        separators=plotly_separators(lang),
        margin={"t": 60, "l": 10, "r": 10, "b": 10},
        legend_title_text="",
    )
    figure.update_yaxes(tickformat=",d", rangemode="tozero")
    if dates is not None:
        figure.update_xaxes(tickformat=dates.d3, hoverformat=dates.d3)
    figure.for_each_trace(
        lambda trace: trace.update(name=labels.series(trace.name, lang)) if trace.name else None
    )
    return figure


@_built_once
def cumulative_with_milestones(
    series: pl.DataFrame,
    milestones: pl.DataFrame,
    projected: pl.DataFrame,
    narrowed: bool,
    lang: Language,
) -> go.Figure:
    """Cumulative successful installations, the milestone lines and the next projected date;
    `narrowed`: the installations are those of the partners in view, not the company's."""
    _ = translations(lang).gettext
    figure = go.Figure(
        go.Scatter(
            x=series["period"].to_list(),
            y=series["cumulative"].to_list(),
            mode="lines",
            name=_("Cumulative installations"),
            line={"color": PALETTE[0], "width": 3},
            hovertemplate=_day(lang)
            + ": "
            + _("{count} installations").format(count="%{y:,d}")
            + "<extra></extra>",
        )
    )
    top = max(series.select(pl.col("cumulative").max()).item() or 0, 1)
    for row in milestones.iter_rows(named=True):
        if row["milestone"] <= top * 1.5:
            reached = row["reached_on"]
            label = (
                _("{milestone} reached {day}").format(
                    milestone=number(row["milestone"], lang), day=_date(reached, lang)
                )
                if reached
                else number(row["milestone"], lang)
            )
            figure.add_hline(
                y=row["milestone"],
                line_dash="dot",
                line_color="#64748b",
                annotation_text=label,
                annotation_position="top left",
            )
    row = projected.row(0, named=True) if not projected.is_empty() else {}
    first: dt.date = series["period"].min()  # type: ignore[assignment]
    last: dt.date = series["period"].max()  # type: ignore[assignment]
    # A projection far beyond the shown period would squash the real curve into a corner;
    # the page states its date in words instead.
    if row.get("projected_on") and row["projected_on"] - last <= last - first:
        figure.add_trace(
            go.Scatter(
                x=[series["period"].max(), row["projected_on"]],
                y=[row["current_total"], row["milestone"]],
                mode="lines+markers",
                line={"dash": "dash", "color": PALETTE[1]},
                name=_("Projection to {milestone} ({day})").format(
                    milestone=number(row["milestone"], lang), day=_date(row["projected_on"], lang)
                ),
                hovertemplate=_day(lang) + ": %{y:,d}<extra></extra>",
            )
        )
    title = (
        _("Cumulative installations of the partners in view, against the company's milestones")
        if narrowed
        else _("Cumulative installations and milestones")
    )
    return _layout(figure, lang, title, _("Date"), _("Installations"), DAY[lang])


def _bars(
    frame: pl.DataFrame,
    x: str,
    series: dict[str, str],
    hover: str,
    *,
    barmode: str = "stack",
) -> go.Figure:
    """One bar per value of `x` for each column in `series` (column → colour)."""
    long = frame.unpivot(index=x, on=list(series), variable_name="series", value_name="value")
    figure = px.bar(
        long, x=x, y="value", color="series", barmode=barmode, color_discrete_map=series
    )
    figure.update_traces(hovertemplate=f"{hover}: %{{y:,d}}<extra>%{{fullData.name}}</extra>")
    return figure


def _partial_notes(series: pl.DataFrame, lang: Language) -> list[str]:
    """The hover note of each period: " (partial)" for a partial one, else nothing."""
    _ = translations(lang).gettext
    note = " " + _("(partial)")
    return [note if partial else "" for partial in series["partial"]]


@_built_once
def installations_over_time(series: pl.DataFrame, grain: str, lang: Language) -> go.Figure:
    """Successful and failed installations per period, stacked; a partial period is drawn
    lighter and says "partial" on hover, so a short last week does not read as a drop."""
    _ = translations(lang).gettext
    figure = _bars(
        series,
        "period",
        {"installations": PALETTE[0], "failed": PALETTE[3]},
        _day(lang) + "%{customdata}",
    )
    notes = _partial_notes(series, lang)
    opacity = [PARTIAL_OPACITY if note else 1.0 for note in notes]
    figure.update_traces(customdata=notes, marker_opacity=opacity)
    return _layout(
        figure,
        lang,
        _(INSTALLATIONS_PER[grain]),
        _(labels.GRAINS[grain]),
        _("Installations"),
        _grain_dates(grain, lang),
    )


def _grain_dates(grain: str, lang: Language) -> DatePatterns:
    return MONTH_DIGITS[lang] if grain == "month" else DAY[lang]


@_built_once
def failure_rate(series: pl.DataFrame, grain: str, lang: Language) -> go.Figure:
    """Failed ÷ all attempts per period, in percent; partial periods say so on hover."""
    _ = translations(lang).gettext
    figure = px.line(series, x="period", y="failure_rate", markers=grain != "day")
    figure.update_traces(
        line_color=PALETTE[3],
        customdata=_partial_notes(series, lang),
        hovertemplate=_day(lang)
        + "%{customdata}: "
        + _("{rate} of attempts failed").format(rate="%{y:.2%}")
        + "<extra></extra>",
    )
    figure = _layout(
        figure,
        lang,
        _(FAILURE_RATE_PER[grain]),
        _(labels.GRAINS[grain]),
        _("Failure rate"),
        _grain_dates(grain, lang),
    )
    # "~" drops insignificant zeros, so 0.5 % and 1 % steps read "0.5%, 1%", never "1%, 1%".
    figure.update_yaxes(tickformat=".2~%")
    return figure


@_built_once
def breakdown_bar(
    frame: pl.DataFrame,
    by: str,
    colours: dict[str, str] | None = None,
    limit: int = 20,
    *,
    lang: Language,
) -> go.Figure:
    """Installations per product, segment, site or partner, largest first."""
    _ = translations(lang).gettext
    codes = {code: labels.value(by, code, lang) for code in labels.VALUES.get(by, {})}
    top = frame.head(limit).with_columns(pl.col(by).replace(codes))
    shown_colours = {
        labels.value(by, code, lang): colour for code, colour in (colours or {}).items()
    }
    figure = px.bar(
        top, x="installations", y=by, orientation="h", color=by, color_discrete_map=shown_colours
    )
    figure.update_traces(
        hovertemplate="%{y}: "
        + _("{count} installations").format(count="%{x:,d}")
        + "<extra></extra>",
        showlegend=False,
    )
    title, axis = BREAKDOWNS[by]
    figure = _layout(figure, lang, _(title), _("Installations"), _(axis))
    figure.update_yaxes(tickformat=None, categoryorder="total ascending")
    figure.update_xaxes(tickformat=",d")
    return figure


@_built_once
def partner_series(frame: pl.DataFrame, grain: str, lang: Language) -> go.Figure:
    """One line per partner; the segments to and from a partial period are dashed and its
    point is hollow, so a short first or last period does not read as a collapse."""
    _ = translations(lang).gettext
    figure = go.Figure()
    names = frame.unique("partner_id", maintain_order=True)["partner_name"].to_list()
    for i, (partner, name) in enumerate(
        zip(frame.unique("partner_id", maintain_order=True)["partner_id"], names, strict=True)
    ):
        rows = frame.filter(pl.col("partner_id") == partner).sort("period")
        colour = PALETTE[i % len(PALETTE)]
        notes = _partial_notes(rows, lang)
        hover = _day(lang) + "%{customdata}: %{y:,d}<extra>%{fullData.name}</extra>"
        # Dashed underneath through every point; solid on top through whole periods only.
        figure.add_trace(
            go.Scatter(
                x=rows["period"].to_list(),
                y=rows["installations"].to_list(),
                customdata=notes,
                mode="lines+markers",
                name=name,
                legendgroup=str(partner),
                showlegend=False,
                line={"color": colour, "dash": "dash"},
                marker={"symbol": ["circle-open" if n else "circle" for n in notes]},
                hovertemplate=hover,
            )
        )
        whole = rows["installations"].to_list()
        figure.add_trace(
            go.Scatter(
                x=rows["period"].to_list(),
                y=[None if n else v for n, v in zip(notes, whole, strict=True)],
                mode="lines",
                name=name,
                legendgroup=str(partner),
                line={"color": colour},
                hoverinfo="skip",
            )
        )
    return _layout(
        figure,
        lang,
        _(PARTNER_INSTALLATIONS_PER[grain]),
        _(labels.GRAINS[grain]),
        _("Installations"),
        _grain_dates(grain, lang),
    )


@_built_once
def funnel(stages: pl.DataFrame, lang: Language) -> go.Figure:
    _ = translations(lang).gettext
    figure = go.Figure(
        go.Funnel(
            y=[labels.value("stage", s, lang) for s in stages["stage"]],
            x=stages["partners"].to_list(),
            textinfo="value+percent initial",
            marker={"color": PALETTE[0]},
            hovertemplate="%{y}: "
            + _("{count} former RRPs").format(count="%{x:,d}")
            + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=_("RRP → TPR conversion funnel"),
        separators=plotly_separators(lang),
        margin={"t": 60, "l": 10, "r": 10},
    )
    return figure


@_built_once
def conversions_over_time(frame: pl.DataFrame, lang: Language) -> go.Figure:
    """Contracts signed and partners lost per month, with the RRP sunset dates marked."""
    _ = translations(lang).gettext
    figure = _bars(
        frame,
        "period",
        {"contracts_signed": PALETTE[2], "lost": PALETTE[3]},
        f"%{{x|{MONTH_DIGITS[lang].d3}}}",
        barmode="group",
    )
    for day, sentence in SUNSET_DATES:
        label = _(sentence).format(day=_date(day, lang))
        figure.add_vline(
            x=dt.datetime.combine(day, dt.time()).timestamp() * 1000,
            line_dash="dash",
            line_color="#64748b",
            annotation_text=label,
            annotation_position="top",
        )
    return _layout(
        figure, lang, _("Conversions per month"), _("Month"), _("Partners"), MONTH_DIGITS[lang]
    )


@_built_once
def time_to_convert(distribution: pl.DataFrame, lang: Language) -> go.Figure:
    _ = translations(lang).gettext
    figure = px.histogram(distribution, x="days", y="partners", histfunc="sum", nbins=30)
    figure.update_traces(
        marker_color=PALETTE[4],
        hovertemplate=_("{days} days: {count} partners").format(days="%{x}", count="%{y:,d}")
        + "<extra></extra>",
    )
    return _layout(
        figure,
        lang,
        _("Time to convert (contacted → contract signed)"),
        _("Days"),
        _("Partners"),
    )


@_built_once
def stock_by_product(stock: pl.DataFrame, in_view: bool, lang: Language) -> go.Figure:
    """The company's stock per product: MAR stock and partner stock, and when the view is
    narrowed to some partners, theirs apart from the other partners'."""
    _ = translations(lang).gettext
    series = {"mar_stock": PALETTE[0], "partner_stock": PALETTE[1]}
    if in_view:
        stock = stock.with_columns(
            other_partners=pl.col("stock_on_hand") - pl.col("mar_stock") - pl.col("partner_stock")
        )
        series["other_partners"] = "#cbd5e1"
    figure = _bars(stock, "product_code", series, "%{x}")
    if in_view:
        figure.for_each_trace(
            lambda trace: trace.update(
                name=_(labels.IN_VIEW_COLUMNS[trace.name])
                if trace.name in labels.IN_VIEW_COLUMNS
                else trace.name
            )
        )
    return _layout(
        figure, lang, _("The company's keys in stock per product"), _("Product"), _("Keys")
    )


@_built_once
def stockout_dates(
    stock: pl.DataFrame, as_of: dt.date, warning_days: int, lang: Language
) -> go.Figure:
    """Days of cover per product as bars ending at the projected stock-out date."""
    _ = translations(lang).gettext
    shown = stock.filter(pl.col("stockout_date").is_not_null())
    colours = ["#ef4444" if low else PALETTE[2] for low in shown["low_cover"]]
    figure = go.Figure(
        go.Bar(
            y=shown["product_code"].to_list(),
            x=shown["days_of_cover"].to_list(),
            orientation="h",
            marker_color=colours,
            customdata=[_date(d, lang) for d in shown["stockout_date"]],
            hovertemplate="%{y}: "
            + _("{days} days of cover, stock-out {day}").format(
                days="%{x:,.1f}", day="%{customdata}"
            )
            + "<extra></extra>",
            text=[_date(d, lang) for d in shown["stockout_date"]],
            textposition="outside",
        )
    )
    figure.add_vline(
        x=warning_days,
        line_dash="dot",
        line_color="#ef4444",
        annotation_text=_("{days}-day threshold").format(days=warning_days),
        annotation_position="bottom right",
    )
    figure = _layout(
        figure,
        lang,
        _("Days of cover and projected stock-out (as of {day})").format(day=_date(as_of, lang)),
        _("Days of cover"),
        _("Product"),
    )
    figure.update_yaxes(tickformat=None)
    longest = max([*shown["days_of_cover"].to_list(), warning_days])
    figure.update_xaxes(range=[0, longest * 1.35])  # room for the date labels
    return figure


@_built_once
def late_reports(trend: pl.DataFrame, lang: Language) -> go.Figure:
    _ = translations(lang).gettext
    figure = _bars(
        trend,
        "period",
        {"on_time": PALETTE[2], "late": PALETTE[1], "missing": PALETTE[3]},
        f"%{{x|{MONTH_DIGITS[lang].d3}}}",
    )
    return _layout(
        figure,
        lang,
        _("Licence reports per month by status"),
        _("Report period"),
        _("Reports"),
        MONTH_DIGITS[lang],
    )


@_built_once
def key_pipeline(pipeline: pl.DataFrame, lang: Language) -> go.Figure:
    """Keys per stage at the as-of date as a funnel, every stage shown (zeros included)."""
    _ = translations(lang).gettext
    figure = go.Figure(
        go.Funnel(
            y=[labels.value("stage", s, lang) for s in pipeline["stage"]],
            x=pipeline["keys"].to_list(),
            textinfo="value",
            marker={"color": PALETTE[0]},
            hovertemplate="%{y}: " + _("{count} keys").format(count="%{x:,d}") + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=_("Key pipeline"),
        separators=plotly_separators(lang),
        margin={"t": 60, "l": 10, "r": 10},
    )
    return figure


@_built_once
def stuck_keys(stuck: pl.DataFrame, lang: Language) -> go.Figure:
    """Stuck keys by stage and age: one bubble per partner, product and stage, as large as
    its keys, as far right as its oldest key."""
    _ = translations(lang).gettext
    stages = {code: labels.value("stage", code, lang) for code in labels.KEY_STAGES}
    figure = px.scatter(
        stuck.with_columns(pl.col("stage").replace(stages)),
        x="max_age_days",
        y="stage",
        size="keys",
        color="product_code",
        hover_name="partner_name",
        category_orders={"stage": list(stages.values())},
    )
    figure.update_traces(
        hovertemplate="%{hovertext}: "
        + _("oldest {days} days").format(days="%{x}")
        + "<extra></extra>"
    )
    figure = _layout(
        figure, lang, _("Stuck keys by stage and age"), _("Days in the stage"), _("Stage")
    )
    figure.update_yaxes(tickformat=None)
    return figure


@_built_once
def denials_over_time(denials: pl.DataFrame, lang: Language) -> go.Figure:
    """Denied activations per month, stacked by Microsoft's code."""
    _ = translations(lang).gettext
    meaning = pl.col("meaning").replace({m: _(m) for m in labels.VALUES["meaning"]})
    labelled = denials.with_columns((pl.col("code") + " " + meaning).alias("answer"))
    figure = px.bar(labelled, x="month", y="keys", color="answer")
    figure.update_traces(
        hovertemplate=f"%{{x|{MONTH_DIGITS[lang].d3}}}: %{{y:,d}}<extra>%{{fullData.name}}</extra>"
    )
    return _layout(
        figure,
        lang,
        _("Denied activations per month by code"),
        _("Month"),
        _("Keys"),
        MONTH_DIGITS[lang],
    )


@_built_once
def citizenship_caps(caps: pl.DataFrame, lang: Language) -> go.Figure:
    """Each TPR's citizenship units per month as a share of its cap (the larger family),
    with the near-cap and cap lines."""
    _ = translations(lang).gettext
    used = caps.with_columns(
        share=pl.max_horizontal("windows_units", "office_units") / pl.col("cap")
    )
    figure = px.line(used, x="month", y="share", color="partner_name", markers=True)
    figure.update_traces(
        hovertemplate=f"%{{x|{MONTH_DIGITS[lang].d3}}}: "
        + _("{share} of the cap").format(share="%{y:.0%}")
        + "<extra>%{fullData.name}</extra>"
    )
    for level, label in ((1.0, _("cap")), (0.9, _("near cap"))):
        figure.add_hline(y=level, line_dash="dot", line_color="#ef4444", annotation_text=label)
    figure = _layout(
        figure,
        lang,
        _("Citizenship units per month, share of the cap"),
        _("Month"),
        _("Share"),
        MONTH_DIGITS[lang],
    )
    figure.update_yaxes(tickformat=".0%")
    return figure


@_built_once
def return_window(window: pl.DataFrame, lang: Language) -> go.Figure:
    """The order value of unused keys closing on or past their return window, per product."""
    _ = translations(lang).gettext
    value = (
        window.group_by("product_code", "status")
        .agg(pl.col("value").sum().cast(pl.Float64))
        .sort("product_code", "status")
        .with_columns(
            pl.col("status").replace(
                {c: labels.value("status", c, lang) for c in ("closing", "expired")}
            )
        )
    )
    figure = px.bar(
        value,
        x="product_code",
        y="value",
        color="status",
        color_discrete_map={
            labels.value("status", "closing", lang): PALETTE[1],
            labels.value("status", "expired", lang): PALETTE[3],
        },
    )
    figure.update_traces(hovertemplate="%{x}: %{y:,.2f}<extra>%{fullData.name}</extra>")
    figure = _layout(
        figure, lang, _("Value at stake in the return window"), _("Product"), _("Order value")
    )
    figure.update_yaxes(tickformat=",.0f")
    return figure
