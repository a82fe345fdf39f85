"""A download of a million rows: `to_csv` writes every row, one line each, plus the header."""

from __future__ import annotations

from bench.big_download import synthetic_frame
from queries.exports import to_csv

ROWS = 1_000_000


def test_a_million_row_frame_becomes_a_csv_of_a_million_and_one_lines() -> None:
    body = to_csv(synthetic_frame(ROWS))
    assert body.count(b"\n") == ROWS + 1
    assert body.startswith(b"partner_id,partner_name,day,installations\n")
    assert body.endswith(b"\n")
