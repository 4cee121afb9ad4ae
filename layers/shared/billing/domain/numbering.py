"""Legal document numbers (contract §2 "Document numbers"): which series a document belongs to.

A number is ``<series>-<sequence:06d>``, e.g. ``INV-2026-07-000042``; the series is the kind's prefix,
the year of the issue date and one of `series_count` lanes. The lane is a hash of the agreement id,
so all of one agreement's documents of a year sit in one series (an auditor follows a customer in
one place) and the lanes spread the daily run's writers over `series_count` counters: one counter
serialises its writers (docs/SCALE.md has the measured conflict rate and the throughput per lane).

The sequence itself comes from the store, in the same transaction as the document: the domain
only names the series. Changing `series_count` moves agreements to other lanes from then on;
every series stays gap-free, because a number is only ever taken by a committed document.
"""

from __future__ import annotations

import re
import zlib
from datetime import date
from typing import Final

from .engine import CREDIT_NOTE, INVOICE

__all__ = ["DEFAULT_SERIES_COUNT", "NUMBER_RE", "PREFIXES", "SERIES_RE", "series_for"]

DEFAULT_SERIES_COUNT: Final = 16
PREFIXES: Final = {INVOICE: "INV", CREDIT_NOTE: "CN"}
SERIES_RE: Final = re.compile(r"(?:INV|CN)-\d{4}-\d{2,}")
NUMBER_RE: Final = re.compile(r"(?:INV|CN)-\d{4}-\d{2,}-\d{6,}")


def series_for(kind: str, issue_date: date, agreement_id: str, series_count: int) -> str:
    """The series a document of `kind` issued on `issue_date` for `agreement_id` is numbered in."""
    if series_count < 1:
        raise ValueError("series_count must be at least 1")
    lane = zlib.crc32(f"series:{agreement_id}".encode()) % series_count
    return f"{PREFIXES[kind]}-{issue_date.year:04d}-{lane:02d}"
