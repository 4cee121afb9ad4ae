"""What the local stack's commands report in one line (the CLI prints it and exits 2)."""


class CommandError(Exception):
    """A mistake in what was asked (a busy port, a bad instant, no server there): one line."""
