"""The end of a search: best.tts, the Pareto set, the search-set plot, and the held-out report.

The held-out stores are loaded here, once per finished leg of a search, after
its loop has ended; nothing computed here flows back into a search.
"""

from __future__ import annotations

import difflib
import json
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from ttsc.compiler.engines import run
from ttsc.dsl.parser import parse
from ttsc.explorer import score as sc
from ttsc.explorer.loop import Config, State, archive
from ttsc.explorer.program import KNOB, canonical, front_end
from ttsc.insight import frontier as fr
from ttsc.insight import stats
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_stores

HOLDOUT_GRID = tuple(round(0.1 * i, 1) for i in range(11))
MATCH_GRID = tuple(round(0.02 * i, 2) for i in range(51))  # the seed's β at which tokens are matched


def lineage(records: Sequence[dict], index: int) -> list[str]:
    out = []
    while index >= 0:
        rec = records[index]
        out.append(f"#{index}: {rec['mutation']}")
        index = rec["parents"][0]
    return out[::-1]


def best_text(cfg: Config, state: State) -> str:
    if state.best < 0:
        return (f"# `ttsc explore` found no candidate that beats {cfg.seed_name} on the search set "
                f"(search seed {cfg.seed}); this is {cfg.seed_name} unchanged.\n" + cfg.seed_text)
    rec = state.records[state.best]
    program = parse(rec["source"])
    program = program.model_copy(update={"name": f"{cfg.seed_name}_explored"})
    body = canonical(program)
    seed_lines = canonical(parse(cfg.seed_text)).splitlines()
    diff = [l for l in difflib.unified_diff(seed_lines, canonical(program.model_copy(update={"name": parse(cfg.seed_text).name})).splitlines(), lineterm="", n=0)
            if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    s = rec["score"]
    head = [f"# Found by `ttsc explore` from {cfg.seed_name} (candidate #{state.best}, search seed {cfg.seed}).",
            f"# Search-set gain over {cfg.seed_name}: {s['gain']:+.2f} points (frontier area, wins on "
            f"{s['wins']} of {len(s['per_store'])} stores).",
            "# Lineage:"] + [f"#   {l}" for l in lineage(state.records, state.best)]
    head += ["# Changed against the seed:"] + [f"#   {l}" for l in diff[:40]]
    return "\n".join(head) + "\n" + body


def search_points(name: str, settings: dict[str, list[sc.Setting]], grid: Sequence[float]) -> list[fr.Point]:
    pts = [fr.Point(name, env, {KNOB: b}, s.accuracy, s.avg_tokens, 0.0)
           for env, row in settings.items() for b, s in zip(grid, row)]
    pts += [fr.Point(name, fr.AVERAGE, {KNOB: b}, s.accuracy, s.avg_tokens, 0.0)
            for b, s in zip(grid, sc.average(settings))]
    return pts


def write_search_outputs(cfg: Config, state: State, out: Path, seed_settings) -> Path:
    text = best_text(cfg, state)
    (out / "best.tts").write_text(text, encoding="utf-8")
    members = [{"index": r["index"], "gain": r["score"]["gain"], "segments": r["score"]["segments"],
                "wins": r["score"]["wins"], "size": r["size"], "mutation": r["mutation"], "source": r["source"]}
               for r in archive(state.records)]
    (out / "pareto.json").write_text(json.dumps(members, indent=2) + "\n")
    points = search_points(cfg.seed_name, seed_settings, cfg.grid)
    if state.best >= 0:
        points += search_points(f"{cfg.seed_name}_explored",
                                sc.settings_from_json(state.records[state.best]["settings"]), cfg.grid)
    from ttsc.insight.plot import plot_frontier
    plot_frontier(_marked(points), out / "search_frontier", title="Search set: accuracy vs. tokens", ci=False)
    return out / "best.tts"


def _marked(points: list[fr.Point]) -> list[fr.Point]:
    """Pareto marks within each panel (store)."""
    envs = list(dict.fromkeys(p.env for p in points))
    return [q for env in envs for q in fr.mark_pareto([p for p in points if p.env == env])]


def _concat(outcomes: Sequence[Outcome]) -> Outcome:
    """Several stores' outcomes side by side: questions of every store, the same seeds."""
    cat = lambda a: np.concatenate([getattr(o, a) for o in outcomes], axis=1)
    return Outcome(outcomes[0].seeds, cat("answers"), cat("correct"), cat("tokens"), cat("sequential"), cat("rounds"),
                   cat("opened"), cat("pruned"), cat("stop_line"), sum(o.seconds for o in outcomes))


HOLDOUT_FILES = ("holdout.md", "holdout.json")  # and holdout_frontier.* (the plot's formats)


def _numbered(path: Path) -> int | None:
    """k for an earlier leg's held-out file (holdout.k.md, holdout_frontier.k.png, …), else None."""
    parts = path.name.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[0] in ("holdout", "holdout_frontier") and \
        parts[1].isdigit() else None


def keep_earlier_holdout(out: Path) -> int:
    """Before a held-out report is written, move the one of an earlier leg (a search continued with
    --resume ends every leg with one) to numbered names, holdout.1.md, holdout.1.json,
    holdout_frontier.1.png, …, so every leg's report stays. Returns the number of the one to write."""
    earlier = {k for p in out.glob("holdout*") if (k := _numbered(p)) is not None}
    current = [p for p in out.glob("holdout*") if p.name in HOLDOUT_FILES or
               (p.name.startswith("holdout_frontier.") and p.name.count(".") == 1)]
    if current:
        k = max(earlier, default=0) + 1
        for p in current:
            stem, ext = p.name.split(".")
            p.replace(out / f"{stem}.{k}.{ext}")
        earlier.add(k)
    return max(earlier, default=0) + 1


def evaluation_note(evaluation: int) -> str:
    """How a held-out report says which of this search's held-out evaluations it is."""
    if evaluation == 1:
        return "evaluated once per finished leg; this is evaluation 1"
    earlier = [f"holdout.{k}.md" for k in range(1, evaluation)]
    which = f"the earlier one is {earlier[0]}" if len(earlier) == 1 else \
        f"the earlier ones are {', '.join(earlier[:-1])} and {earlier[-1]}"
    return f"evaluated once per finished leg; this is evaluation {evaluation}; {which}"


def holdout_report(cfg: Config, best: str, holdout: Sequence[str], out: Path, seeds: int = 100,
                   baselines: Sequence[str] = ("sc", "asc", "esc", "parallel_probe"),
                   candidate: int | None = None, against: Sequence[tuple[str, str]] = ()) -> dict:
    """Evaluate the selection once on the held-out stores, beside the seed and the shipped strategies
    (an earlier leg's report is kept under numbered names, see keep_earlier_holdout). ``against``:
    further (name, text) strategies with the same knob that the selection is compared with, as with
    the seed (``ttsc explore --baseline``)."""
    stores = load_stores(holdout)
    seed = front_end(cfg.seed_text, cfg.seed_name).checked
    chosen = front_end(best, "best.tts").checked

    def sweep(checked, grid):
        return {b: [run(checked, bind_params(checked, {KNOB: b}), s, range(seeds), "compiled") for s in stores]
                for b in grid}
    mine = sweep(chosen, HOLDOUT_GRID)
    cat_ref = _reference(sweep(seed, sorted(set(MATCH_GRID) | set(HOLDOUT_GRID))))
    rows = _matched(mine, cat_ref)
    others = {}
    for name, text in against:
        ref = _reference(sweep(front_end(text, name, explorer_rules=False).checked, sorted(set(MATCH_GRID) | set(HOLDOUT_GRID))))
        others[name] = {"best": _matched(mine, ref),
                        "curve": [{"beta": b, "accuracy": ref[b].accuracy, "avg_tokens": ref[b].avg_tokens}
                                  for b in HOLDOUT_GRID]}
    shipped = {}
    for name in baselines:
        path = resources.files("ttsc.strategies") / f"{name}.tts"
        checked = front_end(path.read_text(encoding="utf-8"), name, explorer_rules=False).checked
        if checked is None:
            continue
        outs = [run(checked, bind_params(checked), s, range(seeds), "compiled") for s in stores]
        a = _concat(outs)
        shipped[name] = {"accuracy": a.accuracy, "avg_tokens": a.avg_tokens}
    seed_rows = [{"beta": b, "accuracy": cat_ref[b].accuracy, "avg_tokens": cat_ref[b].avg_tokens}
                 for b in HOLDOUT_GRID]
    report = {"candidate": candidate, "stores": [s.name for s in stores], "seeds": seeds,
              "evaluation": keep_earlier_holdout(out),
              "best": rows, "seed": seed_rows, "shipped": shipped, "against": others}
    (out / "holdout.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "holdout.md").write_text(render(report, cfg.seed_name))
    pts = [fr.Point(cfg.seed_name, "held-out", {KNOB: r["beta"]}, r["accuracy"], r["avg_tokens"], 0.0) for r in seed_rows]
    pts += [fr.Point(f"{cfg.seed_name}_explored", "held-out", {KNOB: r["beta"]}, r["accuracy"], r["avg_tokens"], 0.0)
            for r in rows]
    pts += [fr.Point(n, "held-out", {}, v["accuracy"], v["avg_tokens"], 0.0) for n, v in shipped.items()]
    pts += [fr.Point(n, "held-out", {KNOB: r["beta"]}, r["accuracy"], r["avg_tokens"], 0.0)
            for n, o in others.items() for r in o["curve"]]
    from ttsc.insight.plot import plot_frontier
    plot_frontier(_marked(pts), out / "holdout_frontier", title="Held-out: accuracy vs. tokens", ci=False)
    return report


def _reference(sweep: dict) -> dict:
    return {b: _concat(v) for b, v in sweep.items()}


def _matched(mine: dict, cat_ref: dict) -> list[dict]:
    """Each setting of the selection against the reference's cheapest β spending at least as many tokens
    (a conservative match; its dearest when none does), paired over the same episodes."""
    rows = []
    for b, outs in mine.items():
        a = _concat(outs)
        richer = [rb for rb, o in cat_ref.items() if o.avg_tokens >= a.avg_tokens]
        rb = min(richer, key=lambda x: cat_ref[x].avg_tokens) if richer else max(cat_ref, key=lambda x: cat_ref[x].avg_tokens)
        c = stats.compare(a, cat_ref[rb])
        rows.append({"beta": b, "accuracy": a.accuracy, "avg_tokens": a.avg_tokens, "seed_beta": rb,
                     "seed_accuracy": cat_ref[rb].accuracy, "seed_avg_tokens": cat_ref[rb].avg_tokens,
                     "diff": c.accuracy.estimate, "ci": [c.accuracy.low, c.accuracy.high],
                     "excludes_zero": c.accuracy.excludes_zero(), "reference_spends_less": not richer})
    return rows


def _table(rows: list[dict], ref: str) -> list[str]:
    lines = [f"| β | accuracy % | tokens/question | {ref} β (≥ tokens) | {ref} accuracy % | "
             f"{ref} tokens | difference (points) | paired 95% CI |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        mark = " †" if r.get("reference_spends_less") else " *" if r["excludes_zero"] else ""
        lines.append(f"| {r['beta']:g} | {r['accuracy']:.2f} | {r['avg_tokens']:,.0f} | {r['seed_beta']:g} | "
                     f"{r['seed_accuracy']:.2f} | {r['seed_avg_tokens']:,.0f} | {r['diff']:+.2f} | "
                     f"[{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}]{mark} |")
    return lines


def render(report: dict, seed_name: str) -> str:
    n = len(report["stores"])
    which = f" of candidate #{report['candidate']}" if report.get("candidate") is not None else ""
    lines = [f"# Held-out report{which} ({n} store{'s' if n != 1 else ''}, {report['seeds']} seed{'s' if report['seeds'] != 1 else ''}, "
             f"{evaluation_note(report.get('evaluation', 1))})", ""]
    lines += _table(report["best"], seed_name)
    for name, o in report.get("against", {}).items():
        lines += ["", f"Against {name} (`--baseline`), matched the same way:", ""] + _table(o["best"], name)
    lines += ["", "`*`: the paired bootstrap interval (over questions) excludes 0."]
    tables = [report["best"]] + [o["best"] for o in report.get("against", {}).values()]
    if any(r.get("reference_spends_less") for rows in tables for r in rows):
        lines += ["`†`: no setting of the reference spends this many tokens; the row compares with its dearest, "
                  "so it is not a match at equal tokens."]
    lines += ["",
              "| shipped strategy (defaults) | accuracy % | tokens/question |", "|---|---:|---:|"]
    lines += [f"| {n} | {v['accuracy']:.2f} | {v['avg_tokens']:,.0f} |" for n, v in report["shipped"].items()]
    lines += [f"| {seed_name} β={r['beta']:g} | {r['accuracy']:.2f} | {r['avg_tokens']:,.0f} |" for r in report["seed"]]
    for name, o in report.get("against", {}).items():
        lines += [f"| {name} β={r['beta']:g} | {r['accuracy']:.2f} | {r['avg_tokens']:,.0f} |" for r in o["curve"]]
    return "\n".join(lines) + "\n"
