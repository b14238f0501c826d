"""Limits checked once parameters are bound, before any episode runs.

Repeat counts and window capacities are fixed by the parameters (the checker
guarantees it), so their values — and the product of nested repeat counts,
which bounds the work of one episode — are known up front. Both engines call
this through ``bind_params``, so a program is refused the same way whichever
engine would run it.
"""

from __future__ import annotations

from ttsc.dsl import ast
from ttsc.dsl.builtins import MAX_REPEAT, MAX_TOTAL_ITERATIONS, MAX_WINDOW
from ttsc.dsl.checker import CheckedProgram
from ttsc.dsl.evaluate import evaluate
from ttsc.errors import TtscError


def check_bounds(checked: CheckedProgram, params: dict) -> None:
    where = checked.source.name

    def value(expr, env):
        return evaluate(expr, env, checked.type_of)

    def visit(items, env: dict, product: int) -> None:
        env = dict(env)
        for s in items:
            if isinstance(s, ast.Let) and id(s) in checked.constant_lets:
                env[s.name] = value(s.value, env)
            elif isinstance(s, ast.Window):
                n = value(s.capacity, env)
                if not 1 <= n <= MAX_WINDOW:
                    raise TtscError(f"{where}:{s.span.line}:{s.span.col}: window `{s.name}` holds {n} values; "
                                    f"a window holds 1 to {MAX_WINDOW:,}")
            elif isinstance(s, ast.Repeat):
                n = value(s.count, env)
                if n > MAX_REPEAT:
                    raise TtscError(f"{where}:{s.span.line}:{s.span.col}: `repeat {n}` exceeds the limit of "
                                    f"{MAX_REPEAT:,} iterations")
                inner = product * max(n, 1)
                if inner > MAX_TOTAL_ITERATIONS:
                    raise TtscError(f"{where}:{s.span.line}:{s.span.col}: nested repeats run up to {inner:,} "
                                    f"iterations per episode; the limit is {MAX_TOTAL_ITERATIONS:,}")
                visit(s.body, env, inner)
            elif isinstance(s, ast.If):
                for br in s.branches:
                    visit(br.body, env, product)
                if s.orelse is not None:
                    visit(s.orelse, env, product)

    visit(checked.program.items, dict(params), 1)
