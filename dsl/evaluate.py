"""The scalar meaning of expressions: the one evaluator.

:class:`Evaluator` computes an expression's value with Python's arithmetic and
the built-ins' scalar implementations (``dsl/builtins.py`` → ``dsl/ops.py``):
ints wrap at 64 bits, division is total, a float-typed result is a float. The
reference interpreter extends it with episode state (frames, branch fields,
sets, windows); on its own it evaluates expressions fixed by the parameters —
knobs, repeat counts, window capacities, the native kernels' constants — for
``runtime/bounds.py``, ``runtime/params.py``, the native engine and the
β-monotonicity check, so every engine binds the same values.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ttsc.dsl import ast, ops
from ttsc.dsl.builtins import FUNCS, T
from ttsc.errors import TtscError


class Evaluator:
    """Evaluates expressions over an environment ``env`` that only :meth:`e_Name` looks into.

    ``type_of`` gives each expression's checked type (``CheckedProgram.type_of``).
    """

    def __init__(self, type_of: Callable[[ast.Node], T]):
        self.type_of = type_of

    def eval(self, e, env, branch=None):
        return getattr(self, "e_" + type(e).__name__)(e, env, branch)

    # ---- what episode state supplies (here: nothing; the interpreter overrides these)
    def e_Name(self, e: ast.Name, env: Mapping[str, Any], branch):
        try:
            return env[e.id]
        except KeyError:
            raise TtscError(f"line {e.span.line}: `{e.id}` is not fixed by the parameters") from None

    def answers_of(self, e, env, branch) -> Sequence[ops.Answer]:
        """The `last` answers of set ``e``'s members, in set order."""
        raise TtscError(f"line {e.span.line}: a branch set is not fixed by the parameters")

    def member_values(self, s, e, env, branch) -> Sequence:
        """``e`` evaluated in the scope of each member of set ``s``, in set order."""
        raise TtscError(f"line {s.span.line}: a branch set is not fixed by the parameters")

    def history_values(self, name: str, branch) -> Sequence[ops.Answer]:
        raise TtscError(f"history `{name}` is not fixed by the parameters")

    def window_values(self, name: str, branch=None) -> Sequence[float]:
        raise TtscError(f"window `{name}` is not fixed by the parameters")

    def episode(self, e) -> Any:
        """The environment's view of the episode, for built-ins that ask it (``Func.environment``)."""
        raise TtscError(f"line {e.span.line}: `{e.func}` asks the environment: it is not fixed by the parameters")

    # ---- scalar semantics
    def e_Int(self, e, env, branch):
        return e.value

    e_Float = e_Bool = e_Int

    def e_NoneLit(self, e, env, branch):
        return None

    def e_Str(self, e, env, branch):
        return e.value  # answers are their texts here; compiled engines use the environment's ids

    def e_Unary(self, e: ast.Unary, env, branch):
        v = self.eval(e.operand, env, branch)
        if e.op == "not":
            return not v
        return ops.wrap(-v) if isinstance(v, int) else -v

    def e_Binary(self, e: ast.Binary, env, branch):
        op = e.op
        a = self.eval(e.left, env, branch)
        b = self.eval(e.right, env, branch)
        if op == "and":
            return a and b
        if op == "or":
            return a or b
        return _BINARY[op](a, b)

    def e_IfExp(self, e: ast.IfExp, env, branch):
        v = self.eval(e.then, env, branch) if self.eval(e.cond, env, branch) else self.eval(e.orelse, env, branch)
        return float(v) if self.type_of(e) is T.FLOAT else v

    def e_Call(self, e: ast.Call, env, branch):
        f = FUNCS[e.func]
        kinds = f.params if not f.variadic else ("num",) * len(e.args)
        args = [self.episode(e)] if f.environment else []
        for a, kind in zip(e.args, kinds):
            if kind == "set":
                args.append(self.answers_of(a, env, branch))
            elif kind == "window":
                args.append(self.window_values(a.id, branch))
            elif kind == "history":
                args.append(self.history_values(a.id, branch))
            elif kind == "each":
                args.append(self.member_values(e.args[f.params.index("set")], a, env, branch))
            else:
                args.append(self.eval(a, env, branch))
        v = f.interpret(*args)
        return float(v) if self.type_of(e) is T.FLOAT else v


def _arith(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def op(a, b):
        v = fn(a, b)
        return ops.wrap(v) if isinstance(v, int) else v  # ints are 64-bit in every engine
    return op


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "+": _arith(lambda a, b: a + b), "-": _arith(lambda a, b: a - b), "*": _arith(lambda a, b: a * b),
    "/": ops.div, "//": _arith(ops.floordiv), "%": ops.mod,
}


def evaluate(e: ast.Node, env: Mapping[str, Any], type_of: Callable[[ast.Node], T]):
    """The value of ``e``, fixed by the parameters, given the values of the names it uses."""
    return Evaluator(type_of).eval(e, env)
