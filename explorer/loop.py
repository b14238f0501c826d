"""The discovery loop: propose, check, deduplicate, score on the search stores, record; resumable.

Determinism: candidate ``i`` draws from ``numpy.random.default_rng([seed, i])``
and sees only the records of earlier generations (a generation is
``Config.generation_size`` candidates proposed together), so a resumed run, or one with the same seed,
proposes the same texts in the same order.

The held-out wall: this module never receives held-out stores. ``explore``
gets them as paths and loads them in :mod:`ttsc.explorer.report` only after the
loop has ended.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ttsc.dsl.parser import parse
from ttsc.errors import TtscError
from ttsc.explorer import record, score as sc
from ttsc.explorer.program import KNOB, front_end, key_of, lift, walk
from ttsc.runtime.store import Store, load_stores

GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Config:
    search: tuple[str, ...]
    seed_text: str
    seed_name: str
    seed: int = 0
    seeds: int = 32
    grid: tuple[float, ...] = GRID
    workers: int = 1
    generation: int = 0  # candidates proposed together; 0: 1 for one worker, else GENERATION_PER_WORKER each
    score: str = "area"   # or "gamma": accuracy − γ·cost (see explorer/score.py)
    gamma: float = 0.0
    folds: int = 0        # question folds a best candidate must win on most of (0: none)
    size_penalty: float = sc.SIZE_PENALTY  # fitness points per AST node beyond the seed's

    @property
    def generation_size(self) -> int:
        """Several candidates per worker, handed out as workers free up: a worker that finishes a cheap
        candidate takes the next instead of waiting for another's native compile."""
        return self.generation or (1 if self.workers == 1 else GENERATION_PER_WORKER * self.workers)

    def header(self) -> dict:
        out = {"search": list(self.search), "seed_strategy": self.seed_name, "seed_text": self.seed_text,
               "seed": self.seed, "seeds": self.seeds, "grid": list(self.grid), "generation": self.generation_size}
        if self.score != "area":
            out.update(score=self.score, gamma=self.gamma)
        if self.folds:
            out["folds"] = self.folds
        if self.size_penalty != sc.SIZE_PENALTY:
            out["size_penalty"] = self.size_penalty
        return out


GENERATION_PER_WORKER = 4
# numba never frees a kernel's machine code (about 5 MB each), so a worker that compiled every new shape of a
# long search would grow without bound (150 MB a minute on 2 cores): a worker process is replaced once it has
# evaluated this many candidates, which bounds it near 0.5 GB for ~1 s of start-up (the kernels of known shapes
# load from the on-disk cache)
RECYCLE_EVALS = 100


def recorded_generation(out: Path) -> int:
    """The generation size a search in ``out`` was recorded with (0 when there is none): a resumed search
    keeps it, so it proposes exactly what an uninterrupted one would, with any number of workers."""
    try:
        return int(json.loads((out / "run.json").read_text(encoding="utf-8")).get("generation", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


@dataclass
class State:
    """What the search has learnt, rebuilt from the record alone."""

    records: list[dict] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    shapes: set[str] = field(default_factory=set)  # kernels the search has needed
    best: int = -1           # index of the best eligible record (-1: the seed)
    best_fitness: float = 0.0
    improved: int = 0
    _archive: list[dict] | None = None

    def archive(self) -> list[dict]:
        """The Pareto archive of the records (computed once until a record is added)."""
        if self._archive is None:
            self._archive = archive(self.records)
        return self._archive

    def add(self, rec: dict, n_stores: int) -> None:
        self._archive = None
        self.records.append(rec)
        if rec.get("key"):
            self.keys.add(rec["key"])
        if rec.get("shape"):
            self.shapes.add(rec["shape"])
        s = rec.get("score")
        if s and eligible(s, n_stores) and s["fitness"] > self.best_fitness:
            self.best, self.best_fitness = rec["index"], s["fitness"]
            self.improved += 1


QUARTER_LOSS = 0.25  # points: the most a best candidate may lose to the seed in any budget quarter


def eligible(s: dict, n_stores: int) -> bool:
    """May be selected as best: wins on most stores (per-model guard) and loses no budget quarter
    (a gain at low budgets may not pay for giving up the top of the range); with --folds, also wins
    on at least three quarters of the question folds."""
    folds = s.get("folds")
    if folds and sum(g > 0 for g in folds) * 4 < 3 * len(folds):
        return False
    return s["wins"] * 4 >= 3 * n_stores and min(s["segments"]) >= -QUARTER_LOSS


def archive(records: Sequence[dict]) -> list[dict]:
    """The Pareto set over (gain in each budget niche, −size): no member is beaten in every niche by a
    smaller-or-equal program. Niches keep it spread along the budget range."""
    scored = [r for r in records if r.get("score")]
    if not scored:
        return []
    vec = np.array([r["score"]["segments"] + [-r["size"] * sc.SIZE_PENALTY] for r in scored])
    out = []
    for i, r in enumerate(scored):  # one row against all at once: the search's records grow into thousands
        ge = np.all(vec >= vec[i], axis=1)
        gt = np.any(vec > vec[i], axis=1)
        if not np.any(ge & gt):
            out.append(r)
    return out


def choose_parents(rng: np.random.Generator, records: Sequence[dict], seed_text: str,
                   members_of: Callable[[Sequence[dict]], list[dict]] | None = None
                   ) -> tuple[tuple[int, str], tuple[int, str]]:
    """Tournament within a random budget niche over the archive (the seed counts as a member)."""
    members = [(-1, seed_text, [0.0] * sc.SEGMENTS)] + [(r["index"], r["source"], r["score"]["segments"])
                                                        for r in (members_of or archive)(records)]

    def pick() -> tuple[int, str]:
        niche = int(rng.integers(sc.SEGMENTS))
        a, b = (members[int(i)] for i in rng.integers(len(members), size=2))
        w = a if a[2][niche] >= b[2][niche] else b
        return w[0], w[1]
    return pick(), pick()


def shape_key(program) -> str:
    """What decides a candidate's kernel: its shape (constants lifted out), hashed."""
    return hashlib.sha256(lift(program).text.encode()).hexdigest()[:24]


def program_size(program) -> int:
    return sum(1 for _ in walk(program))


# ---- evaluation (in this process or a worker) -------------------------------

_worker: dict = {}


def _local_pool(cfg: Config) -> ProcessPoolExecutor:
    import multiprocessing as mp
    return ProcessPoolExecutor(cfg.workers, mp.get_context("fork"), initializer=_init_worker, initargs=(cfg.search,))


def _init_worker(paths: tuple[str, ...]) -> None:
    # Ctrl-C reaches the whole process group: the search process alone handles it (it stops its workers), so
    # a worker is not interrupted inside a numba compile. A worker whose search process died (kill -9)
    # exits on its own instead of lingering, adopted by init.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the search command's handler: a stopped pool ends it quietly
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _worker["stores"] = load_stores(paths)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _stop_workers(pool) -> None:
    """Stop a local pool at once: queued candidates are dropped, running evaluations killed (they are not
    recorded, so a resumed search evaluates them again)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for p in list((getattr(pool, "_processes", None) or {}).values()):  # no public terminate before 3.14
        p.terminate()
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        p.join(5)


def evaluate_text(text: str, seeds: int, grid: tuple[float, ...], stores: Sequence[Store] | None = None,
                  folds: int = 0) -> dict:
    """Score one valid candidate text on the search stores: the per-store, per-β settings and wall time
    (and with ``folds``, the settings on each question fold of each store)."""
    start, cpu = time.perf_counter(), time.process_time()
    program = parse(text)
    fold = {"k": folds, "settings": {}} if folds else None
    shape, stores = lift(program), stores if stores is not None else _worker["stores"]
    try:
        sc.check_signals(program.name, shape, stores)
    except TtscError as e:  # e.g. `last_conf` on stores without confidences: refused, not run
        return {"error": str(e), "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    try:
        per_store = sc.evaluate(shape, stores, range(seeds), grid, fold)
    except TtscError as e:  # a limit the knob's values break (e.g. a window of 0 at some β): refused, not run
        return {"error": f"refused when run on the β grid: {e}", "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu}
    out = {"settings": sc.settings_to_json(per_store), "seconds": time.perf_counter() - start,
           "cpu_seconds": time.process_time() - cpu}
    if fold:
        out["fold_settings"] = sc.settings_to_json(fold["settings"])
    return out


def _ray_evaluate(paths: tuple[str, ...], text: str, seeds: int, grid: tuple[float, ...], folds: int) -> dict:
    """One candidate evaluation as a Ray task: the task's process loads the search stores once."""
    if _worker.get("paths") != paths:
        _init_worker(paths)
        _worker["paths"] = paths
    return evaluate_text(text, seeds, grid, None, folds)


class RayPool:
    """The local worker pool's ``submit``/``shutdown``, as Ray tasks on a cluster (``--ray ADDRESS``).

    The same function evaluates the same text with the same seeds, so the scores are those of local
    workers; the search-store paths must be readable where the tasks run."""

    def __init__(self, address: str, paths: tuple[str, ...]):
        try:
            import ray
        except ImportError:
            raise TtscError("--ray needs Ray: pip install 'ttsc[ray]'") from None
        self.ray, self.paths = ray, paths
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False)
        self.task = ray.remote(max_calls=RECYCLE_EVALS)(_ray_evaluate)  # Ray replaces the worker process

    def submit(self, fn, text: str, seeds: int, grid: tuple[float, ...], _stores, folds: int = 0):
        ref = self.task.remote(self.paths, text, seeds, grid, folds)
        ray = self.ray

        class _Future:
            def result(self):
                return ray.get(ref)
        return _Future()

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass  # the cluster is not ours to stop


Proposer = Callable[[np.random.Generator, State, Config], tuple[str, tuple[int, ...], str]]


def evolve_proposer(evolve=None) -> Proposer:
    from ttsc.explorer.evolve import Evolve
    ev = evolve or Evolve()

    def propose(rng, state: State, cfg: Config):
        parent, other = choose_parents(rng, state.records, cfg.seed_text, lambda _: state.archive())
        p = ev.propose(rng, parent, other)
        return p.text, p.parents, p.mutation
    return propose


@dataclass
class Progress:
    tried: int = 0
    valid: int = 0
    improved: int = 0
    best: float = 0.0
    per_minute: float = 0.0      # candidates recorded per minute by this run (a resumed one: since it resumed)
    new_per_minute: float = 0.0  # of them, candidates of a new shape (a native compile each)
    tokens: int = 0  # proposer tokens (prompt + completion) in the whole record

    new_shapes: int = 0          # candidates of a new shape this run has recorded

    def rates(self, records: Sequence[dict], since: int, seconds: float) -> None:
        self.per_minute = (len(records) - since) / seconds * 60 if seconds > 0 else 0.0
        self.new_per_minute = self.new_shapes / seconds * 60 if seconds > 0 else 0.0


def proposer_tokens(records: Sequence[dict]) -> int:
    """Proposer tokens (prompt + completion, as the server's usage reported them) in the record."""
    return sum(sum((r.get("proposer_tokens") or {}).values()) for r in records)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def recorded_state(out: Path, n_stores: int) -> State:
    """The state a search in ``out`` has recorded so far."""
    state = State()
    for rec in record.load(out / "candidates.jsonl"):
        state.add(rec, n_stores)
    return state


def _stop(out: Path, reason: str, state: State, prog: "Progress", since: int, seconds: float) -> None:
    """Why the loop stopped and how fast this run went, beside the record (rewritten by every run; the
    record itself is untouched)."""
    prog.rates(state.records, since, seconds)
    (out / "stopped.json").write_text(json.dumps({
        "reason": reason, "candidates": len(state.records), "proposer_tokens": proposer_tokens(state.records),
        "this_run": {"candidates": len(state.records) - since, "seconds": round(seconds, 3),
                     "candidates_per_minute": round(prog.per_minute, 2),
                     "new_shapes_per_minute": round(prog.new_per_minute, 2)}}) + "\n")


def mark_interrupted(out: Path, during: str) -> None:
    """After the loop stopped (stopped.json says why), what came next was interrupted: say so, keeping why
    the search itself ended."""
    path = out / "stopped.json"
    if path.exists():
        data = json.loads(path.read_text())
        data.update(reason="interrupted", during=during, search_ended_by=data.get("reason"))
        path.write_text(json.dumps(data) + "\n")


def search(cfg: Config, out: Path, proposer: Proposer, *, resume: bool = False, budget_candidates: int | None = None,
           budget_seconds: float | None = None, on_progress: Callable[[Progress], None] | None = None,
           stores: Sequence[Store] | None = None, budget_tokens: int | None = None,
           ray_address: str | None = None, on_warning: Callable[[str], None] | None = None) -> State:
    """Run the loop until a budget is spent; returns the state rebuilt from (and extended in) the record.

    ``budget_tokens`` counts the proposer's tokens recorded with each candidate (a proposer with a
    ``tokens`` dict, like the llm one); the loop stops before the next proposal once the record holds that
    many (within a generation too), so ``--resume`` with a larger budget continues from there."""
    header_path, rec_path = out / "run.json", out / "candidates.jsonl"
    if resume and not header_path.exists():  # a mistyped --out would otherwise start a search silently
        raise TtscError(f"nothing to resume in {out}: no run.json; drop --resume to start a search")
    seed_front = front_end(cfg.seed_text, cfg.seed_name)
    if not seed_front.valid:  # before anything is written to ``out``
        raise TtscError(f"the seed strategy {cfg.seed_name} is not a valid candidate: "
                        + "; ".join(d.get("message", "") for d in seed_front.diagnostics))
    if header_path.exists():
        if not resume:
            raise TtscError(f"{out} already holds a search; pass --resume to continue it, or choose another --out")
        recorded, given = json.loads(header_path.read_text()), json.loads(json.dumps(cfg.header()))
        if recorded != given:
            # a setting at its default is left out of the header: show the default, not "null"
            defaults = {f.name: f.default for f in fields(Config)}
            diff = "; ".join(f"{k}: recorded {_short(recorded.get(k, defaults.get(k)))}, "
                             f"now {_short(given.get(k, defaults.get(k)))}"
                             for k in sorted(set(recorded) | set(given)) if recorded.get(k) != given.get(k))
            raise TtscError(f"{out} holds a search with other settings ({diff}; see {header_path}); --resume needs "
                            "the same: give the recorded values")
    preloaded = stores is not None
    stores = list(stores) if stores is not None else load_stores(cfg.search)
    few = min(stores, key=lambda st: len(st.questions), default=None)
    if cfg.folds and few is not None and len(few.questions) < cfg.folds:
        raise TtscError(f"--folds {cfg.folds}: every fold needs a question, and the search store {few.name} has "
                        f"{len(few.questions)}; use at most {len(few.questions)} folds")
    created = not header_path.exists()
    if created:  # only once every setting is known to be usable
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TtscError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
        header_path.write_text(json.dumps(cfg.header(), indent=2) + "\n")
    seed_program = parse(cfg.seed_text)
    seed_size = program_size(seed_program)
    try:
        seed_settings = _seed_settings(cfg, out, stores)
    except TtscError:  # the seed cannot run on these stores: leave no search behind that --resume would find
        if created:
            header_path.unlink()
        raise
    if on_warning and all(len(set(row)) == 1 for row in seed_settings.values()):
        on_warning(f"{KNOB} changes nothing in the seed strategy {cfg.seed_name} on the search stores: its "
                   "frontier is one point, so every candidate is scored against that one setting")
    seed_folds = _seed_fold_settings(cfg, out, stores) if cfg.folds else None

    state = State()
    for rec in record.load(rec_path):
        state.add(rec, len(stores))
    pool, pool_evals = None, 0
    if ray_address is not None:
        pool = RayPool(ray_address, cfg.search)
    elif cfg.workers > 1 or not preloaded:  # in-process only for stores handed in (they may not be files)
        pool = _local_pool(cfg)
    start = time.monotonic()
    started_with = len(state.records)
    prog = Progress()
    try:
        while True:
            n = len(state.records)
            if budget_candidates is not None and n >= budget_candidates:
                _stop(out, "budget-candidates", state, prog, started_with, time.monotonic() - start)
                break
            if budget_seconds is not None and time.monotonic() - start >= budget_seconds:
                _stop(out, "budget-seconds", state, prog, started_with, time.monotonic() - start)
                break
            if budget_tokens is not None and proposer_tokens(state.records) >= budget_tokens:
                _stop(out, "budget-tokens", state, prog, started_with, time.monotonic() - start)
                break
            size = cfg.generation_size
            gen = n - n % size                 # the generation this candidate belongs to
            frozen = State()
            for rec in state.records[:gen]:
                frozen.add(rec, len(stores))
            todo = list(range(n, gen + size))
            if budget_candidates is not None:
                todo = [i for i in todo if i < budget_candidates]
            # propose the rest of the generation from the frozen state; the candidates of this generation
            # already recorded (a resumed search) count as proposed, without asking the proposer again
            proposals = {}
            seen = set(frozen.keys)
            shapes = set(frozen.shapes) | {shape_key(seed_program)}
            for rec in state.records[gen:n]:
                if rec.get("key"):
                    seen.add(rec["key"])
                if rec.get("shape"):
                    shapes.add(rec["shape"])
            spent_here = 0
            for i in todo:
                if getattr(proposer, "gave_up", None):  # the proposer cannot go on: record what it gave
                    break
                if budget_tokens is not None and proposer_tokens(state.records) + spent_here >= budget_tokens:
                    break  # a paid proposer stops within a generation, not after it
                t0 = time.perf_counter()
                spent = dict(getattr(proposer, "tokens", None) or {})
                text, parents, mutation = proposer(np.random.default_rng([cfg.seed, i]), frozen, cfg)
                fe = front_end(text)
                diagnostics = fe.diagnostics if text.strip() else [  # no program at all: say why, not "empty"
                    {"code": "X0003", "message": f"the proposer gave no program ({mutation})"}]
                rec = {"index": i, "source": text, "parents": list(parents), "mutation": mutation,
                       "diagnostics": diagnostics, "status": "invalid", "key": None, "size": None,
                       "score": None, "settings": None}
                if fe.valid:
                    key = key_of(fe.checked.program)
                    rec.update(key=key, size=program_size(fe.checked.program))
                    rec["status"] = "duplicate" if key in seen or key == _seed_key(cfg) else "run"
                    seen.add(key)
                    if rec["status"] == "run":  # its kernel: a new shape costs a native compile
                        rec["shape"] = shape_key(fe.checked.program)
                        rec["new_shape"] = rec["shape"] not in shapes
                        shapes.add(rec["shape"])
                rec["propose_seconds"] = time.perf_counter() - t0
                if getattr(proposer, "tokens", None) is not None:
                    rec["proposer_tokens"] = {k: v - spent.get(k, 0) for k, v in proposer.tokens.items()}
                    spent_here += sum(rec["proposer_tokens"].values())
                proposals[i] = rec
            todo = [i for i in todo if i in proposals]
            jobs = {i: proposals[i] for i in todo if proposals[i]["status"] == "run"}
            if pool is not None:
                # candidates of a shape no worker has compiled yet go first, so the cheap ones fill the gaps
                order = sorted(jobs, key=lambda i: (not jobs[i]["new_shape"], i))
                futures = {i: pool.submit(evaluate_text, jobs[i]["source"], cfg.seeds, cfg.grid, None, cfg.folds)
                           for i in order}
                results = {i: f.result() for i, f in futures.items()}
                pool_evals += len(futures)
                if isinstance(pool, ProcessPoolExecutor) and pool_evals >= RECYCLE_EVALS * cfg.workers:
                    pool.shutdown()  # idle between generations: new processes, the old ones' kernels freed
                    pool, pool_evals = _local_pool(cfg), 0
            else:
                results = {i: evaluate_text(r["source"], cfg.seeds, cfg.grid, stores, cfg.folds) for i, r in jobs.items()}
            for i in todo:
                rec = proposals[i]
                if i in results and "error" in results[i]:
                    res = results[i]
                    rec.update(status="invalid", diagnostics=[{"code": "X0002", "message": res["error"]}],
                               eval_seconds=res["seconds"], eval_cpu_seconds=res["cpu_seconds"])
                elif i in results:
                    res = results[i]
                    per_store = sc.settings_from_json(res["settings"])
                    s = sc.score(per_store, seed_settings, rec["size"], seed_size, cfg.score, cfg.gamma,
                                 sc.settings_from_json(res.get("fold_settings", {})), seed_folds, cfg.folds,
                                 cfg.size_penalty)
                    rec.update(status="scored", settings=res["settings"], score=s.to_json(),
                               eval_seconds=res["seconds"], eval_cpu_seconds=res["cpu_seconds"])
                    if cfg.folds:
                        rec["fold_settings"] = res["fold_settings"]
                    rec["status"] = "scored"
                rec["wall_seconds"] = rec["propose_seconds"] + rec.get("eval_seconds", 0.0)
                record.append(rec_path, rec)
                state.add(rec, len(stores))
                prog.tried = len(state.records)
                prog.valid = sum(r["status"] in ("scored", "duplicate") for r in state.records)
                prog.improved = state.improved
                prog.best = state.best_fitness
                prog.tokens = proposer_tokens(state.records)
                prog.new_shapes += bool(rec.get("new_shape"))
                prog.rates(state.records, started_with, time.monotonic() - start)
                if on_progress:
                    on_progress(prog)
            failure = getattr(proposer, "gave_up", None)
            if failure:
                _stop(out, "proposer-failed", state, prog, started_with, time.monotonic() - start)
                raise TtscError(failure)
    except BrokenProcessPool:  # a worker died outside our control (the out-of-memory killer, a kill -9)
        _stop(out, "worker-died", recorded_state(out, len(stores)), prog, started_with, time.monotonic() - start)
        _stop_workers(pool)
        pool = None
        raise TtscError("an evaluation worker process died (killed from outside, or out of memory); the record "
                        "is whole up to the last candidate it holds: continue with --resume") from None
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM turned into one by the command: the record is whole
        # (it may hold one candidate more than ``state`` if the signal came between the two)
        _stop(out, "interrupted", recorded_state(out, len(stores)), prog, started_with, time.monotonic() - start)
        if isinstance(pool, ProcessPoolExecutor):
            _stop_workers(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return state


_seed_keys: dict[str, str] = {}


def _seed_key(cfg: Config) -> str:
    if cfg.seed_text not in _seed_keys:
        _seed_keys[cfg.seed_text] = key_of(parse(cfg.seed_text))
    return _seed_keys[cfg.seed_text]


def _seed_fold_settings(cfg: Config, out: Path, stores: Sequence[Store]) -> dict[str, list[sc.Setting]]:
    """The seed's settings on each question fold (cached beside seed_settings.json)."""
    path = out / "seed_fold_settings.json"
    if not path.exists():
        res = evaluate_text(cfg.seed_text, cfg.seeds, cfg.grid, stores, cfg.folds)
        path.write_text(json.dumps(res["fold_settings"]) + "\n")
    return sc.settings_from_json(json.loads(path.read_text()))


def _seed_settings(cfg: Config, out: Path, stores: Sequence[Store]) -> dict[str, list[sc.Setting]]:
    """The seed's frontier on the search set (cached in the output folder: it is the same every time)."""
    path = out / "seed_settings.json"
    if path.exists():
        return sc.settings_from_json(json.loads(path.read_text()))
    res = evaluate_text(cfg.seed_text, cfg.seeds, cfg.grid, stores)
    if "error" in res:
        raise TtscError(f"the seed strategy {cfg.seed_name} cannot be explored on the search stores: {res['error']}")
    path.write_text(json.dumps(res["settings"]) + "\n")
    return sc.settings_from_json(res["settings"])
