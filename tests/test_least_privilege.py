"""The least-privilege database role of the README, on PostgreSQL.

The role is created by running the README's own SQL block (with a unique role name and the
test schema), so the documentation and the test cannot drift apart: the dashboard's queries,
pages, downloads and exports must work with exactly those grants, and every write to a data
table (or a change to the audit trail) must be refused.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from cli.main import main as cli
from dashboard import data_access
from data.audit import record_export
from data.db import make_engine
from data.demo import generate_demo
from queries.exports import REPORTS, build_report
from queries.filters import Filters
from tests.apptest_support import APP, DeferredFiles, open_page
from tests.apptest_support import PAGES as APP_PAGES
from tests.conftest import PG_URL, _postgres_admin_engine

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 25)
PAGES = (*APP_PAGES, "audit")
WRITES = {
    "insert a partner": "INSERT INTO partners (id, name, country, size_class) "
    "VALUES (999999, 'Intruder', 'DE', 'S')",
    "update partners": "UPDATE partners SET name = 'Intruder'",
    "delete partners": "DELETE FROM partners",
    "delete installations": "DELETE FROM installations",
    "give oneself a role": "UPDATE users SET role = 'management'",
    "rewrite the audit log": "UPDATE audit_log SET who = 'nobody'",
    "erase the audit log": "DELETE FROM audit_log",
    "truncate keys": "TRUNCATE keys",
}


def readme_role_sql(role: str, schema: str) -> list[str]:
    """The statements of the README's "Least-privilege database role" SQL block, for `role`
    in `schema` (trust authentication here, so without the password)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"### Least-privilege database role.*?```sql\n(.*?)```", readme, re.S)
    assert match, "README.md has no SQL block under 'Least-privilege database role'"
    sql = re.sub(r"\s+PASSWORD\s+'[^']*'", "", match[1])
    sql = sql.replace("mar_dashboard", f'"{role}"').replace("SCHEMA public", f'SCHEMA "{schema}"')
    return [statement.strip() for statement in sql.split(";") if statement.strip()]


def _schema_url(schema: str, user: str | None = None) -> str:
    """The test server's URL with `schema` as the search path (as conftest's postgres_url)."""
    separator = "&" if "?" in PG_URL else "?"
    url = make_url(f"{PG_URL}{separator}options=-csearch_path%3D{schema}")
    return url.set(username=user or url.username).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    """A fresh schema holding a small demo; once per module because the demo takes seconds."""
    admin = _postgres_admin_engine()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    engine = make_engine(_schema_url(name))
    generate_demo(engine, installations=2_000, seed=11, as_of=AS_OF, progress=lambda *_: None)
    engine.dispose()
    yield name
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def owner_url(schema: str) -> str:
    """The demo schema as its owner (the test server's superuser)."""
    return _schema_url(schema)


@pytest.fixture(scope="module")
def dashboard_url(schema: str, owner_url: str) -> Iterator[str]:
    """The demo schema as a new LOGIN role with exactly the README's grants."""
    role = f"mar_ro_{uuid.uuid4().hex[:12]}"
    owner = make_engine(owner_url)
    with owner.begin() as connection:
        for statement in readme_role_sql(role, schema):
            connection.execute(sa.text(statement))
    yield _schema_url(schema, user=role)
    with owner.begin() as connection:
        connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
        connection.execute(sa.text(f'DROP ROLE "{role}"'))
    owner.dispose()


@pytest.fixture
def dashboard_engine(dashboard_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(dashboard_url)
    yield engine
    engine.dispose()


def _audit_count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    engine.dispose()
    return int(count)


def test_the_role_is_not_the_owner(dashboard_engine: sa.Engine) -> None:
    with dashboard_engine.connect() as connection:
        user, superuser = connection.execute(
            sa.text("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
        ).one()
    assert user.startswith("mar_ro_")
    assert not superuser


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_report_runs_with_the_role(dashboard_engine: sa.Engine, report: str) -> None:
    with dashboard_engine.connect() as connection:
        frame = build_report(connection, report, Filters.default(AS_OF))
    assert frame.columns


def test_the_role_can_append_to_the_audit_log(dashboard_engine: sa.Engine, owner_url: str) -> None:
    before = _audit_count(owner_url)
    with dashboard_engine.begin() as connection:
        record_export(connection, who="role-test", report="stock", filters={}, row_count=3)
    assert _audit_count(owner_url) == before + 1


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_the_role_cannot_change_data(dashboard_engine: sa.Engine, statement: str) -> None:
    refused = pytest.raises(sa.exc.ProgrammingError, match="permission denied")
    with refused, dashboard_engine.begin() as connection:
        connection.execute(sa.text(statement))


def test_an_export_as_a_user_runs_and_is_audited_with_the_role(
    dashboard_url: str, owner_url: str, tmp_path: Path
) -> None:
    engine = make_engine(owner_url)
    with engine.connect() as connection:
        email = connection.execute(
            sa.text("SELECT min(email) FROM users WHERE role = 'account_manager'")
        ).scalar_one()
    engine.dispose()
    out = tmp_path / "volumes.csv"
    before = _audit_count(owner_url)
    argv = ["export", "partner-volumes", "--url", dashboard_url, "--as-of", AS_OF.isoformat()]
    code = cli([*argv, "--as-user", email, "--out", str(out)])
    assert code == 0
    assert out.read_text(encoding="utf-8").startswith("partner_id,partner_name,")
    assert _audit_count(owner_url) == before + 1


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, dashboard_url: str) -> Iterator[AppTest]:
    """The app in demo mode (management persona) connected as the role."""
    monkeypatch.setenv("MAR_DATABASE_URL", dashboard_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=60)
    data_access.engine().dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_role(app: AppTest, page: str) -> None:
    open_page(app, page)
    assert not app.exception
    assert not app.error
    assert app.title


def test_a_download_is_audited_with_the_role(
    app: AppTest, owner_url: str, deferred_files: DeferredFiles
) -> None:
    open_page(app, "partners")
    before = _audit_count(owner_url)
    deferred_files.fetch(app, "download-partner-volumes")
    assert _audit_count(owner_url) == before + 1
