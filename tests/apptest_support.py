"""What every AppTest module shares: the entrypoint, the pages, and opening one of them."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

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
)


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
