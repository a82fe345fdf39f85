"""The `mar-insight` command line: load data, export reports and serve the dashboard without
a browser (DESIGN §6).  Every failure the user can fix ends in one sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from data.errors import UserError
from data.settings import SettingsError, load_settings

APP = Path(__file__).resolve().parent / "app.py"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mar-insight", description="MAR Insight: licence and installation analytics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--url", help="database URL (default: MAR_DATABASE_URL)")
        return sub

    demo = command("demo", "create the schema and fill it with deterministic demo data")
    demo.add_argument("--installations", type=int, default=150_000, help="default 150000")
    demo.add_argument("--seed", type=int, default=42, help="default 42")
    demo.add_argument("--replace", action="store_true", help="replace data already there")

    load = command("import", "load <table>.csv files from DIR, all of them or nothing")
    load.add_argument("directory", type=Path, metavar="DIR")

    command("serve", "start the dashboard")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(**({"database_url": args.url} if args.url else {}))
        if args.command == "serve":
            return _serve(args.url)
        from data.db import make_engine

        engine = make_engine(settings.database_url)
        if args.command == "demo":
            from data.demo import generate_demo

            generate_demo(
                engine,
                installations=args.installations,
                seed=args.seed,
                replace=args.replace,
                as_of=settings.today(),
            )
        elif args.command == "import":
            from data.csv_import import import_directory

            summary = import_directory(engine, args.directory)
            print(summary)
    except (UserError, SettingsError) as exc:
        print(f"mar-insight: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve(url: str | None) -> int:
    command = [sys.executable, "-m", "streamlit", "run", str(APP)]
    env_url = {"MAR_DATABASE_URL": url} if url else {}
    import os

    return subprocess.call(command, env={**os.environ, **env_url})
