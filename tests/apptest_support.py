"""What every AppTest module shares: the entrypoint, the pages, and opening one of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from streamlit.testing.v1 import AppTest

#: The as-of day of the demo database the AppTest modules share (`demo_url` in conftest.py).
AS_OF = dt.date(2026, 11, 25)
APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
#: Every page in the navigation for every viewer (management also has "audit").
PAGES = (
    "overview",
    "partners",
    "partner_detail",
    "conversions",
    "stock",
    "throughput",
    "reporting",
    "compliance",
)

#: An OIDC provider for signed-in mode (`app.secrets`); `app.user` then names the viewer.
AUTH_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-string-for-tests-only",
        "client_id": "mar-insight-tests",
        "client_secret": "not-a-secret",
        "server_metadata_url": "https://login.example.invalid/.well-known/openid-configuration",
    }
}


def open_page(app: AppTest, page: str, **params: str) -> AppTest:
    """Run the app with these URL parameters, then switch to `page` (the default is overview).

    AppTest.switch_page takes the page file relative to the entrypoint.
    """
    for name, value in params.items():
        app.query_params[name] = value
    app.run()
    if page != "overview":
        app.switch_page(f"dashboard/pages/{page}.py")
        app.run()
    return app
