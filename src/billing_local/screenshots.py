"""`make screenshots` (`python -m billing_local.screenshots`): sample document pages in a real browser.

Renders the pages of a sample scenario (the contract's tax example for a named customer, then a
late cancellation: an invoice and the credit note that corrects it) exactly as `billing render`
does, opens each in headless Chromium (Debian's `chromium`: `apt-get install -y chromium`), and
checks what the browser made of it: the DOM Chromium parsed still holds the number, the dates and
every amount, and the screenshot is not blank. The PNGs, cropped to the page, go to docs/images/
(shown in README.md and docs/BILLING.md). Not part of `make test`: it needs the browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct

# subprocess: the browser, on a fixed argument list, never through a shell.
import subprocess  # nosec B404
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

from billing_local.bench import ROOT

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]
WIDTH, HEIGHT = 1000, 1600
# file -> index of the page in the scenario (its documents by issue date, then agreement)
SHOTS = {"invoice.png": 0, "invoice-with-credit.png": 4, "credit-note.png": 5}


def sample_scenario() -> dict[str, Any]:
    """EUR 31.00 a month net at 19 %, 16 % from Mar 16 (contract §2), cancelled late."""
    plan = {"amount_minor": 3100, "currency": "EUR", "interval": "month", "interval_count": 1}
    created = {
        "agreement_id": "agr-1001",
        "customer_id": "cus-77",
        "customer_name": "Ana Example",
        "customer_email": "ana@example.com",
        "version": 1,
        "start_date": "2026-03-01",
        "timezone": "Europe/Berlin",
        "plan": plan | {"tax_rate": "19"},
        "payment_method": "pm_ok",
    }
    amended = {"agreement_id": "agr-1001", "version": 2, "effective_date": "2026-03-16"}
    amended["plan"] = plan | {"tax_rate": "16"}
    cancelled = {"agreement_id": "agr-1001", "version": 3, "effective_date": "2026-04-11"}
    # A second customer downgrades in March, back to the 1st: the credit note's amount is applied
    # by the April invoice, which shows the credit and the amount due (contract §4 "Settlement").
    other = created | {
        "agreement_id": "agr-1002",
        "customer_id": "cus-78",
        "customer_name": "Ben Example",
        "customer_email": "ben@example.com",
    }
    downgraded = {"agreement_id": "agr-1002", "version": 2, "effective_date": "2026-03-01"}
    downgraded["plan"] = plan | {"amount_minor": 2480, "tax_rate": "19"}
    return {
        "runs": {"from": "2026-03-01", "through": "2026-04-20", "at": "00:05"},
        "deliveries": [
            {"on": "2026-02-20", "event": _event("e1", "agreement.created", created)},
            {"on": "2026-02-20", "event": _event("e2", "agreement.amended", amended)},
            {"on": "2026-02-20", "event": _event("e4", "agreement.created", other)},
            {"on": "2026-03-10", "event": _event("e5", "agreement.amended", downgraded)},
            {"on": "2026-04-20", "event": _event("e3", "agreement.cancelled", cancelled)},
        ],
    }


def _event(event_id: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:example:purchases",
        "type": type_,
        "subject": data["agreement_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing_local.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--browser", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)
    browser = shutil.which(args.browser)
    if browser is None:
        print(
            f"screenshots: no browser at {args.browser} (Debian: apt-get install -y chromium)",
            file=sys.stderr,
        )
        return 2
    from billing import config
    from billing_local.pages import scenario_pages
    from billing_local.preview import parse_scenario

    pages = scenario_pages(parse_scenario(sample_scenario()), config.issuer())
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="billing-screenshots-") as work:
        for name, index in SHOTS.items():
            page = pages[index]
            html = Path(work) / page.file_name
            html.write_bytes(page.html.encode("utf-8"))
            problems = check_in_browser(browser, html, page.document, Path(work))
            if problems:
                print(f"screenshots: {page.file_name}: {'; '.join(problems)}", file=sys.stderr)
                return 1
            png = args.out / name
            shoot(browser, html, png, Path(work))
            print(f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}: {page.document['number']}")
    return 0


def _run(browser: str, profile: Path, *flags: str, target: Path) -> str:
    done = subprocess.run(  # noqa: S603  # nosec B603
        [browser, *BROWSER_FLAGS, f"--user-data-dir={profile}", *flags, target.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{browser} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout


def check_in_browser(browser: str, html: Path, document: dict[str, Any], work: Path) -> list[str]:
    """What the browser's DOM must still show (after its own parse): the figures a person reads."""
    from billing.render import formatting as fmt

    dom = _run(browser, work / "profile-dom", "--dump-dom", target=html)
    currency = document["currency"]
    expected = [document["number"], fmt.money(document["total_minor"], currency)]
    expected += [fmt.amount(line["amount_minor"], currency) for line in document["lines"]]
    expected.append(f'datetime="{document["issue_date"]}"')
    missing = [text for text in expected if text not in dom]
    problems = [f"the browser's DOM lacks {text!r}" for text in missing]
    if "<script" in dom:
        problems.append("the browser's DOM holds a script")
    return problems


def shoot(browser: str, html: Path, png: Path, work: Path) -> None:
    raw = work / "raw.png"
    _run(
        browser, work / "profile-shot", f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={raw}", target=html
    )
    width, rows = read_png(raw.read_bytes())
    cropped = crop_bottom(rows)
    if len({bytes(r) for r in cropped}) < 50:
        raise RuntimeError(f"{png.name}: the screenshot is blank")
    if len(cropped) >= len(rows) - 8:
        raise RuntimeError(f"{png.name}: the page is taller than {HEIGHT} px: raise HEIGHT")
    png.write_bytes(write_png(width, cropped))


# ----------------------------------------------------------------------------- PNG, stdlib only


def read_png(data: bytes) -> tuple[int, list[bytearray]]:
    """(width, RGB or RGBA scanlines, unfiltered) of an 8-bit truecolour PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if depth != 8 or colour not in (2, 6):
        raise ValueError("only 8-bit RGB/RGBA PNGs")
    channels = 3 if colour == 2 else 4
    return width, _unfilter(zlib.decompress(idat), width * channels, height, channels)


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytearray]:
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = row[x - bpp] if x >= bpp else 0
            up = previous[x]
            corner = previous[x - bpp] if x >= bpp else 0
            row[x] = (row[x] + _predict(kind, left, up, corner)) & 0xFF
        rows.append(row)
        previous = row
    return rows


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    estimate = left + up - corner
    pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
    return left if pa <= pb and pa <= pc else up if pb <= pc else corner


def crop_bottom(rows: list[bytearray], margin: int = 40) -> list[bytearray]:
    """The rows down to the last one that differs from the background (the bottom row), plus a margin."""
    background = rows[-1]
    last = max((y for y, row in enumerate(rows) if row != background), default=0)
    return rows[: min(len(rows), last + 1 + margin)]


def write_png(width: int, rows: list[bytearray]) -> bytes:
    channels = len(rows[0]) // width
    colour = 2 if channels == 3 else 6
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, len(rows), 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
