"""`ttsc run STRATEGY`: run a strategy live on a generation backend, question by question.

Questions run in groups (``--batch-questions``): every branch of a group is
generated in the same backend calls. Each finished question's result is
appended (and flushed) to ``--out`` at once, so ``--resume`` after an
interruption, even ``kill -9``, redoes no finished question.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from ttsc.cli.loading import load_program, parse_sets, resolve_strategy
from ttsc.errors import TtscError

RESULT_KEYS = ("index", "question", "gold", "answer", "correct", "reasoning_tokens", "probe_tokens",
               "sequential_tokens", "prompt_tokens", "rounds", "opened", "pruned", "seconds")


def http_options(command):
    """--timeout, --retries, --concurrency: how a live command talks to an OpenAI-compatible server."""
    for option in reversed([
            click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds per HTTP request"),
            click.option("--retries", type=click.IntRange(0), default=4, show_default=True),
            click.option("--concurrency", type=click.IntRange(1), default=64, show_default=True,
                         help="most requests in flight at once")]):
        command = option(command)
    return command


@click.command("run")
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter (repeatable)")
@click.option("--backend", type=click.Choice(["openai", "vllm"]), required=True,
              help="openai: any OpenAI-compatible /v1/completions server; vllm: in-process vllm.LLM (GPU)")
@click.option("--model", required=True, help="model name (openai) or path/name to load (vllm)")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="server base URL, e.g. http://127.0.0.1:8000 (repeatable: questions are spread over them)")
@click.option("--question", "questions", multiple=True, metavar="TEXT", help="a question to answer (repeatable)")
@click.option("--answer", "answers", multiple=True, metavar="TEXT",
              help="the gold answer of the --question at the same position (optional)")
@click.option("--dataset", type=click.Path(dir_okay=False), help="JSONL: one {\"question\", \"answer\"?} per line")
@click.option("--engine", type=click.Choice(["batched", "interpret"]), default="batched", show_default=True,
              help="batched: all branches of a group in lock-step; interpret: the reference interpreter")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--interval", type=click.IntRange(1), default=500, show_default=True, help="Δ: tokens per interval")
@click.option("--max-branch-tokens", type=click.IntRange(1), default=32768, show_default=True)
@click.option("--max-branches", type=click.IntRange(1), default=64, show_default=True,
              help="most branches one question may open")
@click.option("--probe-suffix", default=None, help="answer-eliciting text appended to probe a branch")
@click.option("--probe-tokens", type=click.IntRange(1), default=16, show_default=True)
@click.option("--extractor", default="boxed", show_default=True, help="boxed, or regex:PATTERN")
@click.option("--template", default=None, help="prompt template containing {question}")
@click.option("--grader", type=click.Choice(["math", "exact"]), default="math", show_default=True)
@click.option("--logprobs", type=click.IntRange(0), default=None,
              help="top-k log-probabilities per token, for the `confidence` signal  [default: 20 when the "
                   "program reads last_conf, else 0]")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@http_options
@click.option("--batch-questions", type=click.IntRange(1), default=8, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="append one JSON line per question")
@click.option("--resume", is_flag=True, help="skip the questions already in --out")
@click.option("--traces", type=click.Path(file_okay=False), default=None,
              help="write every action of every question (JSONL) into this directory")
def command(strategy, sets, backend, model, base_urls, questions, answers, dataset, engine, seed, interval,
            max_branch_tokens, max_branches, probe_suffix, probe_tokens, extractor, template, grader, logprobs,
            temperature, top_p, timeout, retries, concurrency, batch_questions, fmt, out, resume, traces) -> None:
    """Run STRATEGY (a .tts file or a shipped strategy's name) live and report each question's answer."""
    from ttsc.runtime.live.env import DEFAULT_SUFFIX, DEFAULT_TEMPLATE, LiveConfig
    from ttsc.runtime.live.grade import grader as make_grader
    from ttsc.runtime.params import bind_params

    checked = load_program(resolve_strategy(strategy))
    params = bind_params(checked, parse_sets(sets))
    items = _items(questions, answers, dataset)
    config = LiveConfig(interval=interval, max_branch_tokens=max_branch_tokens, max_branches=max_branches,
                        probe_suffix=DEFAULT_SUFFIX if probe_suffix is None else probe_suffix,
                        probe_tokens=probe_tokens, template=template or DEFAULT_TEMPLATE, extractor=extractor,
                        logprobs=logprobs_for(checked, logprobs))
    grade = make_grader(grader)
    done: dict[int, dict] = {}
    if out is not None:
        done = _finished(Path(out), resume, checked.name, params)
    elif resume:
        raise TtscError("--resume needs --out")
    todo = [it for it in items if it[0] not in done]
    gen = _backend(backend, model, base_urls, temperature, top_p, timeout, retries, concurrency)
    results = list(done.values())
    try:
        for start in range(0, len(todo), batch_questions):
            group = todo[start:start + batch_questions]
            for rec in _run_group(checked, params, gen, group, seed, config, grade, engine, traces):
                rec = {"strategy": checked.name, "params": params, **rec}
                results.append(rec)
                if out is not None:
                    _append(Path(out), rec)
                if fmt == "table":
                    click.echo(_row(rec), err=True)
    finally:
        close = getattr(gen, "close", None)
        if close:
            close()
    results.sort(key=lambda r: r["index"])
    summary = _summary(results, gen)
    if fmt == "json":
        click.echo(json.dumps({"results": results, "summary": summary}, indent=2))
    else:
        click.echo(_table(results, summary))


def _items(questions, answers, dataset) -> list[tuple[int, str, str | None]]:
    if bool(questions) == bool(dataset):
        raise TtscError("give the questions with --question TEXT or --dataset FILE.jsonl (one of them)")
    if dataset is None:
        if len(answers) > len(questions):
            raise TtscError(f"{len(answers)} --answer for {len(questions)} --question")
        return [(i, q, answers[i] if i < len(answers) else None) for i, q in enumerate(questions)]
    items = []
    try:
        lines = Path(dataset).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TtscError(f"{dataset}: cannot read dataset: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise TtscError(f"{dataset}:{n}: not valid JSON: {e.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise TtscError(f"{dataset}:{n}: each line must be an object with a string \"question\"")
        gold = obj.get("answer")
        if gold is not None and not isinstance(gold, (str, int, float)):
            raise TtscError(f"{dataset}:{n}: \"answer\" must be a string or a number")
        items.append((len(items), obj["question"], None if gold is None else str(gold)))
    if not items:
        raise TtscError(f"{dataset}: no questions")
    return items


def _finished(path: Path, resume: bool, name: str, params: dict) -> dict[int, dict]:
    """The results already in ``path`` (with --resume); a torn last line from a killed run is dropped."""
    if not path.exists() or path.stat().st_size == 0:
        return {}
    if not resume:
        raise TtscError(f"{path} already holds results; pass --resume to continue it, or choose another --out")
    raw = path.read_bytes()
    keep = raw[:raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with path.open("r+b") as f:
            f.truncate(len(keep))
    done = {}
    for n, line in enumerate(keep.decode("utf-8").splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise TtscError(f"{path}:{n}: not a result line; cannot resume from it") from None
        if rec.get("strategy") != name or rec.get("params") != params:
            raise TtscError(f"{path}:{n}: results of {rec.get('strategy')} with {rec.get('params')}, "
                            f"not {name} with {params}; cannot resume them")
        done[rec["index"]] = rec
    return done


def _append(path: Path, rec: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


DEFAULT_LOGPROBS = 20  # what a program that reads `last_conf` asks for unless told (vLLM's default cap)


def logprobs_for(checked, asked: int | None) -> int:
    """Top-k log-probabilities to ask for: as asked, else enough for the `confidence` signal when the
    program reads it, else none (they cost the server time)."""
    if asked is not None:
        if asked == 0 and "confidence" in checked.signals:
            raise TtscError("this program reads last_conf (the `confidence` signal), which needs --logprobs > 0")
        return asked
    return DEFAULT_LOGPROBS if "confidence" in checked.signals else 0


def _backend(kind, model, base_urls, temperature, top_p, timeout, retries, concurrency):
    if kind == "openai":
        from ttsc.runtime.live.openai import OpenAIBackend
        return OpenAIBackend(list(base_urls), model, temperature=temperature, top_p=top_p, timeout=timeout,
                             retries=retries, concurrency=concurrency)
    if base_urls:
        raise TtscError("--base-url is for the openai backend; vllm runs in this process")
    from ttsc.runtime.live.vllm import VLLMBackend
    return VLLMBackend(model, temperature=temperature, top_p=top_p)


def _run_group(checked, params, backend, group, seed, config, grade, engine, traces) -> list[dict]:
    from ttsc.compiler.engines import run_env
    from ttsc.runtime.live.env import LiveEnvironment

    env = LiveEnvironment(backend, [q for _, q, _ in group], [g for _, _, g in group], (seed,), config,
                          grade=grade, question_ids=[i for i, _, _ in group])
    events: dict[int, list] = {}
    trace = None if traces is None else (lambda row, ev: events.setdefault(row, []).append(ev))
    start = time.perf_counter()
    outcome = run_env(checked, params, env, engine, trace)
    seconds = time.perf_counter() - start
    recs = []
    for qi, (index, text, gold) in enumerate(group):
        answer = outcome.answers[0, qi] or None
        recs.append({"index": index, "question": text, "gold": gold, "answer": answer,
                     "correct": None if gold is None else bool(outcome.correct[0, qi]),
                     "reasoning_tokens": int(outcome.tokens[0, qi]), "probe_tokens": int(env.usage.probe[qi]),
                     "sequential_tokens": int(outcome.sequential[0, qi]), "prompt_tokens": int(env.usage.prompt[qi]),
                     "rounds": int(outcome.rounds[0, qi]), "opened": int(outcome.opened[0, qi]),
                     "pruned": int(outcome.pruned[0, qi]), "seconds": round(seconds, 3)})
    if traces is not None:
        _write_traces(Path(traces), checked.name, group, events)
    return recs


def _write_traces(directory: Path, name: str, group, events) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / f"{name}.live.jsonl").open("a", encoding="utf-8") as f:
            for qi, (index, _, _) in enumerate(group):
                f.write(json.dumps({"index": index, "events": [
                    {"round": e.round, "line": e.line, "action": e.action, "branches": e.branches,
                     "answers": e.answers, "tokens": e.tokens, "finished": e.finished}
                    for e in events.get(qi, [])]}, ensure_ascii=False) + "\n")
    except OSError as e:
        raise TtscError(f"{directory}: cannot write traces: {e.strerror or e}") from None


def _summary(results: list[dict], backend) -> dict:
    n = len(results)
    graded = [r for r in results if r["correct"] is not None]
    mean = lambda k: (sum(r[k] for r in results) / n) if n else 0.0  # noqa: E731
    out = {"questions": n, "graded": len(graded),
           "accuracy": (100.0 * sum(r["correct"] for r in graded) / len(graded)) if graded else None,
           "avg_reasoning_tokens": mean("reasoning_tokens"), "avg_probe_tokens": mean("probe_tokens"),
           "avg_sequential_tokens": mean("sequential_tokens"),
           "reasoning_tokens": sum(r["reasoning_tokens"] for r in results),
           "probe_tokens": sum(r["probe_tokens"] for r in results)}
    faults = getattr(backend, "faults", None)
    if faults is not None:
        out["faults_survived"] = dict(faults.counts)
    return out


def _row(r: dict) -> str:
    mark = {True: "correct", False: "wrong", None: "ungraded"}[r["correct"]]
    return (f"[{r['index']}] answer {r['answer']!r} ({mark}); reasoning {r['reasoning_tokens']}, "
            f"probe {r['probe_tokens']}, sequential {r['sequential_tokens']} tokens; {r['seconds']:.1f}s")


def _table(results: list[dict], s: dict) -> str:
    head = f"{'#':>4}  {'answer':<16} {'correct':<8} {'reasoning':>9} {'probe':>6} {'sequential':>10} {'seconds':>8}"
    lines = [head]
    for r in results:
        ans = "-" if r["answer"] is None else str(r["answer"])
        ok = {True: "yes", False: "no", None: "-"}[r["correct"]]
        lines.append(f"{r['index']:>4}  {ans[:16]:<16} {ok:<8} {r['reasoning_tokens']:>9} {r['probe_tokens']:>6} "
                     f"{r['sequential_tokens']:>10} {r['seconds']:>8.2f}")
    acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.1f}% of {s['graded']}"
    lines.append(f"{s['questions']} questions; accuracy {acc}; mean tokens: reasoning {s['avg_reasoning_tokens']:.1f}, "
                 f"probe {s['avg_probe_tokens']:.1f}, sequential {s['avg_sequential_tokens']:.1f}")
    if s.get("faults_survived"):
        lines.append("faults survived: " + ", ".join(f"{k} {v}" for k, v in sorted(s["faults_survived"].items())))
    return "\n".join(lines)
