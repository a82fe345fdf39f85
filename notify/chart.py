"""The digest's one picture, drawn by the dashboard's own chart function and rendered to PNG
by Plotly's Kaleido in the Chromium the project already installs for its browser tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import kaleido
import plotly.graph_objects as go

from dashboard.charts import cumulative_with_milestones
from data.errors import UserError
from i18n import DEFAULT_LANGUAGE, Language
from i18n.catalogs import N_, translations
from queries.digest import InstallationTrend

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 600, 340
#: Kaleido's browser tab sometimes answers before its page has loaded (seen on a busy
#: machine: "kaleido_scopes is not defined"); a second try succeeds.
RENDER_ATTEMPTS = 2
WEEK_BARS = "rgba(100, 116, 139, 0.35)"


def _use_system_chromium() -> None:
    """Kaleido would download a browser of its own; point it at Debian's Chromium instead
    (`BROWSER_PATH` set by the operator wins)."""
    if "BROWSER_PATH" not in os.environ:
        found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
        if found is None:
            raise UserError(
                N_(
                    "The digest chart needs Chromium; install Debian's 'chromium' package or set "
                    "BROWSER_PATH to a Chrome or Chromium executable."
                )
            )
        os.environ["BROWSER_PATH"] = found


@contextlib.contextmanager
def chart_renderer() -> Iterator[None]:
    """Keep one Chromium running while several charts are rendered (one per recipient):
    starting it is most of a render's time."""
    _use_system_chromium()
    kaleido.start_sync_server(silence_warnings=True)
    try:
        yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def trend_figure(trend: InstallationTrend, language: Language) -> go.Figure:
    """The dashboard's cumulative chart (milestone lines, projection of the next one) with
    the installations of each week as bars on a second axis, in the recipient's language:
    its words from the catalog, its separators and day pattern from `i18n.formats`."""
    _ = translations(language).gettext
    figure = cumulative_with_milestones(
        trend.weeks, trend.milestones, trend.next_milestone, trend.narrowed, language
    )
    figure.add_trace(
        go.Bar(
            x=trend.weeks["period"].to_list(),
            y=trend.weeks["installations"].to_list(),
            name=_("Installations per week"),
            yaxis="y2",
            marker_color=WEEK_BARS,
        )
    )
    figure.update_layout(
        title=_("Installations per week and cumulative"),
        hovermode=False,
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "l": 10, "r": 10, "b": 10},
    )
    return figure


def render_png(figure: go.Figure) -> bytes:
    """The figure as a PNG small enough for a phone screen at twice its pixel density."""
    _use_system_chromium()
    failure: Exception | None = None
    for _ in range(RENDER_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                # Plotly passes browser options that a running `chart_renderer` already has.
                warnings.filterwarnings("ignore", "The kopts argument is ignored", UserWarning)
                png: bytes = figure.to_image(format="png", width=WIDTH, height=HEIGHT, scale=2)
            return png
        except Exception as exc:  # Kaleido raises plain errors from its browser tab
            failure = exc
    raise UserError(
        N_(
            "Chromium could not draw the digest chart ({error}); check BROWSER_PATH, then run "
            "the command again (nothing was sent)."
        ),
        error=type(failure).__name__,
    )


def render_trend(trend: InstallationTrend, language: Language = DEFAULT_LANGUAGE) -> bytes:
    """The digest's chart as PNG bytes, in `language`."""
    return render_png(trend_figure(trend, language))
