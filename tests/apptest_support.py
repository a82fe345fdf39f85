"""What every AppTest module shares: the entrypoint, the pages, and opening one of them."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from streamlit.runtime.media_file_manager import MediaFileManager
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


DataCallable = Callable[[], bytes | str | BinaryIO | TextIO | io.RawIOBase]


class DeferredFiles:
    """The data callables of the app's deferred downloads, by the button's element id.

    AppTest runs no server, so nothing can ask it for a deferred file and the click of a
    download button only reruns the page.  These are the very callables Streamlit's file
    handler would call; `fetch` calls one the way it does: in a worker thread, without the
    page run's context.
    """

    def __init__(self) -> None:
        self.callables: dict[str, DataCallable] = {}

    def recording(self, register: Callable[..., str]) -> Callable[..., str]:
        """`MediaFileManager.add_deferred`, also keeping each callable it registers."""

        def add_deferred(
            manager: MediaFileManager, data_callable: DataCallable, *args: Any, **kwargs: Any
        ) -> str:
            self.callables[str(kwargs.get("element_id", ""))] = data_callable
            return register(manager, data_callable, *args, **kwargs)

        return add_deferred

    def fetch(self, app: AppTest, key: str) -> bytes | str | BinaryIO | TextIO | io.RawIOBase:
        """Generate the file of the download button `key` the last run drew."""
        button = app.download_button(key=key)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
            return worker.submit(self.callables[button.id]).result()
