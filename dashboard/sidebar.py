"""The one sidebar of filters every page honours, kept in the URL both ways.

The URL is parsed by `Filters.from_params` and checked by `refuse_unknown`, the same parser
and check the CLI uses, so a bad or unknown value gets the same sentence at both doors.  The
widgets are derived from the filter vocabulary (queries/filters.py): seeded from the URL on
every run, they write the URL back when changed; the filters survive page switches because the
last URL is kept in the session and restored on a page without one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import streamlit as st

from dashboard import data_access, language
from dashboard import labels as screen_labels
from dashboard.auth import PERSONA_PARAMETER
from dashboard.language import _
from data.errors import UserError
from data.logs import log
from i18n import formats
from i18n.catalogs import N_, translations
from queries.filter_options import filter_options, labels, refuse_unknown
from queries.filters import FROM, PARAMETERS, TO, VOCABULARY, Filters, FilterSpec

#: The period presets, by their English names (catalog messages, shown translated).
PRESETS: dict[str, int | None] = {
    N_("Last 30 days"): 30,
    N_("Last 90 days"): 90,
    N_("Last 365 days"): 365,
    N_("Year to date"): None,
    N_("Since 2020 (all)"): 0,
}
CUSTOM = N_("Custom range")
#: Each filter's "All …" placeholder, a whole catalog message.
ALL = {
    "am": N_("All account managers"),
    "partner": N_("All partners"),
    "region": N_("All regions"),
    "country": N_("All countries"),
    "product": N_("All products"),
    "segment": N_("All segments"),
}
FIRST_DAY = dt.date(2020, 1, 1)
_SAVED = "filters.url"
_LABELS = "filters.labels"
#: URL parameters that are not filters: the demo persona (dashboard/auth.py), the language
#: (dashboard/language.py) and Streamlit's own.
OTHER_PARAMETERS = (PERSONA_PARAMETER, "lang", "embed", "embed_options")
#: Filters without a sidebar widget (the as-of date, a page's grain) keep their URL value.
_KEPT = tuple(spec.param for spec in VOCABULARY if spec.widget is None)
_CHOSEN = tuple(spec for spec in VOCABULARY if spec.widget in ("select", "multiselect"))


def _key(spec: FilterSpec) -> str:
    return f"w_{spec.param}"


def _url_params() -> dict[str, list[str]]:
    """The URL's parameters except those Streamlit and the persona picker own."""
    return {
        name: st.query_params.get_all(name)
        for name in st.query_params
        if name not in OTHER_PARAMETERS
    }


def _write_url(params: Mapping[str, Sequence[str]]) -> None:
    """Replace the filter parameters in the URL, leaving other parameters alone."""
    for name in PARAMETERS:
        if name in params:
            st.query_params[name] = list(params[name])
        elif name in st.query_params:
            del st.query_params[name]
    st.session_state[_SAVED] = {name: list(values) for name, values in params.items()}


def _preset_range(preset: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    days = PRESETS[preset]
    if days is None:
        return as_of.replace(month=1, day=1), as_of
    if days == 0:
        return FIRST_DAY, as_of
    return as_of - dt.timedelta(days=days - 1), as_of


def _preset_of(filters: Filters) -> str:
    for preset in PRESETS:
        if _preset_range(preset, filters.as_of) == (filters.date_from, filters.date_to):
            return preset
    return CUSTOM


def _params_from_widgets() -> dict[str, list[str]]:
    state = st.session_state
    params: dict[str, list[str]] = {
        FROM.param: [state[_key(FROM)].isoformat()],
        TO.param: [state[_key(TO)].isoformat()],
    }
    for spec in _CHOSEN:
        chosen = state[_key(spec)]
        params[spec.param] = (
            [] if chosen is None else [chosen] if isinstance(chosen, str) else chosen
        )
    params.update(state.get("w_kept", {}))
    return {name: list(values) for name, values in params.items() if values}


def _on_widget_change() -> None:
    _write_url(_params_from_widgets())


def _on_preset_change() -> None:
    preset = st.session_state["w_preset"]
    if preset != CUSTOM:
        as_of = st.session_state["w_as_of"]
        st.session_state[_key(FROM)], st.session_state[_key(TO)] = _preset_range(preset, as_of)
    _on_widget_change()


def _reset() -> None:
    _write_url({})


def current_filters(scope_account_manager_id: int | None = None) -> Filters:
    """Parse the URL into filters, draw the sidebar, and return what the viewer chose.

    A bad parameter shows one sentence and a reset button, and stops the page.
    """
    params = _url_params()
    if not params and st.session_state.get(_SAVED):
        params = st.session_state[_SAVED]
        _write_url(params)
    as_of = data_access.settings().today()
    try:
        filters = Filters.from_params(params, as_of=as_of).replace(
            scope_account_manager_id=scope_account_manager_id
        )
        # Keyed by what the options depend on (the day and the scope): one cache entry.
        choosable = Filters.default(as_of).replace(
            scope_account_manager_id=scope_account_manager_id
        )
        options = data_access.load(filter_options, choosable)
        refuse_unknown(filters, options)
        st.session_state[_SAVED] = {name: list(values) for name, values in params.items()}
    except UserError as exc:
        log.info("refused parameters %s: %s", dict(params), exc)
        st.error(exc.translated(_))
        st.button(_("Reset filters"), on_click=_reset, type="primary")
        st.stop()
    st.session_state[_LABELS] = labels(options)
    _draw(filters, {name: params[name] for name in _KEPT if name in params}, labels(options))
    return filters


def option_labels() -> dict[str, dict[str, str]]:
    """The labels of the options `current_filters` offered in this run, for captions."""
    value: dict[str, dict[str, str]] = st.session_state.get(_LABELS, {})
    return value


def _seed_widgets(filters: Filters, kept: dict[str, list[str]]) -> None:
    state = st.session_state
    state["w_as_of"] = filters.as_of
    state["w_kept"] = kept
    state["w_preset"] = _preset_of(filters)
    state[_key(FROM)], state[_key(TO)] = filters.date_from, filters.date_to
    for spec in _CHOSEN:
        values = [str(value) for value in filters.values(spec)]
        state[_key(spec)] = values if spec.many else (values[0] if values else None)


def _draw(filters: Filters, kept: dict[str, list[str]], names: dict[str, dict[str, str]]) -> None:
    _seed_widgets(filters, kept)
    # Bound to this run's language: option labels must not change between runs.
    lang = language.current()
    gettext = translations(lang).gettext
    sidebar = st.sidebar
    sidebar.caption(_("As of **{day}** (UTC)").format(day=formats.date(filters.as_of, lang)))
    sidebar.selectbox(
        _("Period"),
        [*PRESETS, CUSTOM],
        key="w_preset",
        format_func=gettext,
        on_change=_on_preset_change,
    )
    first = min(FIRST_DAY, filters.date_from)
    for spec in (FROM, TO):
        sidebar.date_input(
            _(spec.label),
            key=_key(spec),
            min_value=first,
            max_value=filters.as_of,
            format=formats.DAY[lang].moment,
            on_change=_on_widget_change,
        )
    for spec in _CHOSEN:
        choices = {
            value: screen_labels.value(spec.param, label, lang)
            for value, label in names.get(spec.param, {}).items()
        }
        if spec.widget == "select":
            sidebar.selectbox(
                _(spec.label),
                list(choices),
                key=_key(spec),
                index=None,
                format_func=choices.__getitem__,
                placeholder=_(ALL[spec.param]),
                on_change=_on_widget_change,
            )
        else:
            sidebar.multiselect(
                _(spec.label),
                list(choices),
                key=_key(spec),
                format_func=choices.__getitem__,
                placeholder=_(ALL[spec.param]),
                on_change=_on_widget_change,
                # No "Select N matches": picking every fuzzy match of a typed word is never
                # what a viewer means, and "all" is the empty choice already.
                select_all=False,
            )
    left, right = sidebar.columns(2)
    left.button(_("Reset filters"), on_click=_reset, use_container_width=True)
    right.button(
        _("Refresh data"),
        on_click=data_access.clear_cache,
        use_container_width=True,
        help=_("Read the database again instead of using cached results."),
    )
