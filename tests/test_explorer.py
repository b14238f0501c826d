"""The explorer: exact scores, deduplication, the held-out wall, determinism, resume after a kill."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import synthetic_store_path
from ttsc.cli.loading import resolve_strategy
from ttsc.compiler.engines import run
from ttsc.dsl.parser import parse
from ttsc.explorer import loop, report
from ttsc.explorer import score as sc
from ttsc.explorer.evolve import Evolve
from ttsc.explorer.program import canonical, front_end, key_of, lift
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store, load_stores

CMC = Path(str(resolve_strategy("cmc"))).read_text(encoding="utf-8")
STORE = str(synthetic_store_path())
SEEDS = 4
GRID = (0.0, 0.5, 1.0)


class ConstantsOnly(Evolve):
    """Mutations that keep CMC's shape: one kernel for the whole test run (compiles are slow)."""

    OPERATORS = (("perturb_constant", 3), ("perturb_schedule", 3), ("swap_comparison", 1))


def cfg(seed: int = 0, workers: int = 1) -> loop.Config:
    return loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seed=seed, seeds=SEEDS, grid=GRID,
                       workers=workers)


def strip_times(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in records]


def search(out: Path, n: int, seed: int = 0, proposer=None, **kw) -> loop.State:
    return loop.search(cfg(seed), out, proposer or loop.evolve_proposer(ConstantsOnly()), budget_candidates=n, **kw)


def test_lifted_shape_runs_exactly_like_the_program():
    checked = front_end(CMC).checked
    shape = lift(checked.program)
    store = load_store(STORE)
    for beta in (0.0, 0.37, 1.0):
        a = run(checked, bind_params(checked, {"beta": beta}), store, range(SEEDS), "compiled")
        b = run(loop.shape_program(shape) if hasattr(loop, "shape_program") else __import__(
            "ttsc.explorer.program", fromlist=["shape_program"]).shape_program(shape),
            {**shape.values, "beta": beta}, store, range(SEEDS), "compiled")
        assert a.accuracy == b.accuracy and a.avg_tokens == b.avg_tokens
        assert (a.correct == b.correct).all() and (a.tokens == b.tokens).all()


def test_archive_scores_equal_ttsc_eval(tmp_path):
    """A sample of scored candidates, re-run unlifted as `ttsc eval` runs them: identical numbers."""
    state = search(tmp_path, 8)
    scored = [r for r in state.records if r["status"] == "scored"]
    assert len(scored) >= 4
    store = load_store(STORE)
    for rec in scored[:4]:
        checked = front_end(rec["source"]).checked
        for beta, (acc, tok) in zip(GRID, rec["settings"][store.name]):
            o = run(checked, bind_params(checked, {"beta": beta}), store, range(SEEDS), "compiled")
            assert (o.accuracy, o.avg_tokens) == (acc, tok)


def test_invalid_and_duplicate_candidates_are_recorded_not_run(tmp_path):
    texts = iter(["strategy x\nparam beta: float = 0.5\nstop majority(nothing)\n",  # refused by the checker
                  CMC,                                                                # the seed itself
                  CMC.replace("0.85 + 0.12", "0.86 + 0.12"),                         # new
                  CMC.replace("0.85 + 0.12", "0.86 + 0.12") + "\n# same program, other text\n"])
    state = loop.search(cfg(), tmp_path, lambda rng, st, c: (next(texts), (-1,), "scripted"), budget_candidates=4)
    status = [r["status"] for r in state.records]
    assert status == ["invalid", "duplicate", "scored", "duplicate"]
    assert state.records[0]["diagnostics"] and state.records[0]["settings"] is None
    assert state.records[1]["settings"] is None and state.records[3]["settings"] is None


def test_same_seed_same_search_other_seed_other_search(tmp_path):
    a = strip_times(search(tmp_path / "a", 6, seed=3).records)
    b = strip_times(search(tmp_path / "b", 6, seed=3).records)
    c = strip_times(search(tmp_path / "c", 6, seed=4).records)
    assert a == b
    assert [r["source"] for r in a] != [r["source"] for r in c]


def test_resume_after_a_cut_at_several_points_ends_where_an_uninterrupted_run_does(tmp_path):
    whole = strip_times(search(tmp_path / "whole", 7, seed=1).records)
    lines = (tmp_path / "whole" / "candidates.jsonl").read_bytes().splitlines(keepends=True)
    for cut in (0, 2, 5):
        out = tmp_path / f"cut{cut}"
        search(out, cut, seed=1)
        # a kill in the middle of writing the next line leaves a partial line behind
        with open(out / "candidates.jsonl", "ab") as f:
            f.write(lines[cut][: len(lines[cut]) // 2])
        resumed = search(out, 7, seed=1, resume=True)
        assert strip_times(resumed.records) == whole
        assert strip_times([json.loads(l) for l in (out / "candidates.jsonl").read_text().splitlines()]) == whole


def test_resume_keeps_the_recorded_generation_size_whatever_the_workers(tmp_path):
    def config(generation: int) -> loop.Config:
        return loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seed=3, seeds=SEEDS, grid=GRID,
                           workers=1, generation=generation)

    proposer = lambda: loop.evolve_proposer(ConstantsOnly())
    whole = loop.search(config(3), tmp_path / "whole", proposer(), budget_candidates=7)
    assert loop.recorded_generation(tmp_path / "cut") == 0  # no search there yet
    loop.search(config(3), tmp_path / "cut", proposer(), budget_candidates=4)
    assert loop.recorded_generation(tmp_path / "cut") == 3
    resumed = loop.search(config(loop.recorded_generation(tmp_path / "cut")), tmp_path / "cut", proposer(),
                          resume=True, budget_candidates=7)
    assert strip_times(resumed.records) == strip_times(whole.records)


def test_resume_needs_the_flag_and_the_same_settings(tmp_path):
    from ttsc.errors import TtscError
    search(tmp_path, 1)
    with pytest.raises(TtscError, match="--resume"):
        search(tmp_path, 2)
    with pytest.raises(TtscError, match=r"other settings \(seed: recorded 0, now 9; see .*run\.json\)"):
        loop.search(cfg(seed=9), tmp_path, loop.evolve_proposer(ConstantsOnly()), resume=True, budget_candidates=2)
    # --resume where no search was recorded (a mistyped --out) is refused, not a new search
    with pytest.raises(TtscError, match=r"^nothing to resume in .*empty: no run\.json; drop --resume to start a search$"):
        search(tmp_path / "empty", 2, resume=True)
    assert not (tmp_path / "empty").exists()


def test_kill_9_then_resume_with_the_cli(tmp_path):
    args = [sys.executable, "-m", "ttsc.cli.main", "explore", "--search", STORE, "--out", str(tmp_path / "k"),
            "--seed", "5", "--search-seeds", str(SEEDS), "--budget-candidates", "12", "-q"]
    env = {**os.environ, "TTSC_THREADS": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec = tmp_path / "k" / "candidates.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not rec.exists() or rec.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = rec.read_text().count("\n")
    assert 3 <= killed_at < 12
    subprocess.run(args + ["--resume"], env=env, check=True, stdout=subprocess.DEVNULL)
    whole = subprocess.run(args[:7] + [str(tmp_path / "u")] + args[8:], env=env, check=True, capture_output=True,
                           text=True)
    assert "this run: 12 candidates in " in whole.stdout and " per minute of a new shape)" in whole.stdout
    assert re.search(r"best #\d+: search gain [+-]\d+\.\d\d points \([+-]\d+\.\d\d after the size penalty\)|"
                     r"no candidate beat cmc", whole.stdout), whole.stdout
    read = lambda p: strip_times([json.loads(l) for l in p.read_text().splitlines()])
    assert read(rec) == read(tmp_path / "u" / "candidates.jsonl")
    assert len(read(rec)) == 12
    best = (tmp_path / "k" / "best.tts").read_text()
    assert front_end(best).valid


def test_held_out_wall(tmp_path, monkeypatch):
    """No proposer call sees anything of the held-out stores, and they are read only after the search."""
    events: list[str] = []
    seen: list[str] = []
    inner = loop.evolve_proposer(ConstantsOnly())

    def spy(rng, state, c):
        events.append("propose")
        seen.append(json.dumps([state.records, c.header()], default=str))
        return inner(rng, state, c)

    real_load = report.load_stores

    def guarded(paths):
        events.append("holdout")
        return real_load(paths)

    import ttsc.runtime.store as store_mod
    held = tmp_path / "held.json"
    held.write_bytes(Path(STORE).read_bytes())
    real_store_load = store_mod.load_store

    def tripwire(path, name=None):
        if Path(path) == held and "holdout" not in events:
            raise AssertionError("a held-out store was read before the search ended")
        return real_store_load(path, name)

    monkeypatch.setattr(report, "load_stores", guarded)
    monkeypatch.setattr(store_mod, "load_store", tripwire)
    state = loop.search(cfg(), tmp_path / "o", spy, budget_candidates=5)
    rep = report.holdout_report(cfg(), CMC, [str(held)], tmp_path / "o", seeds=SEEDS, baselines=())
    assert events.count("propose") == 5 and events[-1] == "holdout"
    assert all("held" not in s for s in seen)
    assert rep["best"] and all(r["diff"] == 0.0 for r in rep["best"])  # the seed against itself


def test_envelope_score_counts_only_accuracy_reached_at_that_cost():
    S = sc.Setting
    seed = [S(50.0, 100.0), S(60.0, 1000.0)]
    assert sc.envelope_mean(seed, 100.0, 1000.0) == 50.0
    # cheaper everywhere with the same accuracy: wins over the whole span
    assert sc.envelope_mean([S(50.0, 10.0), S(60.0, 100.0)], 100.0, 1000.0) == 60.0
    # stops early: keeps 55 to the top of the span, where the seed reaches 60 only at its end point
    assert sc.envelope_mean([S(55.0, 100.0)], 100.0, 1000.0) == 55.0
    # starts later than the span: 0 below its cheapest setting
    assert sc.envelope_mean([S(70.0, np.sqrt(1e5))], 100.0, 1000.0) == pytest.approx(35.0)


def test_evolve_children_mostly_check_and_differ():
    ev = Evolve()
    texts = [ev.propose(np.random.default_rng([0, i]), (-1, CMC), (-1, CMC)) for i in range(60)]
    valid = [front_end(p.text) for p in texts]
    assert sum(v.valid for v in valid) >= 45
    keys = {key_of(v.checked.program) for v in valid if v.valid}
    assert len(keys) >= 40 and key_of(parse(CMC)) not in keys or len(keys) >= 40


def test_best_must_win_most_stores_and_lose_no_budget_quarter():
    good = {"wins": 3, "segments": [0.1, 1.0, 0.2, -0.2]}
    assert loop.eligible(good, 4)
    assert not loop.eligible({**good, "wins": 2}, 4)
    assert not loop.eligible({**good, "segments": [0.4, 2.3, 0.5, -0.9]}, 4)  # cheaper but gives up the top


def test_valid_filters_and_stop_rules_make_checked_candidates():
    ev = Evolve()
    for op in ("filter_valid", "insert_stop_rule"):
        texts = set()
        for i in range(12):
            child, what = getattr(ev, op)(np.random.default_rng(i), parse(CMC))
            text = front_end(canonical(child))
            assert text.valid, (what, text.diagnostics)
            assert what.startswith(op) and "(none" not in what
            texts.add(canonical(child))
        assert len(texts) > 3  # the places and rules vary
    child, what = ev.filter_valid(np.random.default_rng(0), parse(CMC))
    assert "where valid(last)" in canonical(child) and "where valid(last)" not in CMC


def test_action_swaps_and_weighted_votes_make_checked_candidates():
    """The language-2 constructs the evolve proposer can write: `accept` for `prune`, weighted votes."""
    ev = Evolve()
    seen = {"swap_action": set(), "weight_vote": set()}
    for op in seen:
        parent = parse(CMC)
        for i in range(16):
            child, what = getattr(ev, op)(np.random.default_rng(i), parent)
            fe = front_end(canonical(child))
            assert fe.valid and what.startswith(op) and "(none" not in what, (what, fe.diagnostics)
            seen[op].add(canonical(child))
            parent = child if op == "weight_vote" and i % 2 == 0 else parse(CMC)  # and back again
    assert any("accept active where disagree >= abandon_patience" in t for t in seen["swap_action"])
    weighted = [t for t in seen["weight_vote"] if "weighted(" in t]
    assert len(weighted) >= 3 and any("min_of(completed, depth)" in t for t in weighted)
    # a weighted vote goes back to the plain majority
    only = "strategy w\nparam beta: float = 0.5 in 0.0..1.0\nopen 4\nstop weighted(completed, 1.0 / depth)\n"
    back, what = ev.weight_vote(np.random.default_rng(0), parse(only))
    assert what.endswith("weighted -> majority") and "stop majority(completed)" in canonical(back)


def test_the_revote_operator_writes_cmc_revote_from_cmc():
    """`revote` turns a plain vote into cmc_revote's re-vote. Applied to CMC's `winner` with lam 1 it is
    cmc_revote itself: the same numbers on every seed. Applied twice, the names do not collide."""
    ev = Evolve()
    revote = Path(str(resolve_strategy("cmc_revote"))).read_text(encoding="utf-8")
    store = load_store(STORE)
    found = 0
    for i in range(24):
        child, what = ev.revote(np.random.default_rng(i), parse(CMC))
        fe = front_end(canonical(child))
        assert fe.valid and what.startswith("revote"), (what, fe.diagnostics)
        if what == "revote in `winner`: majority(completed) -> re-vote, lam 1.0":
            found += 1
            for beta in (0.0, 0.5, 1.0):
                a = run(fe.checked, bind_params(fe.checked, {"beta": beta}), store, range(SEEDS), "compiled")
                ref = front_end(revote).checked
                b = run(ref, bind_params(ref, {"beta": beta}), store, range(SEEDS), "compiled")
                assert (a.correct == b.correct).all() and (a.tokens == b.tokens).all()
        twice, _ = ev.revote(np.random.default_rng(i + 100), child)
        assert front_end(canonical(twice)).valid
    assert found >= 1
    none, what = ev.revote(np.random.default_rng(0), parse("strategy w\nparam beta: float = 0.5\nread 2\nstop none\n"))
    assert what == "revote (none)"


def test_records_say_which_candidates_needed_a_new_kernel(tmp_path):
    structural = CMC.replace("sorted by depth desc", "sorted by index desc")
    texts = iter([CMC.replace("0.85 + 0.12", "0.86 + 0.12"),        # CMC's shape: no new kernel
                  structural,                                        # a new shape
                  structural.replace("0.85 + 0.12", "0.8 + 0.12")])  # that shape again
    state = loop.search(cfg(), tmp_path, lambda rng, st, c: (next(texts), (-1,), "scripted"), budget_candidates=3)
    assert [r["new_shape"] for r in state.records] == [False, True, False]
    assert state.records[1]["shape"] == state.records[2]["shape"] != state.records[0]["shape"]


def test_a_generation_holds_several_candidates_per_worker():
    assert cfg().generation_size == 1
    assert cfg(workers=2).generation_size == 2 * loop.GENERATION_PER_WORKER
    assert loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", workers=2, generation=3).generation_size == 3


def test_gamma_score_is_the_best_utility_against_the_seeds():
    S = sc.Setting
    seed = [S(50.0, 100_000.0), S(60.0, 1_000_000.0)]
    cand = [S(55.0, 200_000.0), S(58.0, 400_000.0)]
    # γ = 0.01 points per 1k tokens: seed 49 vs 50 → 50; candidate 53 vs 54 → 54
    assert sc.utility(seed, 0.01) == 50.0 and sc.utility(cand, 0.01) == 54.0
    assert sc.gain_of(cand, seed, "gamma", 0.01) == 4.0
    assert sc.gain_of(cand, seed, "gamma", 0.0) == -2.0  # free tokens: the seed's 60 wins
    s = sc.score({"m": cand}, {"m": seed}, 10, 10, "gamma", 0.01)
    assert s.gain == s.per_store["m"] == 4.0 and s.wins == 1 and s.folds is None


def test_fold_scores_use_disjoint_questions_and_combine_as_documented(tmp_path):
    store = load_store(STORE)
    n = len(store.questions)
    folds = sc.fold_of(n, 3)
    joined = np.sort(np.concatenate(folds))
    assert np.array_equal(joined, np.arange(n)) and sum(map(len, folds)) == n  # disjoint, covering
    shape = lift(parse(CMC))
    fold = {"k": 3, "settings": {}}
    whole = sc.evaluate(shape, [store], range(SEEDS), GRID, fold)
    checked = front_end(CMC).checked
    for i, beta in enumerate(GRID):  # each fold's setting is exactly the outcome on that fold's questions
        o = run(checked, {**bind_params(checked), "beta": beta}, store, range(SEEDS), "compiled")
        assert whole[store.name][i] == sc.Setting(o.accuracy, o.avg_tokens)
        for f, qs in enumerate(folds):
            got = fold["settings"][f"{store.name}#{f}"][i]
            assert got.accuracy == float(np.mean([np.mean(r) for r in o.correct[:, qs]])) * 100
            assert got.avg_tokens == float(np.mean([np.mean(r) for r in o.tokens[:, qs]]))
    # combined: each fold's gain is the gain of the store-averaged fold frontier against the seed's
    state = loop.search(loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seeds=SEEDS, grid=GRID,
                                    folds=3), tmp_path / "o", loop.evolve_proposer(ConstantsOnly()),
                        budget_candidates=3)
    seed_folds = sc.settings_from_json(json.loads((tmp_path / "o" / "seed_fold_settings.json").read_text()))
    scored = [r for r in state.records if r["status"] == "scored"]
    assert scored and json.loads((tmp_path / "o" / "run.json").read_text())["folds"] == 3
    for r in scored:
        cand = sc.settings_from_json(r["fold_settings"])
        want = [sc.gain_of(c, s) for c, s in zip(sc.fold_frontiers(cand, 3), sc.fold_frontiers(seed_folds, 3))]
        assert r["score"]["folds"] == want
    good = {"wins": 1, "segments": [0.0] * 4}
    assert loop.eligible({**good, "folds": [0.1, 0.2, 0.3, -0.1]}, 1)  # 3 of 4 folds
    assert not loop.eligible({**good, "folds": [0.1, 0.2, -0.3, -0.1]}, 1)


def test_a_candidate_that_breaks_a_limit_at_some_beta_is_refused_not_a_crash(tmp_path):
    """Constants are lifted into parameters, so a limit that depends on one (a window's capacity) is checked
    when the candidate runs: a capacity of 0 at β = 0 refuses the candidate and the search goes on."""
    bad = CMC.replace("let T_ema = max(2, round(2 + 6 * b))", "let T_ema = max(0, round(0 + 6 * b))")
    assert bad != CMC and front_end(bad).valid
    texts = iter([bad, CMC.replace("abandon_patience = max(3,", "abandon_patience = max(4,")])
    state = loop.search(cfg(), tmp_path, lambda rng, st, c: (next(texts), [], "scripted"), budget_candidates=2)
    refused, fine = state.records
    assert refused["status"] == "invalid" and refused["diagnostics"][0]["code"] == "X0002"
    assert "window `hist` holds 0 values" in refused["diagnostics"][0]["message"]
    assert fine["status"] == "scored"


def test_a_held_out_report_per_finished_leg_keeps_the_earlier_ones(tmp_path):
    """A search continued with --resume ends every leg with a held-out report: the earlier ones are kept
    under numbered names and each heading says which evaluation it is."""
    out = tmp_path / "o"
    loop.search(cfg(), out, loop.evolve_proposer(ConstantsOnly()), budget_candidates=1)
    first = report.holdout_report(cfg(), CMC, [STORE], out, seeds=SEEDS, baselines=())
    assert first["evaluation"] == 1 and "evaluated once per finished leg; this is evaluation 1)" in \
        (out / "holdout.md").read_text()
    first_md = (out / "holdout.md").read_text()
    second = report.holdout_report(cfg(), CMC, [STORE], out, seeds=SEEDS, baselines=())
    assert second["evaluation"] == 2 and json.loads((out / "holdout.json").read_text())["evaluation"] == 2
    assert (out / "holdout.1.md").read_text() == first_md
    assert json.loads((out / "holdout.1.json").read_text()) == first
    assert (out / "holdout_frontier.1.png").exists() and (out / "holdout_frontier.png").exists()
    assert "this is evaluation 2; the earlier one is holdout.1.md)" in (out / "holdout.md").read_text()
    # a third leg (here only the rotation and the heading)
    assert report.keep_earlier_holdout(out) == 3
    assert (out / "holdout.2.md").exists() and not (out / "holdout.md").exists()
    assert (out / "holdout.1.md").read_text() == first_md
    assert report.evaluation_note(3).endswith("the earlier ones are holdout.1.md and holdout.2.md")


def test_a_program_reading_a_missing_signal_is_refused_under_its_own_name(tmp_path):
    """Scores run the lifted shape program; a missing signal is still reported with the name written."""
    from ttsc.errors import TtscError
    reads = "strategy confident\nparam beta: float = 0.5\nopen 2\nstop weighted(live, last_conf)\n"
    texts = iter([reads.replace("confident", "candy"), CMC.replace("abandon_patience = max(3,",
                                                                  "abandon_patience = max(4,")])
    state = loop.search(cfg(), tmp_path / "c", lambda rng, st, c: (next(texts), [], "scripted"),
                        budget_candidates=2)
    refused, fine = state.records
    assert refused["status"] == "invalid" and refused["diagnostics"][0]["code"] == "X0002"
    assert refused["diagnostics"][0]["message"].startswith("`candy` reads `last_conf`, the `confidence` signal")
    assert fine["status"] == "scored"
    seeded = loop.Config(search=(STORE,), seed_text=reads, seed_name="confident", seeds=SEEDS, grid=GRID, workers=1)
    with pytest.raises(TtscError, match=r"^the seed strategy confident cannot be explored on the search stores: "
                                        r"`confident` reads `last_conf`") as info:
        loop.search(seeded, tmp_path / "s", loop.evolve_proposer(ConstantsOnly()), budget_candidates=1)
    assert "`shape`" not in str(info.value)


def test_help_and_readme_say_how_budgets_and_store_options_work():
    from click.testing import CliRunner

    from ttsc.cli.main import cli
    text = " ".join(CliRunner().invoke(cli, ["explore", "--help"], terminal_width=200).output.split())
    assert "in all (with --resume: the earlier legs' count too)" in text
    assert "seconds of this leg (with --resume: the earlier legs' time is not counted)" in text
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `ttsc explore "))
    # one store per option (click takes one value per occurrence), repeated or a quoted glob
    assert "--search STORE..." not in row and "--holdout STORE..." not in row
    assert "--search STORE [--search STORE]..." in row and "quoted glob" in row
    resume = " ".join(readme.split("**Record and resume.**")[1].split("**")[0].split())
    assert "`--budget-candidates N` counts the whole record" in resume
    assert "`--budget-seconds S` counts only the current leg" in resume


def test_worker_processes_are_replaced_and_the_record_is_the_same(tmp_path, monkeypatch):
    """numba never frees a kernel, so workers are replaced every RECYCLE_EVALS evaluations; that changes
    which process evaluates what, not a recorded number."""
    made = []
    local_pool = loop._local_pool

    def counting(c):
        pool = local_pool(c)
        made.append(pool)
        return pool
    monkeypatch.setattr(loop, "_local_pool", counting)
    kept = loop.search(cfg(workers=2), tmp_path / "kept", loop.evolve_proposer(ConstantsOnly()), budget_candidates=16)
    assert len(made) == 1
    monkeypatch.setattr(loop, "RECYCLE_EVALS", 2)
    renewed = loop.search(cfg(workers=2), tmp_path / "renewed", loop.evolve_proposer(ConstantsOnly()),
                          budget_candidates=16)
    scored = sum(r["status"] == "scored" for r in renewed.records)
    assert scored >= 8 and len(made) - 1 >= 2  # a new pool after each generation of at least 4 evaluations
    assert strip_times(renewed.records) == strip_times(kept.records)
    assert all(pool._processes is None for pool in made)  # each replaced pool's processes were stopped


def test_a_seed_with_parameters_besides_the_knob_runs_them_at_their_defaults(tmp_path):
    """cmc_revote declares `lam` beside `beta`: its seed settings and its candidates' scores are those of
    `ttsc eval` with `lam` at its default, and a child that changes nothing scores 0."""
    text = Path(str(resolve_strategy("cmc_revote"))).read_text(encoding="utf-8")
    c = loop.Config(search=(STORE,), seed_text=text, seed_name="cmc_revote", seeds=SEEDS, grid=GRID, workers=1)
    state = loop.search(c, tmp_path / "o", loop.evolve_proposer(ConstantsOnly()), budget_candidates=3)
    assert [r["status"] for r in state.records].count("scored") >= 1
    checked = front_end(text).checked
    store = load_store(STORE)
    (settings,) = sc.settings_from_json(json.loads((tmp_path / "o" / "seed_settings.json").read_text())).values()
    assert len(settings) == len(GRID)
    for beta, setting in zip(GRID, settings):
        o = run(checked, bind_params(checked, {"beta": beta}), store, range(SEEDS), "compiled")
        assert (o.accuracy, o.avg_tokens) == (setting.accuracy, setting.avg_tokens)


def test_baseline_adds_a_matched_comparison_to_the_held_out_report(tmp_path):
    from click.testing import CliRunner

    from ttsc.cli.main import cli
    out = tmp_path / "o"
    loop.search(cfg(), out, loop.evolve_proposer(ConstantsOnly()), budget_candidates=1)
    revote = Path(str(resolve_strategy("cmc_revote"))).read_text(encoding="utf-8")
    rep = report.holdout_report(cfg(), CMC, [STORE], out, seeds=SEEDS, baselines=(),
                                against=(("cmc_revote", revote),))
    rows = rep["against"]["cmc_revote"]["best"]
    checked = front_end(revote).checked
    store = load_store(STORE)
    for r in rows:  # each matched setting is the baseline's own number at that β
        o = run(checked, bind_params(checked, {"beta": r["seed_beta"]}), store, range(SEEDS), "compiled")
        assert (o.accuracy, o.avg_tokens) == (r["seed_accuracy"], r["seed_avg_tokens"])
    md = (out / "holdout.md").read_text()
    assert "Against cmc_revote (`--baseline`)" in md and "| cmc_revote β=1 |" in md
    assert "†" not in md  # every setting found a richer one to match
    # a reference that never spends as much: its rows say so, and are not starred as wins
    cheap = "strategy cheap\nparam beta: float = 0.5 in 0.0..1.0\nread 1\nstop majority(completed)\n"
    rep = report.holdout_report(cfg(), CMC, [STORE], out, seeds=SEEDS, baselines=(), against=(("cheap", cheap),))
    flagged = [r for r in rep["against"]["cheap"]["best"] if r["reference_spends_less"]]
    assert flagged
    md = (out / "holdout.md").read_text()
    assert "`†`: no setting of the reference spends this many tokens" in md
    section = md.split("Against cheap (`--baseline`)")[1].split("`*`")[0]
    assert sum(line.endswith("] † |") for line in section.splitlines()) == len(flagged)
    # the CLI checks a baseline before searching: a strategy without the knob is refused at once
    bad = tmp_path / "bad.tts"
    bad.write_text("strategy bad\nread 2\nstop majority(completed)\n")
    r = CliRunner().invoke(cli, ["explore", "--search", STORE, "--out", str(tmp_path / "p"), "--baseline", str(bad),
                                 "--budget-candidates", "1"])
    assert r.exit_code != 0 and "--baseline" in r.output and "beta" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "p").exists()


def test_size_penalty_sets_the_fitness_and_is_part_of_the_recorded_settings(tmp_path):
    from dataclasses import replace

    from click.testing import CliRunner

    from ttsc.cli.explore_cmd import command
    from ttsc.errors import TtscError
    settings = {"s": [sc.Setting(50.0, 1000.0), sc.Setting(60.0, 2000.0)]}
    better = {"s": [sc.Setting(51.0, 1000.0), sc.Setting(61.0, 2000.0)]}
    assert sc.score(better, settings, 110, 100).fitness == pytest.approx(1.0 - 10 * sc.SIZE_PENALTY)
    assert sc.score(better, settings, 110, 100, size_penalty=0.0).fitness == sc.score(better, settings, 110, 100).gain
    default = next(p for p in command.params if p.name == "size_penalty").default
    assert default == sc.SIZE_PENALTY == loop.Config(search=(), seed_text="", seed_name="").size_penalty
    # a search with another penalty records it; resuming with the default is refused as other settings
    c = replace(cfg(), size_penalty=0.002)
    state = loop.search(c, tmp_path, loop.evolve_proposer(ConstantsOnly()), budget_candidates=2)
    assert json.loads((tmp_path / "run.json").read_text())["size_penalty"] == 0.002
    for r in state.records:
        if r.get("score"):  # the penalty is 0.002 per node beyond the seed's
            extra = (r["score"]["gain"] - r["score"]["fitness"]) / 0.002
            assert extra >= 0 and extra == pytest.approx(round(extra))
    with pytest.raises(TtscError, match=r"other settings \(size_penalty: recorded 0\.002, now 0\.01;"):
        loop.search(cfg(), tmp_path, loop.evolve_proposer(ConstantsOnly()), resume=True, budget_candidates=3)
    from ttsc.cli.main import cli
    r = CliRunner().invoke(cli, ["explore", "--search", STORE, "--out", str(tmp_path / "n"), "--budget-candidates", "1",
                                 "--size-penalty", "nan"])
    assert r.exit_code != 0 and "--size-penalty" in r.output and "Traceback" not in r.output
