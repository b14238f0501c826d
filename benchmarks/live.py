"""The live controller's overhead against plain generation: a wrapper of ``ttsc bench --live --format json``.

    python -m benchmarks.live --base-url http://127.0.0.1:8000 --model M [--strategy parallel_probe]
        [--set num_chains=8] [--questions 4] [--interval 64] [--max-branch-tokens 256]

The measurement lives in ``ttsc/insight/live_bench.py``; this keeps the old entry point working.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from ttsc.cli.main import cli

    args = list(sys.argv[1:] if argv is None else argv)
    return cli.main(["bench", "--live", "--format", "json", *args], prog_name="ttsc", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
