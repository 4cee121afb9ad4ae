"""`make screenshots` without the browser: the sample scenario issues an invoice and the credit note
that corrects it, and the stdlib PNG reader/cropper round-trips (the browser run is `make
screenshots`, outside `make test`)."""

import struct
import zlib
from pathlib import Path

from page_reader import check_figures

from billing import config
from billing_local.pages import scenario_pages
from billing_local.preview import parse_scenario
from billing_local.screenshots import SHOTS, crop_bottom, main, read_png, sample_scenario, write_png

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_the_sample_pages_are_an_invoice_its_credit_note_and_an_invoice_paid_by_credit() -> None:
    pages = scenario_pages(parse_scenario(sample_scenario()), config.issuer())
    invoice, credit = pages[SHOTS["invoice.png"]], pages[SHOTS["credit-note.png"]]
    assert invoice.document["total_minor"] == 3641  # the contract's tax example
    assert credit.document["kind"] == "credit_note"
    check_figures(invoice.html, invoice.document)
    tree = check_figures(credit.html, credit.document)
    assert tree.one(cls="customer-name").text() == "Ana Example"
    credited = pages[SHOTS["invoice-with-credit.png"]]
    assert (credited.document["credit_applied_minor"], credited.document["amount_due_minor"]) == (738, 2213)
    check_figures(credited.html, credited.document)  # shows the credit applied and the amount due


def _png(rows: list[bytes], width: int, filters: list[int]) -> bytes:
    raw = b"".join(bytes([f]) + row for f, row in zip(filters, rows, strict=True))
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_png_rows_are_unfiltered_cropped_and_written_back() -> None:
    # two pixels a row; row 0 raw, row 1 "up" filter (+1 on each byte), rows 2.. background
    data = _png(
        [b"\x10\x20\x30\x40\x50\x60", b"\x01" * 6, b"\xff" * 6, b"\x00" * 6, b"\x00" * 6], 2, [0, 2, 0, 2, 2]
    )
    width, rows = read_png(data)
    assert (
        width == 2
        and rows[1] == bytearray(b"\x11\x21\x31\x41\x51\x61")
        and rows[-1] == bytearray(b"\xff" * 6)
    )
    assert crop_bottom(rows, margin=0) == rows[:2]
    again_width, again = read_png(write_png(width, rows[:2]))
    assert (again_width, again) == (2, rows[:2])


def test_the_committed_screenshots_are_pngs_of_a_page() -> None:
    for name in SHOTS:
        width, rows = read_png((IMAGES / name).read_bytes())
        assert width == 1000 and 600 < len(rows) < 1600
        assert len({bytes(r) for r in rows}) > 50  # not blank


def test_without_a_browser_it_says_how_to_get_one(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--browser", "/nonexistent/chromium"]) == 2
    assert "apt-get install -y chromium" in capsys.readouterr().err
