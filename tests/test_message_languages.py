"""The sentences outside the pages speak the reader's language too: the command line (its
refusals, its `--help`, argparse's own words) in MAR_LANGUAGE, and each digest and alert in
its recipient's language (`users.language`, else MAR_LANGUAGE), through a real SMTP server.

The database is `tests/two_managers.py` (SQLite: none of this depends on the dialect).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from cli.main import main
from data.db import make_engine
from data.schema import create_schema, users
from data.settings import Settings
from i18n import Language
from notify.alerts import run_alerts
from notify.chart import trend_figure
from notify.digest import run_digest
from tests import two_managers
from tests.apptest_support import open_page
from tests.mail_servers import SmtpSink, mail_settings
from tests.test_digest import small_trend
from tests.two_managers import ANNA, AS_OF, BERT, BOSS

PNG = b"\x89PNG\r\n\x1a\n"
#: Words a German or French mail shares with the English one: names, codes and the data.
SHARED = frozenset(
    {"MAR", "Insight", "Partner", "Alpha", "Beta", "Gamma", "Delta", "Anna", "Becker", "Bert"}
    | {"Weber", "Windows", "Pro", "W11P", "Office", "https", "insight", "mar", "example"}
    | {"Installations", "Stock", "Conversions", "Total", "Date"}
)


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(sqlite_url)
    create_schema(engine)
    with engine.begin() as conn:
        two_managers.fill(conn)
    yield engine
    engine.dispose()


def _reads(engine: sa.Engine, email: str, language: Language) -> None:
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.email == email).values(language=language))


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def _digests(engine: sa.Engine, settings: Settings) -> None:
    run_digest(
        engine,
        settings,
        email=None,
        everyone=True,
        as_of=AS_OF,
        out_dir=None,
        send=True,
        who="test",
        chart_png=lambda _trend, _language: PNG,
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _english_lines(english: str, other: str) -> list[str]:
    """Lines the other language's mail shows exactly as the English one, with a word that
    is neither data nor shared."""
    mine = set(other.splitlines())
    return [
        line
        for line in english.splitlines()
        if line in mine and any(w not in SHARED for w in re.findall(r"[^\W\d_]{3,}", line))
    ]


# --- The command line -------------------------------------------------------------------


def test_an_import_refusal_is_german_when_mar_language_is_de(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "de")
    (tmp_path / "partners.csv").write_text("id,name,country\n1,Alpha,Deutschland\n")
    code, said = _cli(capsys, "import", str(tmp_path), "--url", sqlite_url)
    assert code == 2
    assert "Probleme gefunden; es wurde nichts importiert:" in said
    assert "partners.csv Zeile 1, Spalte region: die Spalte fehlt." in said


def test_a_cell_refusal_is_french_when_mar_language_is_fr(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "fr")
    (tmp_path / "account_managers.csv").write_text(
        "id,name,email,region\nx,Anna,anna@mar.example,DACH\n"
    )
    code, said = _cli(capsys, "import", str(tmp_path), "--url", sqlite_url)
    assert code == 2
    assert said == (
        "mar-insight: account_managers.csv ligne 2, colonne id : 'x' n'est pas un nombre entier.\n"
    )


def test_a_filter_refusal_at_the_command_line_is_german(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "de")
    url = db.url.render_as_string(hide_password=False)
    code, said = _cli(capsys, "export", "partner-volumes", "--partner", "99", "--url", url)
    assert (code, said) == (
        2,
        "mar-insight: Es gibt keinen für Sie sichtbaren Partner mit der ID 99.\n",
    )


def test_a_bad_date_at_the_command_line_is_french(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "fr")
    url = db.url.render_as_string(hide_password=False)
    code, said = _cli(capsys, "export", "stock", "--from", "2021-13-01", "--url", url)
    assert code == 2
    assert said == (
        "mar-insight: Le paramètre 'from' a la valeur '2021-13-01', qui n'est pas une date ; "
        "écrivez-la sous la forme AAAA-MM-JJ.\n"
    )


def test_help_and_argparse_speak_french(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "fr")
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal's width
    assert shown.startswith("utilisation : mar-insight export")
    assert "afficher cette aide et quitter" in shown
    assert "identifiant du partenaire ; répétable" in shown
    assert "segment de clientèle (education, authority, nonprofit) ; répétable" in shown
    with pytest.raises(SystemExit):
        main(["export", "no-such-report"])
    assert "erreur : argument REPORT : choix invalide : 'no-such-report'" in capsys.readouterr().err


def test_the_command_line_stays_english_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MAR_LANGUAGE", raising=False)
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "show this help message and exit" in capsys.readouterr().out


# --- The dashboard's filter refusals ----------------------------------------------------


def test_a_filter_refusal_on_the_page_is_in_the_viewers_language(app: AppTest) -> None:
    shown = open_page(app, "overview", lang="fr", region="Atlantis")
    assert [e.value for e in shown.error] == [
        "Aucun des partenaires que vous pouvez voir n'est dans la région 'Atlantis'."
    ]


# --- Digests ----------------------------------------------------------------------------


def test_a_digest_is_in_its_recipients_language_and_the_others_in_mar_language(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    _reads(db, ANNA, "de")
    _digests(db, mail_settings(smtp.port, language="fr"))
    (anna,) = smtp.to(ANNA)
    assert anna["Subject"] == "MAR Insight Wochenübersicht, 24.06.2021 bis 30.06.2021"
    text = _text(anna)
    assert "Diese Woche auf einen Blick" in text
    assert "- Kennzahl: Installationen; Wert: 5; Vorwoche: 1; Veränderung: +4" in text
    assert re.search(r"https://insight\.mar\.example/overview\?\S*&lang=de\s", text)
    (boss,) = smtp.to(BOSS)
    assert boss["Subject"] == "Récapitulatif hebdomadaire MAR Insight, du 24/06/2021 au 30/06/2021"
    assert "Rupture prévue : 20/07/2021" in _text(boss)


@pytest.mark.parametrize("language", ["de", "fr"])
def test_a_translated_digest_shows_no_english_sentence(
    db: sa.Engine, smtp: SmtpSink, language: Language
) -> None:
    _reads(db, BERT, language)
    _digests(db, mail_settings(smtp.port))
    (english,) = smtp.to(BOSS)
    (translated,) = smtp.to(BERT)
    assert _english_lines(_text(english), _text(translated)) == []


def test_the_digest_chart_speaks_the_recipients_language() -> None:
    figure = trend_figure(small_trend(), "de")
    assert figure.layout.title.text == "Installationen pro Woche und kumuliert"
    assert figure.layout.separators == ",."
    assert figure.data[-1].name == "Installationen pro Woche"


# --- Alerts -----------------------------------------------------------------------------


def test_an_alert_is_in_its_recipients_language(db: sa.Engine, smtp: SmtpSink) -> None:
    _reads(db, ANNA, "fr")
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    (anna,) = smtp.to(ANNA)
    assert anna["Subject"] == "Alertes MAR Insight : 2 nouvelle(s)"
    text = _text(anna)
    assert text.startswith("Nouvelles :\n- Alpha (#1) est en retard de déclaration")
    assert "Beta (#2) attend depuis 90 jours à l'étape 'Contacté' (depuis le 01/04/2021)." in text
    assert "conversions?partner=2&lang=fr" in text
    (bert,) = smtp.to(BERT)
    assert _text(bert).startswith("New:\n- Gamma (#3) is behind on reporting")


def test_a_cleared_alert_is_told_in_the_language_of_its_reader_then(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    """The condition is stored as template and values, so the clear is told in German
    although the start was told in English."""
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    _reads(db, BOSS, "de")
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF.replace(year=2030), send=True)
    texts = [_text(m) for m in smtp.to(BOSS)]
    assert texts[0].startswith("New:\n- Windows 11 Pro (W11P) has 20.0 days of cover")
    assert any(t.startswith("Erledigt, trifft nicht mehr zu:\n") for t in texts[1:])
