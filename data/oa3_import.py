"""`mar-insight import-oa3 DIR`: the factory's OA3 reports mark keys bound (DESIGN §1, §3).

On the factory floor `oa3tool /Report` ties each consumed key to the PC's hardware hash and
writes an XML report: one `<Key>` per key with its `ProductKeyID`, `ProductKeyState` (3 =
bound) and `HardwareHash`.  This import reads a folder of those files and records, per key:

- `bound_at`: the file's modification time (UTC), or the `--bound-at` given for all files;
- `device_hash`: SHA-256 (hex) of the hardware hash as written in the file, whitespace
  removed: the dashboard never stores the hardware hash itself;
- `state` = `bound` when the key was `consumed`.  Keys further on (reported, activated,
  denied) keep their state: a binding the source skipped is filled in, never moving a key
  backwards (the forward-only rule of DESIGN §3).  A key bound to the same device before is
  left as it is, so importing the same files twice changes nothing.

Refused, with one sentence naming the file: files that declare entities (entity expansion,
"billion laughs") or refer to external entities, which the hardened parser (defusedxml)
never resolves; malformed XML; a `<Key>` without its three fields or not in state 3; a
ProductKeyID unknown to the database; a key not consumed yet, returned, bound to another
device, or bound before it was consumed or after it was reported.  Every file is checked
before anything is written, and everything is written in one transaction: all files or none.

A file may also carry the `<ProductKey>` itself (the 25-character secret).  It is never read:
not stored, not logged, not part of any message.  Only a ProductKeyID of 13 digits is ever
repeated in a message.

The rollups (data/rollups.py) sum fulfilment, allocation, consumption and returns only; a
binding changes none of those columns, so no rollup needs refreshing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
import sqlalchemy as sa
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from data.errors import UserError
from data.schema import keys, require_current_schema
from i18n import DEFAULT_LANGUAGE, Language, formats
from i18n.catalogs import N_, translations

log = logging.getLogger(__name__)

#: `ProductKeyState` of a key that `oa3tool /Report` has bound to its PC.
BOUND = "3"
_PRODUCT_KEY_ID = re.compile(r"\d{13}")
#: States from which a binding may be recorded: consumed moves to bound; later states keep
#: theirs and get the binding the source did not record.
_MOVES_TO_BOUND = "consumed"
_KEEPS_STATE = ("bound", "reported", "activated", "denied")
#: ProductKeyIDs per `IN (...)` lookup: well under SQLite's bound-parameter limit.
_CHUNK = 1_000


@dataclass(frozen=True)
class Binding:
    """One `<Key>` of a report: which key, on which PC (hashed), since when, from which file."""

    product_key_id: str
    device_hash: str
    bound_at: dt.datetime
    file: str


@dataclass(frozen=True)
class OA3Summary:
    files: int
    bound: int
    unchanged: int

    def describe(self, language: Language) -> str:
        """What the command line prints, in `language`."""
        return (
            translations(language)
            .gettext(
                "Recorded {bound} bindings from {files} OA3 report files "
                "({unchanged} already recorded, left as they were)."
            )
            .format(
                bound=formats.number(self.bound, language),
                files=formats.number(self.files, language),
                unchanged=formats.number(self.unchanged, language),
            )
        )

    def __str__(self) -> str:
        return self.describe(DEFAULT_LANGUAGE)


def parse_bound_at(text: str) -> dt.datetime:
    """`--bound-at`: an ISO 8601 timestamp, UTC unless it says otherwise; stored as UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            N_("--bound-at {text} is not a timestamp; write it as 2021-06-30T14:05:00 (UTC)."),
            text=repr(text),
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def import_oa3_directory(
    engine: sa.Engine, directory: Path, *, bound_at: dt.datetime | None = None
) -> OA3Summary:
    """Read every `*.xml` report in `directory` and record its bindings, all or nothing."""
    files = _report_files(directory)
    bindings = [binding for path in files for binding in read_report(path, bound_at)]
    _refuse_repeated_keys(bindings)
    with engine.begin() as connection:
        if not require_current_schema(connection):
            raise UserError(
                N_(
                    "The database has no MAR Insight tables yet; import the keys "
                    "('mar-insight import DIR') before the OA3 reports."
                )
            )
        bound, unchanged = _record(connection, bindings)
    summary = OA3Summary(files=len(files), bound=bound, unchanged=unchanged)
    log.info("OA3 import from %s: %s", directory, summary)
    return summary


def _report_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise UserError(
            N_("{directory} is not a folder; give the folder of OA3 report files."),
            directory=directory,
        )
    files = sorted(path for path in directory.glob("*.xml") if path.is_file())
    if not files:
        raise UserError(N_("{directory} holds no OA3 report files (*.xml)."), directory=directory)
    return files


def read_report(path: Path, bound_at: dt.datetime | None = None) -> list[Binding]:
    """The bindings of one report file; `bound_at` None: the file's modification time."""
    root = _parse(path)
    when = bound_at or dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(
        tzinfo=None, microsecond=0
    )
    found = [element for element in root.iter() if _local_name(element) == "Key"]
    if not found:
        raise UserError(N_("{file} holds no <Key> element; is it an OA3 report?"), file=path.name)
    return [_binding(path, number, element, when) for number, element in enumerate(found, 1)]


def _parse(path: Path) -> Element:
    """Parse with entity declarations and external references refused, not resolved."""
    try:
        root = safe_xml.parse(path, forbid_dtd=False).getroot()
    except EntitiesForbidden as refused:
        if refused.sysid or refused.pubid:
            raise UserError(
                N_(
                    "{file} declares an external entity (it would read another file or "
                    "address); OA3 reports have none, so it was refused."
                ),
                file=path.name,
            ) from None
        raise UserError(
            N_(
                "{file} declares XML entities (an entity-expansion or 'billion laughs' "
                "attack blows them up to gigabytes); OA3 reports have none, so it was refused."
            ),
            file=path.name,
        ) from None
    except (ExternalReferenceForbidden, DTDForbidden):
        raise UserError(
            N_(
                "{file} refers to an external document type or entity; OA3 reports have "
                "none, so it was refused."
            ),
            file=path.name,
        ) from None
    except ParseError as error:
        line, column = error.position
        raise UserError(
            N_("{file} is not well-formed XML (line {line}, column {column})."),
            file=path.name,
            line=line,
            column=column + 1,
        ) from None
    except OSError as error:
        raise UserError(
            N_("{file} cannot be read: {reason}."),
            file=path.name,
            reason=error.strerror or error,
        ) from None
    if root is None:
        raise UserError(N_("{file} holds no XML element; is it an OA3 report?"), file=path.name)
    return root


def _binding(path: Path, number: int, key: Element, when: dt.datetime) -> Binding:
    """One `<Key>`; its `<ProductKey>`, if any, is never read."""
    fields = {_local_name(child): (child.text or "").strip() for child in key}
    missing = [f for f in ("ProductKeyID", "ProductKeyState", "HardwareHash") if not fields.get(f)]
    if missing:
        raise UserError(
            N_("{file}: <Key> number {number} has no {element}."),
            file=path.name,
            number=number,
            element=missing[0],
        )
    key_id = fields["ProductKeyID"]
    if not _PRODUCT_KEY_ID.fullmatch(key_id):
        # Not echoed: a misplaced product key must not reach the terminal or a log.
        raise UserError(
            N_("{file}: <Key> number {number} has a ProductKeyID that is not 13 digits."),
            file=path.name,
            number=number,
        )
    state = fields["ProductKeyState"]
    if state != BOUND:
        if state.isdigit() and len(state) <= 2:
            raise UserError(
                N_(
                    "{file}: key {key} has ProductKeyState {state}, not {bound} (bound); run "
                    "'oa3tool /Report' for it first."
                ),
                file=path.name,
                key=key_id,
                state=state,
                bound=BOUND,
            )
        raise UserError(
            N_(
                "{file}: key {key} has an unreadable ProductKeyState, not {bound} (bound); run "
                "'oa3tool /Report' for it first."
            ),
            file=path.name,
            key=key_id,
            bound=BOUND,
        )
    hardware_hash = "".join(fields["HardwareHash"].split())
    device_hash = hashlib.sha256(hardware_hash.encode()).hexdigest()
    return Binding(key_id, device_hash, when, path.name)


def _local_name(element: Element) -> str:
    """The tag without an XML namespace, so namespaced and plain reports read alike."""
    return str(element.tag).rsplit("}", 1)[-1]


def _refuse_repeated_keys(bindings: list[Binding]) -> None:
    seen: dict[str, str] = {}
    for binding in bindings:
        first = seen.get(binding.product_key_id)
        if first is not None:
            if first == binding.file:
                raise UserError(
                    N_("Key {key} appears more than once ({file}); import each binding once."),
                    key=binding.product_key_id,
                    file=first,
                )
            raise UserError(
                N_(
                    "Key {key} appears more than once ({file} and {other}); import each "
                    "binding once."
                ),
                key=binding.product_key_id,
                file=first,
                other=binding.file,
            )
        seen[binding.product_key_id] = binding.file


def _stored(connection: sa.Connection, key_ids: list[str]) -> Iterator[sa.Row[*tuple[Any, ...]]]:
    for low in range(0, len(key_ids), _CHUNK):
        yield from connection.execute(
            sa.select(
                keys.c.id,
                keys.c.product_key_id,
                keys.c.state,
                keys.c.consumed_at,
                keys.c.bound_at,
                keys.c.reported_at,
                keys.c.device_hash,
            ).where(keys.c.product_key_id.in_(key_ids[low : low + _CHUNK]))
        )


def _record(connection: sa.Connection, bindings: list[Binding]) -> tuple[int, int]:
    """Check every binding against its stored key, then write them; (recorded, unchanged)."""
    stored = {
        row.product_key_id: row for row in _stored(connection, [b.product_key_id for b in bindings])
    }
    updates: list[dict[str, object]] = []
    unchanged = 0
    for binding in bindings:
        key = stored.get(binding.product_key_id)
        if key is None:
            unknown = sum(b.product_key_id not in stored for b in bindings)
            if unknown > 1:
                raise UserError(
                    N_(
                        "{file}: key {key} is not in the database (and {more} more unknown "
                        "keys); nothing was imported."
                    ),
                    file=binding.file,
                    key=binding.product_key_id,
                    more=unknown - 1,
                )
            raise UserError(
                N_("{file}: key {key} is not in the database; nothing was imported."),
                file=binding.file,
                key=binding.product_key_id,
            )
        if key.device_hash == binding.device_hash:
            unchanged += 1
            continue
        _refuse_impossible(binding, key)
        updates.append(
            {
                "key": key.id,
                "bound_at": binding.bound_at,
                "device_hash": binding.device_hash,
                "state": "bound" if key.state == _MOVES_TO_BOUND else key.state,
            }
        )
    if updates:
        connection.execute(
            keys.update()
            .where(keys.c.id == sa.bindparam("key"))
            .values(
                bound_at=sa.bindparam("bound_at"),
                device_hash=sa.bindparam("device_hash"),
                state=sa.bindparam("state"),
            ),
            updates,
        )
    return len(updates), unchanged


def _refuse_impossible(binding: Binding, key: sa.Row[*tuple[Any, ...]]) -> None:
    """The forward-only rule: only a consumed key (or one further on whose binding was not
    recorded) can be bound, never before its consumption nor after its report."""
    where = {"file": binding.file, "key": binding.product_key_id}
    if key.device_hash is not None:
        raise UserError(
            N_("{file}: key {key} is already bound to another device; nothing was imported."),
            **where,
        )
    if key.state != _MOVES_TO_BOUND and key.state not in _KEEPS_STATE:
        raise UserError(
            N_(
                "{file}: key {key} is {state}, not consumed; only a key assembled into a PC can "
                "be bound. Nothing was imported."
            ),
            state=key.state,
            **where,
        )
    consumed_at, reported_at = key.consumed_at, key.reported_at
    assert isinstance(consumed_at, dt.datetime)
    if binding.bound_at < consumed_at:
        raise UserError(
            N_(
                "{file}: key {key} would be bound at {bound_at}, before it was consumed "
                "({consumed_at}); give --bound-at. Nothing was imported."
            ),
            bound_at=f"{binding.bound_at:%Y-%m-%dT%H:%M:%S}",
            consumed_at=f"{consumed_at:%Y-%m-%dT%H:%M:%S}",
            **where,
        )
    if isinstance(reported_at, dt.datetime) and binding.bound_at > reported_at:
        raise UserError(
            N_(
                "{file}: key {key} would be bound at {bound_at}, after it was reported "
                "({reported_at}); give --bound-at. Nothing was imported."
            ),
            bound_at=f"{binding.bound_at:%Y-%m-%dT%H:%M:%S}",
            reported_at=f"{reported_at:%Y-%m-%dT%H:%M:%S}",
            **where,
        )
