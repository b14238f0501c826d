"""Where a candidate fails on the search set: the trace summaries the llm proposer shows.

Run at one β on the *search* stores only (the loop and the proposers never hold a held-out store), they
count the episodes a candidate gets wrong although the gold answer was among the question's branches, by
how they ended (which ``stop`` line fired, or the program ran out), and trace a few of them with the
reference interpreter (``insight/trace.py``) to count branches pruned while holding the right answer and
right answers seen but not chosen. The text carries counts and the program's own lines: no question, no
answer, no store path.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from ttsc.compiler.engines import run
from ttsc.explorer.program import KNOB, front_end
from ttsc.insight.trace import record
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Store


def summarize(text: str, stores: Sequence[Store], seeds: Sequence[int], beta: float, examples: int = 2) -> str:
    fe = front_end(text)
    if not fe.valid:
        return ""
    checked = fe.checked
    params = {**bind_params(checked), KNOB: float(beta)}
    lines = text.splitlines()
    wrong = reachable = 0
    ended: Counter = Counter()
    traced = pruned_right = seen_not_chosen = 0
    for store in stores:
        o = run(checked, params, store, seeds, "compiled")
        for si, seed in enumerate(o.seeds):
            for qi, q in enumerate(store.questions):
                if o.correct[si, qi]:
                    continue
                wrong += 1
                if q.gold not in {b.final_answer for b in q.branches}:
                    continue
                reachable += 1
                ended[int(o.stop_line[si, qi])] += 1
                if traced < examples:
                    traced += 1
                    trace = record(checked, params, q, int(seed), question_index=qi, env=store.name)
                    pruned = [a for s in trace.steps if s.action == "prune" for a in s.answers]
                    pruned_right += sum(a == q.gold for a in pruned)
                    seen = any(a == q.gold for s in trace.steps for a in s.answers)
                    seen_not_chosen += seen
    total = sum(len(s.questions) for s in stores) * len(seeds)
    out = [f"At {KNOB} = {beta:g} on the search set: wrong on {wrong} of {total} episodes; in {reachable} of them "
           f"a branch's final answer was right (reachable)."]
    for line, n in sorted(ended.items(), key=lambda kv: (-kv[1], kv[0])):
        if line:
            where = lines[line - 1].strip() if 0 < line <= len(lines) else "?"
            out.append(f"- {n} reachable ones ended by the stop on line {line} (`{where}`): lost by stopping early")
        else:
            out.append(f"- {n} reachable ones ran to the end of the program without a stop")
    if traced:
        out.append(f"- traced {traced} of them: {pruned_right} pruned branch(es) held the right answer when pruned; "
                   f"in {seen_not_chosen} the right answer was revealed on some branch but not chosen")
    return "\n".join(out)
