"""The one exception the domain raises for input it refuses, and the rule that tells input's fault
from a transient failure (`input_fault`)."""

from __future__ import annotations

__all__ = ["BadInput", "input_fault", "visible"]


def visible(text: str) -> str:
    """`text` with every character that is not printable escaped as \\uXXXX (\\UXXXXXXXX above
    the BMP): control characters (NUL, ESC, line breaks), lone surrogates, format and unassigned
    code points. What is left is one line that any log, terminal and queue attribute takes
    (SQS refuses NUL and lone surrogates in attribute values); repr-quoted values are unchanged."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    point = ord(ch)
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


class BadInput(Exception):
    """Input the billing rules refuse: never retried, always reported with a reason.

    `code` is machine-readable (a metric dimension, a test assertion); `field` is a
    dotted path into the event (``data.plan.currency``) or None when the problem is
    the whole input. ``str(exc)`` is one line: ``"<code>: <field>: <message>"``.
    """

    code: str
    field: str | None
    message: str

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        # One line of visible text, always: a reason ends up in a log line and a queue attribute,
        # and a field path or a message may quote the input (an extension named "bad\u0000name").
        self.field = None if field is None else visible(field)
        self.message = visible(" ".join(message.split()))
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.field is None:
            return f"{self.code}: {self.message}"
        return f"{self.code}: {self.field}: {self.message}"

    def __repr__(self) -> str:
        return f"BadInput(code={self.code!r}, message={self.message!r}, field={self.field!r})"

    def __reduce__(self) -> tuple[type[BadInput], tuple[str, str, str | None]]:
        return (BadInput, (self.code, self.message, self.field))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BadInput):
            return NotImplemented
        return (self.code, self.field, self.message) == (other.code, other.field, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.field, self.message))


def input_fault(error: BaseException) -> BadInput | None:
    """The one rule of every consumer: is this failure the input's fault (park it at once, with a
    reason) or not (None: fail, so the message is retried)?

    The input's fault: BadInput, and the two errors only the content of a message can cause, which
    a retry meets again: UnicodeError (a string that is not Unicode text, such as a lone surrogate)
    and RecursionError (nesting too deep). They get the parser's own code for the same problem, so
    what slips past the parser is parked as the parser would have refused it. Everything else (a
    throttle, a timeout, a lost race, a bug) is retried; after maxReceiveCount receives SQS moves
    it to the DLQ without a reason (docs/RUNBOOK.md).
    """
    if isinstance(error, BadInput):
        return error
    if isinstance(error, UnicodeError):
        return BadInput("invalid_json", f"not Unicode text ({type(error).__name__}: {error})")
    if isinstance(error, RecursionError):
        return BadInput("invalid_json", "nested too deeply")
    return None
