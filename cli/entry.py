"""The `ttsc` console script: a command a running `ttsc daemon` serves runs there; any other runs here.

Only the standard library is imported before that choice, so a served command costs its process no
more than starting Python. ``TTSC_DAEMON=0`` (or ``false``, ``no``, ``off``) runs every command in its own process.
"""

from __future__ import annotations

import os
import sys


# The commands worth serving: they load stores and native kernels, which a warm daemon keeps in memory.
SERVED = frozenset({"eval", "sweep", "compare", "trace"})


def main() -> None:
    argv = sys.argv[1:]
    off = os.environ.get("TTSC_DAEMON", "").strip().lower() in ("0", "false", "no", "off")
    # /dev/fd/N (a shell's `<(…)`) names a descriptor of this process, which the daemon does not have
    own_fds = any("/dev/fd/" in a or "/proc/self/" in a for a in argv)
    if argv and argv[0] in SERVED and not off and not own_fds:
        from ttsc.cli import daemon_client

        code = daemon_client.run(argv)
        if code is not None:
            sys.exit(code)
    from ttsc.cli.main import main as run_here

    run_here()


if __name__ == "__main__":  # pragma: no cover
    main()
