"""The one error type the project raises for bad input.

Every user-facing failure (a malformed program, a malformed replay store, a bad
command-line value) is a :class:`TtscError`; the CLI prints it and exits non-zero.
Anything else escaping is a bug in ttsc itself.
"""


class TtscError(Exception):
    """Bad input, reported to the user without a traceback."""


class StoreError(TtscError):
    """A replay store that cannot be loaded: names the file, question and key."""
