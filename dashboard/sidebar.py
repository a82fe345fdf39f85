"""The one sidebar of filters every page honours, kept in the URL both ways.

The URL is parsed by `Filters.from_params`, the same parser the CLI uses, so a bad or unknown
value gets one clear sentence instead of being dropped silently.  Widgets are seeded from the
URL on every run and write the URL back when changed; the filters survive page switches
because the last URL is kept in the session and restored on a page without one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import streamlit as st

from dashboard import data_access
from data.errors import UserError
from data.schema import SEGMENTS
from queries.filters import PARAMETERS, FilterError, Filters
from queries.partners import (
    UnknownPartner,
    account_manager_options,
    partner_options,
    product_options,
    unknown_partner_message,
)

PRESETS: dict[str, int | None] = {
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 365 days": 365,
    "Year to date": None,
    "Since 2020 (all)": 0,
}
CUSTOM = "Custom range"
FIRST_DAY = dt.date(2020, 1, 1)
_SAVED = "filters.url"
#: URL parameters that are not filters: page widgets bound to the URL, and Streamlit's own.
OTHER_PARAMETERS = ("grain", "embed", "embed_options")


def _url_params() -> dict[str, list[str]]:
    """The URL's parameters except those pages and Streamlit own (which Filters refuses)."""
    return {
        name: st.query_params.get_all(name)
        for name in st.query_params
        if name not in OTHER_PARAMETERS
    }


def _write_url(params: Mapping[str, Sequence[str]]) -> None:
    """Replace the filter parameters in the URL, leaving page parameters (e.g. grain) alone."""
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


def _params_from_widgets(as_of_param: list[str]) -> dict[str, list[str]]:
    state = st.session_state
    params: dict[str, list[str]] = {
        "from": [state["w_from"].isoformat()],
        "to": [state["w_to"].isoformat()],
        "partner": [str(p) for p in state["w_partner"]],
        "region": list(state["w_region"]),
        "country": list(state["w_country"]),
        "product": list(state["w_product"]),
        "segment": list(state["w_segment"]),
    }
    if state["w_am"] is not None:
        params["am"] = [str(state["w_am"])]
    if as_of_param:
        params["as_of"] = as_of_param
    return {name: values for name, values in params.items() if values}


def _on_widget_change() -> None:
    _write_url(_params_from_widgets(st.session_state.get("w_as_of_param", [])))


def _on_preset_change() -> None:
    preset = st.session_state["w_preset"]
    if preset != CUSTOM:
        as_of = st.session_state["w_as_of"]
        st.session_state["w_from"], st.session_state["w_to"] = _preset_range(preset, as_of)
    _on_widget_change()


def _reset() -> None:
    _write_url({})


def _check_known(filters: Filters) -> None:
    """Refuse ids and codes the viewer cannot see, exactly as if they did not exist."""
    partners = data_access.load(partner_options, filters)
    known = set(partners["partner_id"].to_list())
    for partner_id in filters.partner_ids:
        if partner_id not in known:
            raise UnknownPartner(unknown_partner_message(partner_id))
    managers = data_access.load(account_manager_options, filters)
    if (
        filters.account_manager_id is not None
        and filters.account_manager_id not in managers["account_manager_id"].to_list()
    ):
        raise FilterError(
            f"There is no account manager with id {filters.account_manager_id} that you can "
            "see (parameter 'am'); choose one in the sidebar."
        )
    for name, chosen, column in (
        ("region", filters.regions, "region"),
        ("country", filters.countries, "country"),
    ):
        available = set(partners[column].to_list())
        for value in chosen:
            if value not in available:
                raise FilterError(
                    f"The parameter '{name}' names '{value[:40]}', which none of your partners "
                    f"has; choose a {name} in the sidebar."
                )
    codes = set(data_access.lookup(product_options)["product_code"].to_list())
    for code in filters.product_codes:
        if code not in codes:
            raise FilterError(
                f"The parameter 'product' names '{code[:40]}', which is not a product code; "
                "choose products in the sidebar."
            )


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
        _check_known(filters)
        st.session_state[_SAVED] = {name: list(values) for name, values in params.items()}
    except UserError as exc:
        st.error(str(exc))
        st.button("Reset filters", on_click=_reset, type="primary")
        st.stop()
    _draw(filters, params.get("as_of", []))
    return filters


def _seed_widgets(filters: Filters, as_of_param: list[str]) -> None:
    state = st.session_state
    state["w_as_of"] = filters.as_of
    state["w_as_of_param"] = as_of_param
    state["w_preset"] = _preset_of(filters)
    state["w_from"], state["w_to"] = filters.date_from, filters.date_to
    state["w_am"] = filters.account_manager_id
    state["w_partner"] = list(filters.partner_ids)
    state["w_region"] = list(filters.regions)
    state["w_country"] = list(filters.countries)
    state["w_product"] = list(filters.product_codes)
    state["w_segment"] = list(filters.segments)


def _draw(filters: Filters, as_of_param: list[str]) -> None:
    _seed_widgets(filters, as_of_param)
    partners = data_access.load(partner_options, filters)
    managers = data_access.load(account_manager_options, filters)
    products = data_access.lookup(product_options)
    names = dict(zip(partners["partner_id"], partners["partner_name"], strict=True))
    manager_names = dict(zip(managers["account_manager_id"], managers["name"], strict=True))
    sidebar = st.sidebar
    sidebar.caption(f"As of **{filters.as_of.isoformat()}** (UTC)")
    sidebar.selectbox("Period", [*PRESETS, CUSTOM], key="w_preset", on_change=_on_preset_change)
    first = min(FIRST_DAY, filters.date_from)
    last = max(filters.as_of, filters.date_to)
    for label, key in (("From", "w_from"), ("To", "w_to")):
        sidebar.date_input(
            label,
            key=key,
            min_value=first,
            max_value=last,
            format="YYYY-MM-DD",
            on_change=_on_widget_change,
        )
    sidebar.selectbox(
        "Account manager",
        list(manager_names),
        key="w_am",
        index=None,
        format_func=lambda i: manager_names[i],
        placeholder="All account managers",
        on_change=_on_widget_change,
    )
    sidebar.multiselect(
        "Partners",
        list(names),
        key="w_partner",
        format_func=lambda i: f"{names[i]} · #{i}",
        placeholder="All partners",
        on_change=_on_widget_change,
    )
    regions = sorted({r for r in partners["region"].to_list() if r})
    countries = sorted({c for c in partners["country"].to_list() if c})
    sidebar.multiselect(
        "Region", regions, key="w_region", placeholder="All regions", on_change=_on_widget_change
    )
    sidebar.multiselect(
        "Country",
        countries,
        key="w_country",
        placeholder="All countries",
        on_change=_on_widget_change,
    )
    sidebar.multiselect(
        "Product",
        products["product_code"].to_list(),
        key="w_product",
        placeholder="All products",
        on_change=_on_widget_change,
    )
    sidebar.multiselect(
        "Segment",
        list(SEGMENTS),
        key="w_segment",
        placeholder="All segments",
        on_change=_on_widget_change,
    )
    left, right = sidebar.columns(2)
    left.button("Reset filters", on_click=_reset, use_container_width=True)
    right.button(
        "Refresh data",
        on_click=data_access.clear_cache,
        use_container_width=True,
        help="Read the database again instead of using cached results.",
    )
