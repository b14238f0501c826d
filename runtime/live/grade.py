"""Grading a live answer against a gold one: math-verify (default) or exact string equality."""

from __future__ import annotations

from functools import lru_cache

from ttsc.errors import TtscError

GRADERS = ("math", "exact")


def grader(kind: str):
    """A function (answer, gold) -> bool."""
    if kind == "exact":
        return lambda answer, gold: answer is not None and gold is not None and answer.strip() == gold.strip()
    if kind == "math":
        try:
            import math_verify  # noqa: F401
        except ImportError:
            raise TtscError("grading with math-verify needs the `math-verify` package: "
                            "pip install 'ttsc[live]' (or use --grader exact)") from None
        return _math_equal
    raise TtscError(f"unknown grader {kind!r}; choose one of {', '.join(GRADERS)}")


@lru_cache(maxsize=4096)
def _math_equal(answer: str | None, gold: str | None) -> bool:
    if answer is None or gold is None:
        return False
    if answer.strip() == gold.strip():
        return True
    from math_verify import parse, verify
    try:
        # Wrapped in \boxed{} so both sides are read as the final answer expression.
        return bool(verify(parse(f"\\boxed{{{gold}}}"), parse(f"\\boxed{{{answer}}}")))
    except Exception:  # math-verify gives up on unparsable text: the answer is not shown equal
        return False
