"""The `mar-insight` command line: load data, export reports and serve the dashboard without
a browser (DESIGN §6).  Every failure the user can fix ends in one sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy import Engine

from data.audit import record_export
from data.csv_import import import_directory
from data.db import make_engine
from data.demo import generate_demo
from data.errors import DATABASE_ERRORS, UserError, describe_database_error
from data.logs import configure_logging, log, unexpected
from data.migrations import head
from data.oa3_import import import_oa3_directory, parse_bound_at
from data.rollups import refresh_all
from data.schema import create_schema, has_data_tables, has_schema, require_current_schema
from data.settings import Settings, SettingsError, load_settings
from data.upgrade import upgrade_database
from i18n import DEFAULT_LANGUAGE, LANGUAGES, Language
from i18n.catalogs import N_, translations
from notify.alerts import EVENT_NAMES, run_alerts
from notify.digest import run_digest
from queries.access import viewer_for_email
from queries.exports import (
    REPORTS,
    ReportOptions,
    audited_report,
    build_report,
    to_csv,
    to_excel_csv,
)
from queries.filter_options import check_filters
from queries.filters import VOCABULARY, Filters

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"


#: argparse's own sentences that a user meets (usage, headings, refused arguments), marked so
#: the catalogs carry them; `_argparse_in` makes argparse read them from the catalog.
ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def _parser(_: Callable[[str], str]) -> argparse.ArgumentParser:
    """The command line in the language of `_`: the `--help` of every command is translated."""
    parser = argparse.ArgumentParser(
        prog="mar-insight", description=_("MAR Insight: licence and installation analytics.")
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=_(help_text), description=_(help_text))
        sub.add_argument("--url", help=_("database URL (default: MAR_DATABASE_URL)"))
        return sub

    demo = command("demo", N_("create the schema and fill it with deterministic demo data"))
    demo.add_argument("--installations", type=int, default=150_000, help=_("default 150000"))
    demo.add_argument("--seed", type=int, default=42, help=_("default 42"))
    demo.add_argument("--replace", action="store_true", help=_("replace data already there"))

    load = command("import", N_("load <table>.csv files from DIR, all of them or nothing"))
    load.add_argument("directory", type=Path, metavar="DIR")

    oa3 = command(
        "import-oa3", N_("mark keys bound from the OA3 tool's report files (*.xml) in DIR")
    )
    oa3.add_argument("directory", type=Path, metavar="DIR")
    oa3.add_argument(
        "--bound-at",
        metavar="TS",
        help=_(
            "binding time for every file, e.g. 2021-06-30T14:05:00 (default: each file's mtime)"
        ),
    )

    command("refresh", N_("rebuild the rollups the dashboard reads from"))

    command("upgrade", N_("bring the database to this release's schema, keeping every row"))

    export = command("export", N_("write a report as CSV, the same bytes as the page download"))
    export.add_argument(
        "report", choices=sorted(REPORTS), metavar="REPORT", help=", ".join(sorted(REPORTS))
    )
    for spec in VOCABULARY:
        export.add_argument(
            spec.cli_flag,
            dest=spec.param,
            action="append" if spec.many else "store",
            default=[] if spec.many else None,
            metavar=spec.param.upper(),
            help=spec.help(_),
        )
    export.add_argument(
        "--excel",
        choices=LANGUAGES,
        metavar="LANGUAGE",
        help=_(
            "a CSV for Excel in this language (de, fr: semicolons and decimal commas; "
            "UTF-8 with BOM) instead of the machine CSV"
        ),
    )
    export.add_argument("--out", type=Path, help=_("file to write (default: standard output)"))
    export.add_argument(
        "--as-user",
        metavar="EMAIL",
        help=_("export with the scope of this user of the users table (default: everything)"),
    )

    digest = command(
        "digest", N_("the weekly digest: one e-mail per recipient, scoped like the dashboard")
    )
    digest.add_argument("--as-user", metavar="EMAIL", help=_("the digest of this user only"))
    digest.add_argument(
        "--all", dest="everyone", action="store_true", help=_("every user of the users table")
    )
    digest.add_argument("--as-of", help=_("last day of the digest's week (default: today)"))
    digest.add_argument("--out", type=Path, metavar="DIR", help=_("write one .eml per recipient"))
    digest.add_argument(
        "--send", action="store_true", help=_("send by SMTP, once per recipient and ISO week")
    )

    alerts = command("alerts", N_("check the alert rules; tell each start and each clear once"))
    alerts.add_argument("--as-of", help=_("the day to check (default: today)"))
    alerts.add_argument(
        "--send", action="store_true", help=_("send and remember (default: only list what is due)")
    )

    serve = command(
        "serve", N_("start the dashboard (creates the SQLite demo database if missing)")
    )
    serve.add_argument(
        "--port",
        type=int,
        help=_(
            "default: Streamlit's own server.port setting (STREAMLIT_SERVER_PORT, its "
            "config.toml files, else 8501)"
        ),
    )
    return parser


def cli_language() -> Language:
    """The command line's language: the MAR_LANGUAGE setting, as for the dashboard's default
    and the mail of recipients without a language of their own; English while the settings
    cannot be read (the sentence naming the wrong setting must not fail in turn)."""
    try:
        return load_settings().language
    except SettingsError:
        return DEFAULT_LANGUAGE


@contextlib.contextmanager
def _argparse_in(gettext: Callable[[str], str]) -> Iterator[None]:
    """argparse looks its sentences up through its module's `_` (Python's gettext, which has
    no catalog for it): while parsing, it looks them up in ours."""
    english = argparse._  # type: ignore[attr-defined]
    argparse._ = gettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = english  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the process exit code."""
    language = cli_language()
    _ = translations(language).gettext
    with _argparse_in(_):
        args = _parser(_).parse_args(argv)
    try:
        settings = load_settings(**({"database_url": args.url} if args.url else {}))
    except SettingsError as exc:
        return _refused(str(exc))  # no language can be read yet
    configure_logging(settings.log_file, settings.log_format)
    try:
        engine = make_engine(
            settings.database_url,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            statement_timeout_seconds=(
                settings.statement_timeout_seconds if args.command == "export" else None
            ),
        )
        if args.command == "serve":
            return _serve(engine, settings, args.port, _)
        if args.command == "demo":
            generate_demo(
                engine,
                installations=args.installations,
                seed=args.seed,
                replace=args.replace,
                as_of=settings.today(),
            )
        elif args.command == "import":
            summary = import_directory(engine, args.directory)
            log.info("import of %s accepted: %s", args.directory, str(summary).replace("\n", "; "))
            print(summary.describe(language))
        elif args.command == "import-oa3":
            bound_at = parse_bound_at(args.bound_at) if args.bound_at else None
            oa3 = import_oa3_directory(engine, args.directory, bound_at=bound_at)
            print(oa3.describe(language))
        elif args.command == "refresh":
            with engine.begin() as connection:
                create_schema(connection)
                refresh_all(connection)
            print(_("Rebuilt the rollups."))
        elif args.command == "export":
            _export(engine, args, settings)
        elif args.command == "upgrade":
            _upgrade(engine, _)
        elif args.command == "digest":
            return _digest(engine, args, settings, _)
        elif args.command == "alerts":
            return _alerts(engine, args, settings, language)
    except UserError as exc:
        log.info("%s refused: %s", args.command, exc)
        return _refused(exc.translated(_))
    except DATABASE_ERRORS as exc:
        message = describe_database_error(exc)
        log.warning("%s failed: %s", args.command, message)
        return _refused(_(message))
    except Exception as exc:
        print(f"mar-insight: {unexpected(exc).translated(_)}", file=sys.stderr)
        return 1
    return 0


def _refused(sentence: str) -> int:
    """One sentence on standard error and exit code 2: the user can fix this."""
    print(f"mar-insight: {sentence}", file=sys.stderr)
    return 2


def _export(engine: Engine, args: argparse.Namespace, settings: Settings) -> None:
    params = {spec.param: getattr(args, spec.param) or [] for spec in VOCABULARY}
    filters = Filters.from_params(params, as_of=settings.today())
    options = ReportOptions(
        grain=filters.grain or "day",
        milestones=settings.milestones,
        cover_warning_days=settings.cover_warning_days,
        report_due_day=settings.report_due_day,
        rules=settings.compliance_rules(),
    )
    with engine.begin() as connection:
        if not require_current_schema(connection) or not has_schema(connection):
            raise UserError(
                N_(
                    "The database has no MAR Insight tables yet; run 'mar-insight demo' or "
                    "'mar-insight import DIR' first."
                )
            )
        who = f"cli:{getpass.getuser()}"
        if args.as_user:
            viewer = viewer_for_email(connection, args.as_user)
            if viewer is None:
                raise UserError(
                    N_("There is no user '{email}' in the users table."), email=args.as_user
                )
            filters = viewer.restrict(filters)
            who = f"{who} as {viewer.email}"
        check_filters(connection, filters)
        frame = build_report(connection, args.report, filters, options)
        record_export(
            connection,
            who=who,
            report=audited_report(args.report, args.excel),
            filters=filters.to_params(),
            row_count=frame.height,
        )
        body = to_excel_csv(frame, args.excel) if args.excel else to_csv(frame)
    log.info(
        "export %s by %s: %d rows, filters %s", args.report, who, frame.height, filters.caption()
    )
    if args.out:
        args.out.write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()


def _upgrade(engine: Engine, _: Callable[[str], str]) -> None:
    steps = upgrade_database(engine)
    for step in steps:
        print(step.translated(_))
    if steps:
        print(_("The database is now at schema {version}.").format(version=head()))
    else:
        print(
            _("The database is already at schema {version}; nothing to do.").format(version=head())
        )


def _as_of(args: argparse.Namespace, settings: Settings) -> dt.date:
    """`--as-of`, read by the filters' own date parser (one sentence when it is wrong)."""
    return Filters.from_params({"as_of": args.as_of or ""}, as_of=settings.today()).as_of


def _digest(
    engine: Engine, args: argparse.Namespace, settings: Settings, _: Callable[[str], str]
) -> int:
    if args.out is None and not args.send:
        raise UserError(
            N_("Say where the digests go: --out DIR writes .eml files, --send mails them.")
        )
    run = run_digest(
        engine,
        settings,
        email=args.as_user,
        everyone=args.everyone,
        as_of=_as_of(args, settings),
        out_dir=args.out,
        send=args.send,
        who=f"cli:{getpass.getuser()}",
    )
    for path in run.written:
        print(_("Wrote {path}.").format(path=path))
    for email in run.already_sent:
        print(_("{email} already has this week's digest.").format(email=email))
    for email in run.sent:
        print(_("Sent the digest to {email}.").format(email=email))
    for failure in run.failures:
        print(f"mar-insight: {failure.translated(_)}", file=sys.stderr)
    return 2 if run.failures else 0


def _alerts(
    engine: Engine, args: argparse.Namespace, settings: Settings, language: Language
) -> int:
    _ = translations(language).gettext
    run = run_alerts(engine, settings, as_of=_as_of(args, settings), send=args.send)
    if not args.send:
        print(
            _("{holding} alert condition(s) hold; {due} event(s) are due:").format(
                holding=run.holding, due=len(run.pending)
            )
        )
        for event in run.pending:
            print(f"  {_(EVENT_NAMES[event.event])}: {event.said(language)}")
        return 0
    print(
        _(
            "{holding} alert condition(s) hold; mailed {mailed} event(s), posted {posted} to "
            "the webhook."
        ).format(holding=run.holding, mailed=len(run.mailed), posted=len(run.posted))
    )
    for failure in run.failures:
        print(f"mar-insight: {failure.translated(_)}", file=sys.stderr)
    return 2 if run.failures else 0


def _serve(
    engine: Engine, settings: Settings, port: int | None, _: Callable[[str], str]
) -> NoReturn:
    """Start Streamlit; an empty SQLite database gets the demo data first, and an older one is
    upgraded, so the embedded default works with one command on a fresh or updated machine.

    Without `--port` Streamlit picks the port itself, so an operator's `server.port` in a
    config file or `STREAMLIT_SERVER_PORT` is honoured; the production settings (no file
    watcher) come from `.streamlit/config.toml` beside the app script.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            empty = not has_data_tables(connection)
        if empty:
            print(_("Creating the demo database (one time only) …"), file=sys.stderr)
            generate_demo(engine, as_of=settings.today())
        for step in upgrade_database(engine):
            print(
                _("Upgraded the database: {step}").format(step=step.translated(_)),
                file=sys.stderr,
            )
    command = [sys.executable, "-m", "streamlit", "run", str(APP)]
    if port is not None:
        command += ["--server.port", str(port)]
    # Streamlit replaces this process, so a stop signal (Ctrl-C, a service manager's SIGTERM)
    # reaches the server itself instead of leaving it running without its parent.
    os.execve(sys.executable, command, {**os.environ, "MAR_DATABASE_URL": settings.database_url})
