"""The one answer extractor: probe answers and final answers are read by the same rule.

``boxed`` (the default) reads the content of the last ``\\boxed{…}`` with
balanced braces; an unclosed last box (a probe cut short) is read to the end.
``regex:PATTERN`` takes group 1 (or the whole match) of the last match.
"""

from __future__ import annotations

import re

from ttsc.errors import TtscError

BOX = "\\boxed{"


class Extractor:
    def __init__(self, spec: str = "boxed"):
        self.spec = spec
        if spec == "boxed":
            self._regex = None
        elif spec.startswith("regex:"):
            try:
                self._regex = re.compile(spec[len("regex:"):])
            except re.error as e:
                raise TtscError(f"--extractor {spec!r}: not a valid regular expression: {e}") from None
        else:
            raise TtscError(f"--extractor {spec!r}: choose `boxed` or `regex:PATTERN`")

    def __call__(self, text: str) -> str | None:
        """The answer in ``text``, stripped, or None when it holds none."""
        if self._regex is not None:
            matches = list(self._regex.finditer(text))
            if not matches:
                return None
            m = matches[-1]
            got = m.group(1) if m.re.groups else m.group(0)
            return (got or "").strip() or None
        start = text.rfind(BOX)
        if start < 0:
            return None
        i = start + len(BOX)
        depth = 1
        for j in range(i, len(text)):
            c = text[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[i:j].strip() or None
        return text[i:].strip() or None
