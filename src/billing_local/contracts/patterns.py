"""Regular expressions for the JSON Schemas, written from what the parser checks with code.

JSON Schema patterns are ECMA-262 regexes without flags; the parser checks some things with
code a regex can only spell out (a calendar date in a range of years, an RFC 3339 instant, a
printable identifier, a set of names). The helpers here write those patterns from the
declarations' parameters; tests/unit/test_contracts.py checks each against the parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

__all__ = [
    "ANY_DATE",
    "ANY_YEAR",
    "IDENTIFIER",
    "LEAP_YEAR",
    "RFC3339",
    "UTC_INSTANT",
    "calendar_date",
    "caseless",
    "char_class",
    "digits_range",
    "full",
    "year_range",
]


def full(pattern: str) -> str:
    """Anchor `pattern` for JSON Schema.

    ``$(?!\\n)`` is plain ``$`` in ECMA-262 (the dialect JSON Schema patterns are written in);
    the lookahead keeps validators built on Python's ``re``, whose ``$`` also matches before a
    final newline, as strict.
    """
    return f"^(?:{pattern})$(?!\\n)"


def _group(pattern: str) -> str:
    return f"(?:{pattern})" if "|" in pattern else pattern


def digits_range(low: str, high: str) -> str:
    """A regex for the decimal strings of one width from `low` to `high` inclusive ("2000", "2199")."""
    if len(low) != len(high) or not (low.isdigit() and high.isdigit()) or low > high:
        raise ValueError(f"bad range {low!r}..{high!r}")
    if low == high:
        return low
    if len(low) == 1:
        return f"[{low}-{high}]"
    rest = len(low) - 1
    if low[0] == high[0]:
        return low[0] + _group(digits_range(low[1:], high[1:]))
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + _group(digits_range(low[1:], "9" * rest)))
        first += 1
    tail = None
    if high[1:] != "9" * rest:
        tail = high[0] + _group(digits_range("0" * rest, high[1:]))
        last -= 1
    if first <= last:
        head = str(first) if first == last else f"[{first}-{last}]"
        parts.append(head + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    if tail is not None:
        parts.append(tail)
    return "|".join(parts)


# The Gregorian leap rule on four digits: divisible by 4 and not by 100, or divisible by 400.
LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8])"
)
ANY_YEAR = "(?!0000)[0-9]{4}"  # what Python's date accepts: 0001..9999


def calendar_date(year: str) -> str:
    """YYYY-MM-DD, a real calendar date (Feb 29 in leap years only), the year matching `year`."""
    return f"(?=(?:{year})-)(?:[0-9]{{4}}-(?:{_MONTH_DAY})|{LEAP_YEAR}-02-29)"


def year_range(low: date, high: date) -> str:
    if (low.month, low.day) != (1, 1) or (high.month, high.day) != (12, 31):
        raise NotImplementedError(
            f"the date range {low}..{high} does not span whole years: extend contracts.patterns.year_range"
        )
    return digits_range(f"{low.year:04d}", f"{high.year:04d}")


ANY_DATE = calendar_date(ANY_YEAR)
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
# RFC 3339 date-time (what CloudEvents' `time` is), as the parser reads it: upper or lower case
# T and Z, any number of fraction digits, an offset below 24 hours.
RFC3339 = f"{ANY_DATE}[Tt]{_CLOCK}(?:\\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
UTC_INSTANT = f"{ANY_DATE}T{_CLOCK}Z"  # billing_events.iso_instant
# Printable, no surrounding white space (the parser's `_identifier`, as far as a regex can say it).
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
IDENTIFIER = f"[^\\s{_CONTROL}](?:[^{_CONTROL}]*[^\\s{_CONTROL}])?"


def caseless(pattern: str) -> str:
    """Rewrite a simple regex so that it matches ASCII letters in either case (no flags in JSON Schema)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c.isascii() and c.isalpha() and pattern[i + 1 : i + 2] == "-" and pattern[i + 2 : i + 3]:
                low, high = c, pattern[i + 2]
                out.append(f"{low.lower()}-{high.lower()}{low.upper()}-{high.upper()}")
                i += 3
                continue
            elif c.isascii() and c.isalpha():
                out.append(c.lower() + c.upper())
            else:
                out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c.isascii() and c.isalpha():
            out.append(f"[{c.lower()}{c.upper()}]")
        elif c == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3].isalpha():
            raise NotImplementedError(f"caseless(): inline group {pattern[i : i + 4]!r} in {pattern!r}")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def char_class(chars: Iterable[str]) -> str:
    """A character class for a set of characters; runs of 3+ ASCII letters or digits become ranges."""

    def one(c: str) -> str:
        return "\\" + c if c in "\\]^-[" else c

    def rank(c: str) -> int:  # consecutive code points of the same kind can form a range
        return 0 if not (c.isascii() and c.isalnum()) else 1 if c.isdigit() else 2 if c.isupper() else 3

    points = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(points):
        j = i
        kind = rank(chr(points[i]))
        while (
            kind
            and j + 1 < len(points)
            and points[j + 1] == points[j] + 1
            and rank(chr(points[j + 1])) == kind
        ):
            j += 1
        if j - i >= 2:
            parts.append(f"{chr(points[i])}-{chr(points[j])}")
        else:
            parts.extend(one(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "[" + "".join(parts) + "]"
