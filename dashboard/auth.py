"""Sign-in and personas: who is looking, decided once per run before any page draws.

With an `[auth]` section in `.streamlit/secrets.toml` the app requires OIDC sign-in
(`st.login`) and maps `st.user.email` to the `users` table.  Without it the app runs in an
explicit demo mode with a persona picker; that mode depends only on the absence of `[auth]`,
so configuring a provider can never leave demo mode on by accident.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import data_access, labels
from dashboard.language import _
from data.errors import UserError
from data.logs import log
from i18n.catalogs import N_
from queries.access import Viewer, demo_personas, viewer_for_email

_PERSONA = "w_persona"
_SIGNED_IN = "auth.signed_in"
#: The URL parameter that names the demo persona (demo mode only; ignored with sign-in).
PERSONA_PARAMETER = "as"
REQUIRE_AUTH_WITHOUT_PROVIDER = N_(
    "MAR_REQUIRE_AUTH is true but .streamlit/secrets.toml has no [auth] section; configure "
    "your OIDC provider as the README describes, or unset MAR_REQUIRE_AUTH for a demo."
)


class AccessRefused(UserError):
    """The app must not show data: auth is required but not configured."""


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:
        return False


def current_viewer() -> Viewer | None:
    """The viewer of this run, or None after drawing a sign-in or no-access screen."""
    if auth_configured():
        return _signed_in_viewer()
    if data_access.settings().require_auth:
        raise AccessRefused(REQUIRE_AUTH_WITHOUT_PROVIDER)
    return _demo_viewer()


def _signed_in_viewer() -> Viewer | None:
    if not st.user.is_logged_in:
        st.title("MAR Insight")
        st.write(_("Sign in with your company account to see the dashboard."))
        st.button(_("Sign in"), on_click=st.login, type="primary", icon=":material/login:")
        return None
    email = str(st.user.get("email") or "")
    with data_access.engine().connect() as connection:
        viewer = viewer_for_email(connection, email) if email else None
    if viewer is None:
        log.warning("sign-in refused for %s: not in the users table", email or "no e-mail")
        st.title(_("No access"))
        st.write(
            _(
                "You are signed in as {email}, which has no access to MAR Insight. Ask an "
                "administrator to add you."
            ).format(email=email or _("an account without an e-mail address"))
        )
        st.button(_("Sign out"), on_click=st.logout)
        return None
    if st.session_state.get(_SIGNED_IN) != viewer.email:
        st.session_state[_SIGNED_IN] = viewer.email
        log.info("sign-in %s as %s", viewer.email, viewer.role)
    st.sidebar.caption(
        _("Signed in as {email} ({role})").format(
            email=viewer.email, role=labels.value("role", viewer.role)
        )
    )
    st.sidebar.button(_("Sign out"), on_click=st.logout, icon=":material/logout:")
    return viewer


def _demo_viewer() -> Viewer:
    personas = data_access.lookup(demo_personas)
    viewers = [
        Viewer(
            email=row["email"],
            role=row["role"],
            account_manager_id=row["account_manager_id"],
            name=row["name"],
        )
        for row in personas.iter_rows(named=True)
    ] or [Viewer(email="demo@localhost", role="management", name="Management")]
    names = {v.email: _persona_label(v) for v in viewers}
    # The persona is kept in the URL (`?as=`), so a reload or a shared link keeps it.
    wanted = st.query_params.get(PERSONA_PARAMETER)
    if wanted is not None and wanted not in names:
        raise UserError(
            N_(
                "There is no demo persona '{persona}' (parameter 'as'); remove it from the "
                "address to start as management."
            ),
            persona=wanted[:60],
        )
    st.session_state[_PERSONA] = wanted or st.session_state.get(_PERSONA, viewers[0].email)
    if st.session_state[_PERSONA] not in names:
        st.session_state[_PERSONA] = viewers[0].email
    st.sidebar.selectbox(
        _("Demo persona"),
        list(names),
        key=_PERSONA,
        format_func=names.__getitem__,
        help=_("Demo mode: try the dashboard as management or as one account manager."),
        on_change=_persona_to_url,
    )
    if wanted != st.session_state[_PERSONA]:
        _persona_to_url()
    st.info(
        _(
            "Demo mode: no sign-in is configured, so anyone can pick a persona in the sidebar. "
            "Configure an OIDC provider to require sign-in."
        ),
        icon=":material/science:",
    )
    return next(v for v in viewers if v.email == st.session_state[_PERSONA])


def _persona_to_url() -> None:
    st.query_params[PERSONA_PARAMETER] = st.session_state[_PERSONA]


def _persona_label(viewer: Viewer) -> str:
    if viewer.role == "account_manager":
        return _("Account manager: {name}").format(name=viewer.name)
    return _("Management (all partners)")
