"""Showing a trace: a timeline of decisions and a width × depth picture of the episode.

The timeline is a rich table, one row per action: which branches it touched,
what they revealed, what it cost, and the signals and vars right after it.
The picture is plain text, like a Gantt chart: one row per branch in opening
order, one column per round, so the shape of a strategy — how wide it goes,
how deep, where it prunes and where it stops — shows at a glance.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ttsc.insight.trace import Trace, TraceStep

OPENED, ADVANCED, BURST, FINISHED, PRUNED, IDLE, ACCEPTED = "o", "-", "=", "*", "x", ".", "a"
LEGEND = (f"{OPENED} opened  {ADVANCED} advanced  {BURST} advanced several intervals  "
          f"{FINISHED} finished  {PRUNED} pruned  {IDLE} idle")
ACCEPT_LEGEND = f"  {ACCEPTED} accepted (finished early: its answer then is final)"  # only when a trace accepts


# ---- small formatting helpers

# Answers are store text and may hold newlines or terminal escapes: shown escaped, one line per row.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r"}


def fmt_value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, str):
        return v.translate(_CONTROL)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    return str(v)


def fmt_branches(ids: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``b0-b2 b5``: consecutive runs folded."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return " ".join(f"b{r[0]}" if len(r) == 1 else f"b{r[0]}-b{r[-1]}" for r in runs)


LISTED = 4  # a step touching at most this many branches lists each (`b3:21@2.95`); more get a tally


def fmt_answers(step: TraceStep, limit: int = LISTED) -> str:
    """Each branch's revealed answer, or a tally when there are many."""
    if len(step.branches) <= limit:
        confs = step.confidences or [None] * len(step.branches)  # `@c`: the branch's last_conf, when read
        return " ".join(f"b{b}:{fmt_value(a)}" + ("" if c is None else f"@{c:.2f}") + ("*" if f else "")
                        for b, a, f, c in zip(step.branches, step.answers, step.finished, confs))
    tally = Counter(fmt_value(a) for a in step.answers)
    text = " ".join(f"{a}×{n}" for a, n in tally.most_common(6))
    rest = len(tally) - 6
    done = sum(step.finished)
    return text + (f" +{rest} more" if rest > 0 else "") + (f" ({done} finished)" if done else "")


def fmt_state(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={fmt_value(v)}" for k, v in values.items())


# ---- timeline

def timeline_table(trace: Trace) -> Table:
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False, expand=False)
    for col, justify in (("#", "right"), ("round", "right"), ("line", "right"), ("action", "left"),
                         ("branches", "left"), ("revealed", "left"), ("spent", "right"), ("total", "right"),
                         ("signals | vars after", "left")):
        t.add_column(col, justify=justify, overflow="fold")
    rows: list[list[str]] = []
    idle_run, idle_key = 0, None  # steps in a row of one action that touched nothing (an empty set advanced
    # round after round): one row
    for s in trace.steps:
        spent = sum(s.tokens)
        condemned = fmt_state(s.fields) if s.action == "prune" else ""  # the branch variables that pruned them
        state = " | ".join(part for part in (condemned, fmt_state(s.signals), fmt_state(s.vars)) if part)
        row = [str(s.index), str(s.round), str(s.line), s.action, fmt_branches(s.branches), fmt_answers(s),
               f"{spent:,}", f"{s.tokens_so_far:,}", state]
        empty = not s.branches and spent == 0
        key = (s.round, s.line, s.action, state)
        if empty and idle_run and key == idle_key:
            idle_run += 1  # folded into one row: its first and last index, how many times, "nothing"
            first = rows[-1][0].split("–")[0]
            rows[-1][0], rows[-1][3] = f"{first}–{s.index}", f"{s.action} ×{idle_run}"
            continue
        idle_run, idle_key = (1, key) if empty else (0, None)
        if empty:
            row[5] = "nothing"
        rows.append(row)
    for row in rows:
        t.add_row(*row)
    return t


def outcome_line(trace: Trace) -> str:
    m = trace.summary
    verdict = "correct" if m.correct else "wrong"
    how = (f"stopped by line {m.stop_line}: `{m.stop_statement}`" if m.stop_reason == "stop"
           else "the program ran to its end")
    accepted = len({b for s in trace.steps if s.action == "accept" for b in s.branches})
    return (f"answer {fmt_value(m.answer)} ({verdict}; gold {fmt_value(m.gold)}) · {how} · {m.tokens:,} tokens "
            f"(sequential {m.sequential_tokens:,}) · {m.rounds} rounds · opened {m.opened}, pruned {m.pruned}"
            + (f", accepted {accepted}" if accepted else ""))


def header_line(trace: Trace) -> str:
    m = trace.summary
    params = " ".join(f"{k}={fmt_value(v)}" for k, v in m.params.items())
    return f"{m.strategy}{f' [{params}]' if params else ''} on {m.env or 'store'} · question {m.question} · seed {m.seed} · Δ={m.probe_freq}"


# ---- width × depth picture

def grid(trace: Trace) -> dict[int, list[str]]:
    """Glyph per (branch, round column): the branch's rows in opening order."""
    rounds = max([trace.summary.rounds] + [s.round for s in trace.steps])
    cells: dict[int, list[str]] = {}
    gone: dict[int, int] = {}  # branch -> column after which it is finished or pruned
    opened: dict[int, int] = {}
    delta = trace.summary.probe_freq
    for s in trace.steps:
        col = s.round - 1
        for b, spent, fin in zip(s.branches, s.tokens, s.finished):
            row = cells.setdefault(b, [" "] * rounds)
            if s.action in ("prune", "accept"):
                row[max(col, 0)] = PRUNED if s.action == "prune" else ACCEPTED
                gone[b] = col
                continue
            if s.action in ("open", "read"):
                opened[b] = col
                row[col] = FINISHED if fin else OPENED
            else:
                row[col] = FINISHED if fin else (BURST if spent > delta else ADVANCED)
            if fin:
                gone[b] = col
    for b, row in cells.items():  # idle: open, unfinished, unpruned, but not touched this round
        end = gone.get(b, rounds - 1)
        for c in range(opened.get(b, 0) + 1, end + 1):
            if row[c] == " ":
                row[c] = IDLE
    return dict(sorted(cells.items()))


def _ruler(start: int, width: int) -> str:
    """Column labels every 10 rounds: the number ends at its column."""
    chars = [" "] * width
    for c in range(width):
        r = start + c + 1
        if r % 10 == 0 or r == start + 1:
            label = str(r)
            pos = c - len(label) + 1 if r % 10 == 0 else c
            if pos >= 0 and all(ch == " " for ch in chars[max(0, pos - 1):pos + len(label)]):
                chars[pos:pos + len(label)] = label
    return "".join(chars).rstrip()


def branch_notes(trace: Trace) -> dict[int, str]:
    """What each branch ended as: its final answer, or where it was left."""
    last: dict[int, Any] = {}
    state: dict[int, str] = {}
    for s in trace.steps:
        for b, a, fin in zip(s.branches, s.answers, s.finished):
            last[b] = a
            if s.action == "prune":
                state[b] = "pruned"
            elif s.action == "accept":
                state[b] = "accepted"
            elif fin:
                state[b] = "final"
    out = {}
    for b, a in last.items():
        kind = state.get(b)
        out[b] = (f"{fmt_value(a)}" if kind == "final" else f"pruned at {fmt_value(a)}" if kind == "pruned"
                  else f"accepted at {fmt_value(a)}" if kind == "accepted" else f"left at {fmt_value(a)}")
    return out


def picture(trace: Trace, band: int = 100) -> str:
    """The width × depth chart as plain text, wrapped into bands of ``band`` rounds."""
    cells = grid(trace)
    notes = branch_notes(trace)
    rounds = len(next(iter(cells.values()))) if cells else 0
    label_w = max([len(f"b{b}") for b in cells] + [len("round")]) + 1
    lines = [f"width × depth: {len(cells)} branches × {rounds} rounds"]
    for start in range(0, max(rounds, 1), band):
        width = min(band, rounds - start)
        lines.append("round".ljust(label_w) + _ruler(start, width))
        for b, row in cells.items():
            tail = f"  {notes.get(b, '')}" if start + width >= rounds else ""
            lines.append(f"b{b}".ljust(label_w) + "".join(row[start:start + width]) + tail)
        if start + band < rounds:
            lines.append("")
    confidence = any(s.confidences and len(s.branches) <= LISTED for s in trace.steps)  # `@c` shown somewhere
    accepts = any(s.action == "accept" and s.branches for s in trace.steps)
    lines += [LEGEND + (ACCEPT_LEGEND if accepts else "")
              + ("  · revealed b:answer@c: c is the branch's last_conf" if confidence else ""),
              outcome_line(trace)]
    final = " | ".join(part for part in (fmt_state(trace.summary.signals), fmt_state(trace.summary.vars)) if part)
    if final:
        lines.append(f"at the end: {final}")
    return "\n".join(line.rstrip() for line in lines)


# ---- everything

def render(trace: Trace, console: Console) -> None:
    console.print(Text(header_line(trace), style="bold"))
    if trace.summary.knobs:
        console.print(Text("knobs: " + fmt_state(trace.summary.knobs), style="dim"))
    console.print(timeline_table(trace))
    console.print()
    console.print(Text(picture(trace)), soft_wrap=True)


def render_text(trace: Trace, width: int = 160) -> str:
    """The same as :func:`render`, as plain text (no colour codes)."""
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    with console.capture() as cap:
        render(trace, console)
    return "\n".join(line.rstrip() for line in cap.get().splitlines()) + "\n"
